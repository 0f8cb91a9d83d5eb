"""The attacker lab: servers that do to a mail *client* what an attacker on the path would do.

Each scenario is one EAST-style case (security-dns-fleet-anchors.md §A1): STARTTLS stripped from the
EHLO reply, STARTTLS answered 454 or 502, fake replies injected after ``220 Ready``, a certificate for
another name, a self-signed certificate, plus an honest control. Every connection is recorded on the
server side: the raw plaintext bytes (the capture), whether a TLS handshake completed, and which
commands came in clear or inside TLS. The recorded capture keeps the raw bytes for the tests to
check against; the summary (``Capture.to_dict``) keeps only command verbs, never an argument, so
no report can ever carry a credential. AUTH is always answered 535 and DATA never reached: no mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import SupportsIndex

from .certs import LabPKI
from .thread import run_in_thread

SCENARIOS = ("honest", "strip", "starttls-454", "starttls-502", "inject-220", "wrong-name", "self-signed")
#: Bounds: bytes kept per connection, command lines read, connections kept per scenario, lifetime.
KEEP = 65536
MAX_LINES = 100
MAX_CAPTURES = 200
MAX_LIFETIME = 30.0

#: Honest capabilities: AUTH PLAIN only inside TLS. The injected ones offer LOGIN only, so a client
#: that logs in with LOGIN after the handshake has read the injected lines as its EHLO reply.
_EHLO_PLAIN = b"250-attack.lab\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
_EHLO_STRIPPED = b"250-attack.lab\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n"
_EHLO_TLS = b"250-attack.lab\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n"
INJECTED = b"250-attack.lab\r\n250 AUTH LOGIN\r\n"


@dataclass
class Capture:
    """One client connection as the lab server saw it."""

    scenario: str
    port: int
    plaintext: bytearray = field(default_factory=bytearray)  #: raw bytes before TLS (capture; tests only)
    handshake: bool = False
    commands_plain: list[str] = field(default_factory=list)  #: verbs (AUTH with its mechanism), no arguments
    commands_tls: list[str] = field(default_factory=list)
    tls_error: str = ""

    @property
    def auth_in_clear(self) -> bool:
        return any(c.startswith("AUTH") for c in self.commands_plain)

    @property
    def auth_in_tls(self) -> str | None:
        """The mechanism of the first AUTH inside TLS, if any."""
        return next((c.partition(" ")[2] or "?" for c in self.commands_tls if c.startswith("AUTH")), None)

    def verdict(self) -> str:
        """Catalogue key suffix (audit.client.verdict.*): what the client did wrong, if anything."""
        if self.auth_in_clear:
            return "auth_in_clear"
        mech = self.auth_in_tls
        if mech is not None and self.scenario in ("wrong-name", "self-signed"):
            return "auth_to_impostor"
        if self.scenario == "inject-220" and (mech == "LOGIN" or (mech is None and "EHLO" in self.commands_tls)):
            # LOGIN was offered only by the injected lines; or it asked EHLO inside TLS and then, although
            # the real answer offered AUTH PLAIN (it logs in on the honest server), never logged in:
            # it took the injected lines for the answer.
            return "used_injected"
        if mech is not None:
            return "auth_in_tls"
        return "refused" if self.scenario != "honest" else "no_auth"

    def to_dict(self) -> dict[str, object]:
        return {"scenario": self.scenario, "port": self.port, "handshake": self.handshake,
                "commands_plain": list(self.commands_plain), "commands_tls": list(self.commands_tls),
                "auth_in_clear": self.auth_in_clear, "auth_in_tls": self.auth_in_tls,
                "tls_error": self.tls_error or None, "verdict": self.verdict()}


#: Verbs recorded by name; any other line (a stray base64 credential, say) is recorded as "(other)".
KNOWN_VERBS = frozenset({"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY",
                         "EXPN", "HELP", "BDAT"})
MECHANISMS = frozenset({"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-1", "SCRAM-SHA-256",
                        "DIGEST-MD5", "NTLM", "GSSAPI", "ANONYMOUS", "EXTERNAL"})


def _verb(line: bytes) -> str:
    """The command word (and AUTH's mechanism): never an argument, which may be a credential."""
    words = line.strip().split(b" ")
    verb = words[0].split(b":", 1)[0].upper().decode("ascii", "replace")
    if verb not in KNOWN_VERBS:
        return "(other)"
    if verb == "AUTH" and len(words) > 1:
        mech = words[1].upper().decode("ascii", "replace")
        return f"AUTH {mech if mech in MECHANISMS else '(other)'}"
    return verb


class _Recorder(asyncio.StreamReader):
    """A StreamReader that also keeps every raw byte fed to it before TLS (the server-side capture)."""

    def __init__(self, capture: Capture) -> None:
        super().__init__(limit=KEEP)
        self.capture = capture
        self.recording = True

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        raw = bytes(data)
        if self.recording and len(self.capture.plaintext) < KEEP:
            self.capture.plaintext += raw[: KEEP - len(self.capture.plaintext)]
        super().feed_data(raw)


def _prompts(verb: str, initial: bool) -> tuple[bytes, ...]:
    """The 334 challenges after which a PLAIN or LOGIN client sends its credentials (RFC 4954 §4)."""
    if verb == "AUTH PLAIN":
        return () if initial else (b"334 \r\n",)
    if verb == "AUTH LOGIN":
        return (b"334 UGFzc3dvcmQ6\r\n",) if initial else (b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n")
    return ()


async def _dialogue(scenario: str, reader: _Recorder, writer: asyncio.StreamWriter, ctx: ssl.SSLContext) -> None:
    cap = reader.capture
    writer.write(b"220 attack.lab ESMTP\r\n")
    tls = False
    for _ in range(MAX_LINES):
        await writer.drain()
        line = await reader.readline()
        if not line:
            return
        verb = _verb(line)
        (cap.commands_tls if tls else cap.commands_plain).append(verb)
        if verb in ("EHLO", "HELO"):
            writer.write(_EHLO_TLS if tls else _EHLO_STRIPPED if scenario == "strip" else _EHLO_PLAIN)
        elif verb == "STARTTLS" and not tls:
            if scenario in ("strip", "starttls-454", "starttls-502"):  # a stripper also refuses it when tried
                writer.write(b"454 4.7.0 TLS not available due to temporary reason\r\n" if scenario.endswith("454")
                             else b"502 5.5.1 Command not implemented\r\n")
                continue
            writer.write(b"220 2.0.0 Ready to start TLS\r\n" + (INJECTED if scenario == "inject-220" else b""))
            await writer.drain()
            reader.recording = False
            getattr(reader, "_buffer").clear()  # noqa: B009 - the lab itself is not injectable
            try:
                await writer.start_tls(ctx)
            except (ssl.SSLError, OSError, ConnectionError) as exc:
                cap.tls_error = type(exc).__name__ + (f": {exc.reason}" if isinstance(exc, ssl.SSLError) else "")
                return
            cap.handshake, tls = True, True
        elif verb.startswith("AUTH"):
            for prompt in _prompts(verb, len(line.split()) > 2):  # as a real server would: the secret then follows
                writer.write(prompt)
                await writer.drain()
                if not await reader.readline():
                    return
            writer.write(b"535 5.7.8 Authentication failed (attacker lab: nothing is accepted)\r\n")
        elif verb == "QUIT":
            writer.write(b"221 2.0.0 Bye\r\n")
            await writer.drain()
            return
        elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
            writer.write(b"250 2.0.0 Ok\r\n")
        else:  # DATA included: the attacker lab takes no mail
            writer.write(b"554 5.7.1 attacker lab: no mail\r\n")


@dataclass
class AttackLabInfo:
    host: str
    ca_file: Path
    ports: dict[str, int] = field(default_factory=dict)
    captures: list[Capture] = field(default_factory=list)

    def for_port(self, scenario: str) -> list[Capture]:
        return [c for c in self.captures if c.scenario == scenario]


class AttackLab:
    """``async with AttackLab(dir) as info``: one listener per scenario on 127.0.0.1, port 0."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self.directory, self.host = directory, host
        self._servers: list[asyncio.Server] = []

    async def __aenter__(self) -> AttackLabInfo:
        pki = LabPKI(self.directory)
        info = AttackLabInfo(self.host, pki.ca_file)
        loop = asyncio.get_running_loop()
        for scenario in SCENARIOS:
            ctx = pki.server_context({"wrong-name": "wrong-name", "self-signed": "self-signed"}.get(scenario, "good"))

            def factory(s: str = scenario, c: ssl.SSLContext = ctx) -> asyncio.StreamReaderProtocol:
                cap = Capture(s, info.ports.get(s, 0))
                if len(info.captures) < MAX_CAPTURES * len(SCENARIOS):
                    info.captures.append(cap)
                reader = _Recorder(cap)

                async def run(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                    try:
                        async with asyncio.timeout(MAX_LIFETIME):
                            await _dialogue(s, reader, w, c)
                    except (OSError, TimeoutError, ssl.SSLError, ValueError, asyncio.IncompleteReadError,
                            asyncio.LimitOverrunError, asyncio.CancelledError):
                        pass
                    finally:
                        with contextlib.suppress(Exception):
                            w.close()

                return asyncio.StreamReaderProtocol(reader, run)

            server = await loop.create_server(factory, self.host, 0)
            self._servers.append(server)
            info.ports[scenario] = int(server.sockets[0].getsockname()[1])
        return info

    async def __aexit__(self, *exc: object) -> None:
        for srv in self._servers:
            srv.close()
        self._servers.clear()


@contextlib.contextmanager
def attack_lab_in_thread(directory: Path, host: str = "127.0.0.1") -> Iterator[AttackLabInfo]:
    """The attacker lab on its own loop in a daemon thread, for tests that run real clients."""
    with run_in_thread(AttackLab(directory, host), "smtp-doctor-attack-lab") as info:
        yield info


UNSAFE = ("auth_in_clear", "auth_to_impostor", "used_injected")


@dataclass
class AttackReport:
    """What every client connection to the attacker lab did (``--client``'s typed result)."""

    ports: dict[str, int]
    ca_file: Path
    captures: list[Capture]

    @property
    def unsafe(self) -> bool:
        return any(c.verdict() in UNSAFE for c in self.captures)

    def to_dict(self) -> dict[str, object]:
        return {"ports": dict(self.ports), "ca_file": str(self.ca_file), "unsafe": self.unsafe,
                "connections": [c.to_dict() for c in self.captures]}


async def serve(directory: Path, seconds: float, ready: Callable[[AttackLabInfo], None]) -> AttackReport:
    """Run the attacker lab for ``seconds`` (or until cancelled, e.g. Ctrl-C) and report what came in."""
    async with AttackLab(directory) as info:
        ready(info)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(seconds)
        return AttackReport(dict(info.ports), info.ca_file, list(info.captures))
