"""A server answering random replies, against ``probe`` (with AUTH) and ``send``, as library calls:
each must end with a verdict (a report, a ``Delivery`` with findings), never an exception."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rich.console import Console

from smtp_doctor import probe_async
from smtp_doctor.credentials import AuthPolicy, Credentials
from smtp_doctor.diagnose.auth import delivery_findings
from smtp_doctor.facts import Mode
from smtp_doctor.probe import ProbeOptions
from smtp_doctor.probe.send import build_message, send_test
from smtp_doctor.render.json import host_json
from smtp_doctor.render.text import render_host

from .budget import NETWORK, NETWORK_EXAMPLES, count

OPTS = ProbeOptions(timeout=3, connect_timeout=1, greeting_timeout=1, command_timeout=0.5, tls_timeout=0.5)
CREDS = Credentials("fuzz", "fuzz-Secret-1")
CLOSE, RESET = b"<close>", b"<reset>"

_VALID = [b"220 fuzz.lab ESMTP\r\n", b"250-fuzz.lab\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 SIZE \xc2\xb2\r\n",
          b"250 ok\r\n", b"235 ok\r\n", b"334 VXNlcm5hbWU6\r\n", b"354 go\r\n", b"535 no\r\n", b"550 no\r\n",
          b"421 bye\r\n", b"250-a\r\n550 b\r\n", b"220 go ahead\r\n", b"\x00\r\n", b"334 " + b"A" * 5000 + b"\r\n"]
ANSWER = st.one_of(st.sampled_from(_VALID + [CLOSE, RESET]), st.binary(max_size=300),
                   st.lists(st.sampled_from(_VALID), max_size=4).map(b"".join))


class RandomServer:
    """Answers the greeting and then each line it receives with the next scripted answer; closes after
    the last one (so that no example waits for a timeout it did not ask for)."""

    def __init__(self) -> None:
        self.script: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answers = iter(list(self.script))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                for answer in answers:
                    if answer == CLOSE:
                        break
                    if answer == RESET:
                        writer.transport.abort()
                        return
                    writer.write(answer)
                    await writer.drain()
                    async with asyncio.timeout(0.3):
                        if not await reader.readline():
                            break
        writer.close()


@pytest.fixture(scope="module")
def server() -> Iterator[RandomServer]:
    srv = RandomServer()
    loop = asyncio.new_event_loop()
    listener = loop.run_until_complete(asyncio.start_server(srv.handle, "127.0.0.1", 0, limit=1 << 16))
    srv.port = int(listener.sockets[0].getsockname()[1])
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield srv
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    listener.close()
    loop.close()


def _console() -> Console:
    return Console(file=io.StringIO(), width=100)


@NETWORK
@given(script=st.lists(ANSWER, max_size=12))
@example(script=[_VALID[0], b"250-x\r\n250 SIZE \xc2\xb2\r\n"])  # once exit 70 in probe, send and check
@example(script=[_VALID[0], _VALID[1], b"250 ok\r\n", CLOSE])  # a close at RCPT: once exit 70 in send
def test_probe_with_auth_against_random_replies(server: RandomServer, script: list[bytes]) -> None:
    count("server:probe")
    server.script = script
    report = asyncio.run(probe_async("127.0.0.1", [server.port], OPTS, CREDS, AuthPolicy(allow_cleartext=True)))
    [port] = report.ports
    assert port.findings, port.facts
    render_host(_console(), report, transcript=True, details=True)
    json.dumps(host_json(report, transcript=True))


@NETWORK
@given(script=st.lists(ANSWER, max_size=12), login=st.booleans())
@example(script=[_VALID[0], _VALID[1], b"250 ok\r\n", b"250 ok\r\n", CLOSE], login=False)
@example(script=[_VALID[0], _VALID[1], b"334 x\r\n"] * 4, login=True)
def test_send_against_random_replies(server: RandomServer, script: list[bytes], login: bool) -> None:
    count("server:send")
    server.script = script
    msg = build_message("a@b.example", ["c@d.example"], "fuzz", "x", "0")
    delivery = asyncio.run(send_test("127.0.0.1", "127.0.0.1", server.port, Mode.PLAINTEXT, OPTS, msg,
                                     "a@b.example", ["c@d.example"], creds=CREDS if login else None,
                                     mechanism="LOGIN" if login else None))
    findings = delivery_findings(delivery, "fuzz")
    assert findings and all(f.verdict("en") and f.verdict("ja") for f in findings)
    assert delivery.queued or delivery.failed_phase is not None


def test_send_cli_against_random_replies_never_exits_70(server: RandomServer) -> None:
    """The command itself (argument parsing, probe, AUTH, delivery, rendering) on seeded random scripts."""
    import os
    import random
    import subprocess
    import sys

    rng = random.Random(17)
    env = {**os.environ, "FUZZ_PW": "fuzz-Secret-1"}
    for i in range(max(4, NETWORK_EXAMPLES // 5)):
        count("server:send-cli")
        server.script = [_VALID[0], _VALID[1]] + [rng.choice(_VALID + [CLOSE, RESET, rng.randbytes(40)])
                                                  for _ in range(rng.randrange(12))]
        login = ["--user", "fuzz", "--password-env", "FUZZ_PW", "--allow-cleartext-credentials"] if i % 2 else []
        r = subprocess.run([sys.executable, "-m", "smtp_doctor", "send", f"127.0.0.1:{server.port}", "--from",
                            "a@b.example", "--to", "c@d.example", "--timeout", "3", *login],
                           capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode in (0, 1, 3), (server.script, r.returncode, r.stderr)
        assert "internal error" not in r.stderr and "fuzz-Secret-1" not in r.stdout + r.stderr
