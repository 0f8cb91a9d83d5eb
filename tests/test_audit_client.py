"""The attacker lab against real client stacks, checked against a packet capture of the lab's ports.

Eight real clients (Python smtplib, curl, swaks, msmtp, Node nodemailer, Ruby net/smtp, Rails
ActionMailer, PHP streams), driven as tests/realpeers/capture.py drives them and told to require
STARTTLS and to trust the lab CA, and six of them again in their opportunistic configuration (the
library default, or its documented switch), connect to every attacker scenario. The lab's report (what its
server saw, parsed as SMTP) must match what tcpdump captured on the loopback interface, read here
independently from the pcap: the canary password's wire form in clear exactly when the report says
"AUTH in clear"; enough encrypted records for a finished handshake plus EHLO plus AUTH exactly when the
report says the client logged in to an impostor. The password is a canary made for this test.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from realpeers.capture import CLIENTS, NSS_WRAPPER, Client, Job
from smtp_doctor.lab.attack import SCENARIOS, UNSAFE, AttackLabInfo, Capture, attack_lab_in_thread

pytestmark = pytest.mark.realpeers

USER = "attack-user"
CANARY = "canary-Pw-3e9d1f"  #: not a credential anywhere: made up for this test
KILL_AFTER = 10.0


def wire_forms() -> set[bytes]:
    """How the canary travels in AUTH PLAIN / LOGIN (base64 of the SASL message or of the password)."""
    return {base64.b64encode(f"\0{USER}\0{CANARY}".encode()), base64.b64encode(f"{USER}\0{USER}\0{CANARY}".encode()),
            base64.b64encode(CANARY.encode()), CANARY.encode()}


# --- the packet capture --------------------------------------------------------------------------------

class Pcap:
    """tcpdump on lo, written to a file, read back with a minimal pcap/Ethernet/IPv4/TCP parser."""

    def __init__(self, path: Path, ports: list[int]) -> None:
        self.path = path
        expr = " or ".join(f"tcp port {p}" for p in ports)
        # -B: a 64 MiB kernel buffer. Loopback frames are up to 64 KiB, so the default 2 MiB ring holds only a
        # few dozen; on a loaded machine with six clients at once tcpdump then drops frames and a cell's TLS
        # records vanish from the capture although the lab saw them.
        self.proc = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-B", "65536", "-s", "0", "-w", str(path), expr],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10  # tcpdump says "listening on lo" once the capture runs
        assert self.proc.stderr is not None
        while b"listening" not in self.proc.stderr.readline():
            assert time.monotonic() < deadline and self.proc.poll() is None, "tcpdump did not start"

    def stop(self, expected: set[int]) -> dict[int, bytes]:
        """Stop once every port the lab saw a connection on is in the file and the file has stopped growing.

        tcpdump reads the kernel's ring on its own schedule: on a loaded machine a fixed pause before SIGINT
        left the last cells' frames unread (not "dropped", so the count above did not show it)."""
        deadline, size, still = time.monotonic() + 30, -1, 0
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.path.stat().st_size
            still = still + 1 if now == size else 0
            size = now
            if still >= 2 and expected <= client_streams(self.path.read_bytes()).keys():
                break
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=10)
        dropped = re.search(rb"(\d+) packets? dropped by kernel", err)
        self.dropped = int(dropped.group(1)) if dropped else 0
        return client_streams(self.path.read_bytes())


def client_streams(pcap: bytes) -> dict[int, bytes]:
    """Client-to-server TCP payload per server port (one connection per port here), in capture order."""
    if len(pcap) < 24:  # not even the file header yet
        return {}
    magic = struct.unpack("<I", pcap[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", pcap[20:24])[0]
    offset, out, seen = 24, dict[int, bytearray](), set[tuple[int, int]]()
    while offset + 16 <= len(pcap):
        incl = struct.unpack(endian + "IIII", pcap[offset:offset + 16])[2]
        if offset + 16 + incl > len(pcap):  # a frame tcpdump is still writing
            break
        frame = pcap[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        ip = frame[14:] if linktype == 1 else frame[16:]  # Ethernet (lo) or Linux cooked capture
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        tcp = ip[(ip[0] & 0x0F) * 4:]
        src, dst, seq = struct.unpack("!HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload and (dst, seq) not in seen:  # retransmissions once
            seen.add((dst, seq))
            out.setdefault(dst, bytearray()).extend(payload)
    return {k: bytes(v) for k, v in out.items()}


def split_at_tls(stream: bytes) -> tuple[bytes, list[int]]:
    """(plaintext before the TLS handshake, content types of the TLS records the client sent after it)."""
    start = stream.find(b"\x16\x03")
    if start < 0:
        return stream, []
    types, i = [], start
    while i + 5 <= len(stream):
        kind, length = stream[i], struct.unpack("!H", stream[i + 3:i + 5])[0]
        types.append(kind)
        i += 5 + length
    return stream[:start], types


# --- running the clients -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stack:
    """One client stack in one configuration: "required" (STARTTLS required, as capture.py runs it) or
    "opportunistic" (the library's own default or its documented opportunistic switch)."""

    id: str
    name: str
    build: Callable[[Job, Path, str], tuple[list[str], dict[str, str]]]
    tls: str = "starttls"  #: what $CLIENT_JOB says


_SMTPLIB_AUTO = """import json, os, smtplib, ssl
job = json.loads(os.environ["CLIENT_JOB"])
smtp = smtplib.SMTP(job["host"], job["port"], timeout=job["timeout"])
smtp.ehlo()
if smtp.has_extn("starttls"):  # the usual opportunistic app code
    smtp.starttls(context=ssl.create_default_context(cafile=job["ca_file"]))
    smtp.ehlo()
smtp.login(job["user"], os.environ["CLIENT_PASSWORD"])
"""
_NET_SMTP_AUTO = """require "json"; require "net/smtp"; require "openssl"
job = JSON.parse(ENV.fetch("CLIENT_JOB"))
ctx = OpenSSL::SSL::SSLContext.new
ctx.set_params(verify_mode: OpenSSL::SSL::VERIFY_PEER, ca_file: job["ca_file"])
smtp = Net::SMTP.new(job["host"], job["port"])
smtp.open_timeout = job["timeout"]; smtp.read_timeout = job["timeout"]
smtp.enable_starttls_auto(ctx)
smtp.start("client.example.test", job["user"], ENV.fetch("CLIENT_PASSWORD"), :plain) { }
"""
_ACTIONMAILER_DEFAULT = """require "json"; require "action_mailer"
job = JSON.parse(ENV.fetch("CLIENT_JOB"))
ActionMailer::Base.delivery_method = :smtp
ActionMailer::Base.smtp_settings = {  # no TLS key at all: the framework's default (STARTTLS if offered)
  address: job["host"], port: job["port"], domain: "client.example.test", user_name: job["user"],
  password: ENV.fetch("CLIENT_PASSWORD"), authentication: :plain, ca_file: job["ca_file"],
  openssl_verify_mode: "peer", open_timeout: job["timeout"], read_timeout: job["timeout"] }
ActionMailer::Base.raise_delivery_errors = true
ActionMailer::Base.logger = nil
class M < ActionMailer::Base
  def probe(job) = mail(from: job["sender"], to: job["recipient"], subject: job["subject"], body: job["body"])
end
M.probe(job).deliver_now
"""


def _inline(interpreter: str, source: str, name: str) -> Callable[[Job, Path, str], tuple[list[str], dict[str, str]]]:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
        script = work / name
        script.write_text(source)
        return [interpreter, str(script)], {}
    return build


def _swapped(client: Client, old: str, new: str) -> Callable[[Job, Path, str], tuple[list[str], dict[str, str]]]:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
        argv, env = client.build(job, work, password)
        return [new if a == old else a for a in argv], env
    return build


_BY_ID = {c.id: c for c in CLIENTS}
STACKS: tuple[Stack, ...] = tuple(Stack(c.id, c.name, c.build) for c in CLIENTS) + (
    Stack("smtplib-auto", "Python smtplib, STARTTLS if offered", _inline(sys.executable, _SMTPLIB_AUTO, "a.py")),
    Stack("curl-auto", "curl --ssl (opportunistic)", _swapped(_BY_ID["curl"], "--ssl-reqd", "--ssl")),
    Stack("swaks-auto", "swaks --tls-optional", _swapped(_BY_ID["swaks"], "--tls", "--tls-optional")),
    Stack("nodemailer-auto", "Node nodemailer, default options", _BY_ID["nodemailer"].build, "auto"),
    Stack("net_smtp-auto", "Ruby net/smtp enable_starttls_auto", _inline("ruby", _NET_SMTP_AUTO, "a.rb")),
    Stack("actionmailer-auto", "Rails ActionMailer, default settings",
          _inline("ruby", _ACTIONMAILER_DEFAULT, "a.rb")),
)


def run_client(stack: Stack, info: AttackLabInfo, scenario: str, work: Path) -> str:
    job = Job(host="localhost", port=info.ports[scenario], tls=stack.tls, ca_file=str(info.ca_file), user=USER,
              sender="app@example.test", recipient="someone@example.test", subject="attack lab",
              body="attack lab test")
    work.mkdir()
    hosts = work / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    argv, extra = stack.build(job, work, CANARY)
    env = {**os.environ, "CLIENT_PASSWORD": CANARY, "CLIENT_JOB": json.dumps(asdict(job)), **extra,
           "LD_PRELOAD": NSS_WRAPPER, "NSS_WRAPPER_HOSTS": str(hosts), "HOME": str(work), "LC_ALL": "C.UTF-8"}
    proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=KILL_AFTER)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out.decode(errors="replace")


Result = dict[tuple[str, str], tuple[Capture | None, bytes, str]]  # (client, scenario) -> (lab's record, pcap, output)


@pytest.fixture(scope="module")
def matrix() -> Iterator[Result]:
    if os.geteuid() != 0 or os.environ.get("SMTP_DOCTOR_SKIP_REALPEERS"):
        pytest.skip("needs root (tcpdump on lo) and the real-peer clients (scripts/install-system-deps.sh)")
    missing = [c for c in ("tcpdump", "ruby", "php", "node", "msmtp", "swaks", "curl") if not shutil.which(c)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; run scripts/install-system-deps.sh", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="smtp-doctor-attack-"))
    root.chmod(0o755)
    labs: dict[str, AttackLabInfo] = {}
    try:
        with contextlib.ExitStack() as stack:
            for client in STACKS:  # a lab per client: one connection per port, so the capture is unambiguous
                labs[client.id] = stack.enter_context(attack_lab_in_thread(root / client.id))
            pcap = Pcap(root / "lab.pcap", [p for lab in labs.values() for p in lab.ports.values()])
            jobs = [(c, s) for c in STACKS for s in SCENARIOS]
            with ThreadPoolExecutor(max_workers=6) as pool:
                outputs = list(pool.map(lambda j: run_client(j[0], labs[j[0].id], j[1], root / f"{j[0].id}-{j[1]}"),
                                        jobs))
            seen = {lab.ports[s] for lab in labs.values() for s in SCENARIOS  # ports a client sent bytes to
                    if any(c.commands_plain or c.handshake for c in lab.for_port(s))}
            streams = pcap.stop(seen)
            assert pcap.dropped == 0, f"tcpdump dropped {pcap.dropped} packets: the capture is incomplete"
            result: Result = {}
            for (client, scenario), output in zip(jobs, outputs, strict=True):
                caps = labs[client.id].for_port(scenario)
                assert len(caps) <= 1, (client.id, scenario, "one connection expected")
                result[(client.id, scenario)] = (caps[0] if caps else None,
                                                 streams.get(labs[client.id].ports[scenario], b""), output)
            yield result
    finally:
        shutil.rmtree(root, ignore_errors=True)


CELLS = [(c.id, s) for c in STACKS for s in SCENARIOS]


@pytest.mark.parametrize("cell", CELLS, ids=[f"{c}-{s}" for c, s in CELLS])
def test_report_matches_the_packet_capture(cell: tuple[str, str], matrix: Result) -> None:
    cap, stream, output = matrix[cell]
    plain, records = split_at_tls(stream)
    canary_in_clear = any(form in plain for form in wire_forms())
    if cap is None:  # the client never connected (it refused before: nothing was captured either)
        assert not stream, (cell, output[-300:])
        return
    verdict = cap.verdict()
    assert cap.auth_in_clear is (b"AUTH" in plain.upper()), (cell, plain[:300])
    assert (verdict == "auth_in_clear") is canary_in_clear, (cell, verdict, output[-300:])
    assert CANARY.encode() not in stream[len(plain):]  # inside TLS it is encrypted: never readable there
    app_data = records.count(23)  # TLS 1.3: Finished, EHLO, AUTH … all travel as application data
    if verdict in ("auth_to_impostor", "auth_in_tls", "used_injected"):
        assert cap.handshake and app_data >= 3, (cell, records)
    elif verdict == "refused" and cap.scenario in ("wrong-name", "self-signed"):
        # at most its Finished (a client that checks the name after the handshake, as curl does) and an
        # encrypted alert: no EHLO, no AUTH
        assert app_data <= 2, (cell, records, output[-300:])


def test_the_report_never_carries_the_password(matrix: Result) -> None:
    for cell, (cap, _, _) in matrix.items():
        if cap is not None:
            text = json.dumps(cap.to_dict())
            assert not any(form.decode() in text for form in wire_forms()), cell


def test_at_least_six_stacks_and_the_honest_control(matrix: Result) -> None:
    """Each client logs in inside TLS to the honest server (the control), so each refusal means something."""
    honest = {c: matrix[(c, "honest")][0] for c in {k[0] for k in matrix}}
    working = [c for c, cap in honest.items() if cap is not None and cap.verdict() == "auth_in_tls"]
    assert len(working) >= 6, {c: (cap.to_dict() if cap else None) for c, cap in honest.items()}


def test_summary_table(matrix: Result) -> None:
    """The matrix as docs/audit.md shows it (printed with -s); also checks every cell has a verdict."""
    rows = []
    for client in STACKS:
        cells = []
        for scenario in SCENARIOS:
            cap = matrix[(client.id, scenario)][0]
            verdict = cap.verdict() if cap else "no connection"
            cells.append(("**" + verdict + "**") if verdict in UNSAFE else verdict)
        rows.append(f"| {client.name} | " + " | ".join(cells) + " |")
    print("\n| client | " + " | ".join(SCENARIOS) + " |\n|" + "---|" * (len(SCENARIOS) + 1) + "\n" + "\n".join(rows))
    assert len(rows) == len(STACKS)

