"""Run real SMTP clients in every wrong configuration against the real servers and record what they print.

Why: smtp-doctor's explanations are only worth something if they agree with the texts real clients
print against real servers. This module runs each client (Python smtplib, curl, swaks, msmtp, Node
nodemailer, Ruby net/smtp, Rails ActionMailer, PHP streams) as its own process, bounded in time, in each
scenario (implicit TLS on the STARTTLS port, STARTTLS on the implicit-TLS port, no CA, a host name the
certificate lacks, a bad password, TLS off, a port without STARTTLS), and records outcome + text.

The tier's tests (test_clients.py) run the same code against the session's servers and compare with the
fixtures in tests/fixtures/realpeers/<client>.json. Run it by hand (as root) to refresh them:

    .venv/bin/python -m tests.realpeers.capture --write
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from smtp_doctor.credentials import wire_forms

from . import peers
from .peers import Daemon, PeerPKI, RealPeer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "realpeers"
CLIENT_DIR = FIXTURES / "clients"
NODE_PREFIX = Path(os.environ.get("SMTP_DOCTOR_NODE_PREFIX", "/opt/smtp-doctor-peers/node"))
NSS_WRAPPER = "libnss_wrapper.so"

CLIENT_TIMEOUT = 5  #: the client's own timeouts: it should give up, and say so, before we kill it
KILL_AFTER = 8.0  #: our bound on one run; a client still running then is recorded as "timed out"
GOOD_NAME = peers.SERVER_NAME  #: named in the certificate; resolved to 127.0.0.1 for the clients
WRONG_NAME = "smtp.wrong-name.test"  #: resolves to the same server, absent from its certificate
WRONG_PASSWORD = "not-the-password"
TEXT_HEAD, TEXT_TAIL = 25, 35  #: lines kept of a long output: the error is at one end or the other
LINE_LIMIT = 400  #: characters kept of one line (Node dumps the certificate's modulus on one)


# --- servers ---------------------------------------------------------------------------------------------

def start_exim_plain(base: Path, pki: PeerPKI, stack: list[Daemon]) -> RealPeer:
    """Exim as in peers.py but offering no STARTTLS at all: its 587- and 25-style ports are plaintext only.

    Same binary and configuration with one line changed (``tls_advertise_hosts`` empty), so the
    "STARTTLS required by the client, not offered by the port" case runs against a real server.
    """
    plain = peers.EXIM_CONF.replace("tls_advertise_hosts = *", "tls_advertise_hosts =")
    if plain == peers.EXIM_CONF:
        raise RuntimeError("peers.EXIM_CONF no longer contains 'tls_advertise_hosts = *'")
    saved, peers.EXIM_CONF = peers.EXIM_CONF, plain
    try:
        peer = peers.start_exim(base, pki, stack)
    finally:
        peers.EXIM_CONF = saved
    peer.listeners = {role: lst if lst.tls == "implicit" else replace(lst, tls="none", cert="none")
                      for role, lst in peer.listeners.items()}
    return peer


SERVERS: dict[str, tuple[str, Callable[[Path, PeerPKI, list[Daemon]], RealPeer]]] = {
    # key: (title in the matrix, starter)
    "postfix": ("Postfix", peers.start_postfix),
    "exim": ("Exim", peers.start_exim),
    "exim-plain": ("Exim, no STARTTLS", start_exim_plain),
}


# --- scenarios -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """One client configuration, right or wrong, against one listener role."""

    id: str
    title: str
    role: str  #: the listener the client connects to
    tls: str  #: what the client is told to do: "starttls" (required), "implicit", "none"
    ca: bool = True  #: the client is given the test CA (else: its default store)
    name: str = GOOD_NAME
    good_password: bool = True
    servers: tuple[str, ...] = ("postfix", "exim")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("starttls_ok", "STARTTLS on the 587-style port (correct)", "submission", "starttls"),
    Scenario("implicit_ok", "implicit TLS on the 465-style port (correct)", "smtps", "implicit"),
    Scenario("implicit_on_587", "implicit TLS on the 587-style port", "submission", "implicit"),
    Scenario("starttls_on_465", "STARTTLS on the 465-style port", "smtps", "starttls"),
    Scenario("no_ca", "verification without the CA", "submission", "starttls", ca=False),
    Scenario("wrong_host", "a host name the certificate lacks", "submission", "starttls", name=WRONG_NAME),
    Scenario("bad_password", "bad password", "submission", "starttls", good_password=False),
    Scenario("tls_off", "TLS switched off in the client", "submission", "none"),
    Scenario("plaintext_port", "STARTTLS required, port is plaintext only", "submission", "starttls",
             servers=("exim-plain",)),
)


# --- clients ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """What one client run is told (as $CLIENT_JOB); the password travels separately."""

    host: str
    port: int
    tls: str
    ca_file: str | None
    user: str
    sender: str
    recipient: str
    subject: str
    body: str
    timeout: int = CLIENT_TIMEOUT


Builder = Callable[[Job, Path, str], tuple[list[str], dict[str, str]]]  # (argv, extra env); work dir, password


def _script(name: str) -> str:
    return str(CLIENT_DIR / name)


def _smtplib(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, _script("smtplib_client.py")], {}


def _curl(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    message = work / "message.eml"
    message.write_text(f"From: {job.sender}\r\nTo: {job.recipient}\r\nSubject: {job.subject}\r\n\r\n{job.body}\r\n")
    netrc = work / "netrc"  # the password stays off the command line
    netrc.write_text(f"machine {job.host} login {job.user} password {password}\n")
    netrc.chmod(0o600)
    scheme = "smtps" if job.tls == "implicit" else "smtp"
    argv = ["curl", "--silent", "--show-error", "--connect-timeout", str(job.timeout), "--max-time",
            str(job.timeout), "--url", f"{scheme}://{job.host}:{job.port}", "--netrc-file", str(netrc),
            "--mail-from", job.sender, "--mail-rcpt", job.recipient, "--upload-file", str(message)]
    if job.tls == "starttls":
        argv.append("--ssl-reqd")
    if job.ca_file:
        argv += ["--cacert", job.ca_file]
    return argv, {}


def _swaks(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    argv = ["swaks", "--server", job.host, "--port", str(job.port), "--timeout", str(job.timeout),
            "--from", job.sender, "--to", job.recipient, "--header", f"Subject: {job.subject}",
            "--body", job.body, "--helo", "client.example.test", "--auth", "PLAIN", "--auth-user", job.user,
            "--tls-verify"]
    if job.tls == "starttls":
        argv.append("--tls")
    elif job.tls == "implicit":
        argv.append("--tls-on-connect")
    if job.ca_file:
        argv += ["--tls-ca-path", job.ca_file]
    return argv, {"SWAKS_OPT_auth_password": password}


def _msmtprc(job: Job, work: Path) -> Path:
    conf = work / "msmtprc"
    conf.write_text("\n".join([
        "account default", f"host {job.host}", f"port {job.port}", f"from {job.sender}",
        "tls " + ("off" if job.tls == "none" else "on"),
        "tls_starttls " + ("on" if job.tls == "starttls" else "off"),
        *([f"tls_trust_file {job.ca_file}"] if job.ca_file else []),  # unset: the system store (msmtp's default)
        "auth on", f"user {job.user}",
        'passwordeval printf %s "$CLIENT_PASSWORD"', f"timeout {job.timeout}", "syslog off", ""]))
    conf.chmod(0o600)
    return conf


def _msmtp(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    conf = _msmtprc(job, work)
    message = work / "message.eml"
    message.write_text(f"From: {job.sender}\nTo: {job.recipient}\nSubject: {job.subject}\n\n{job.body}\n")
    return ["sh", "-c", 'exec msmtp -C "$1" "$2" < "$3"', "msmtp", str(conf), job.recipient, str(message)], {}


def _nodemailer(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    return ["node", _script("nodemailer_client.js")], {"NODE_PATH": str(NODE_PREFIX / "node_modules")}


def _net_smtp(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    return ["ruby", _script("net_smtp_client.rb")], {}


def _actionmailer(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    return ["ruby", _script("actionmailer_client.rb")], {}


def _php(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str]]:
    return ["php", _script("php_streams_client.php")], {}


@dataclass(frozen=True)
class Client:
    id: str  #: fixture file name: tests/fixtures/realpeers/<id>.json
    name: str
    build: Builder
    version_cmd: tuple[str, ...]  #: prints the version (first line used)


CLIENTS: tuple[Client, ...] = (
    Client("smtplib", "Python smtplib", _smtplib,
           (sys.executable, "-c", "import platform, ssl; print('Python', platform.python_version(), '/', "
                                  "ssl.OPENSSL_VERSION)")),
    Client("curl", "curl", _curl, ("sh", "-c", "curl --version | head -n1 | cut -d' ' -f1-2,5")),
    Client("swaks", "swaks", _swaks, ("sh", "-c", "swaks --version | head -n1")),
    Client("msmtp", "msmtp", _msmtp,
           ("sh", "-c", "msmtp --version | awk 'NR==1{v=$0} /TLS\\/SSL library/{t=$NF} END{print v\" / \"t}'")),
    Client("nodemailer", "Node nodemailer", _nodemailer,
           ("node", "-e", f"console.log('nodemailer', require('{NODE_PREFIX}/node_modules/nodemailer/"
                          "package.json').version, '/ Node', process.version, '/ OpenSSL', "
                          "process.versions.openssl)")),
    Client("net_smtp", "Ruby net/smtp", _net_smtp,
           ("ruby", "-rnet/smtp", "-ropenssl", "-e",
            "puts \"net-smtp #{Net::SMTP::VERSION} / Ruby #{RUBY_VERSION} / #{OpenSSL::OPENSSL_LIBRARY_VERSION}\"")),
    Client("actionmailer", "Rails ActionMailer", _actionmailer,
           ("ruby", "-raction_mailer", "-rmail", "-rnet/smtp", "-e",
            "puts \"ActionMailer #{ActionMailer.version} / mail "
                                             "#{Mail::VERSION.version} / net-smtp #{Net::SMTP::VERSION}\"")),
    Client("php", "PHP streams", _php, ("php", "-r", "echo 'PHP ', PHP_VERSION, ' / ', OPENSSL_VERSION_TEXT, "
                                                     "PHP_EOL;")),
)


def client_version(client: Client) -> str:
    done = subprocess.run(list(client.version_cmd), capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{client.name}: cannot read its version ({done.stderr.strip()[:300]}); "
                           "run scripts/install-system-deps.sh")
    return done.stdout.strip().splitlines()[0]


# --- the same configuration as `smtp-doctor check` reads it ---------------------------------------------

def _nodemailer_config(job: Job, work: Path, version: str) -> tuple[Path, list[str]]:
    """The transport the nodemailer client builds, as an app's mailer.js spells it."""
    tls = f'  tls: {{ ca: [fs.readFileSync({json.dumps(job.ca_file)})] }},\n' if job.ca_file else ""
    path = work / "mailer.js"
    path.write_text(
        'const fs = require("fs");\nconst nodemailer = require("nodemailer");\n\n'
        "module.exports = nodemailer.createTransport({\n"
        f"  host: {json.dumps(job.host)},\n  port: {job.port},\n"
        f"  secure: {str(job.tls == 'implicit').lower()},\n  requireTLS: {str(job.tls == 'starttls').lower()},\n"
        f"  ignoreTLS: {str(job.tls == 'none').lower()},\n"
        f"  auth: {{ user: {json.dumps(job.user)}, pass: process.env.SMTP_PASSWORD }},\n{tls}"
        f"  connectionTimeout: {job.timeout * 1000},\n  greetingTimeout: {job.timeout * 1000},\n"
        f"  socketTimeout: {(job.timeout + 2) * 1000},\n}});\n")
    return path, ["--framework", "nodemailer"]


def _actionmailer_config(job: Job, work: Path, version: str) -> tuple[Path, list[str]]:
    """The smtp_settings the ActionMailer client sets, as config/environments/production.rb spells them."""
    tls = {"implicit": "tls: true", "starttls": "enable_starttls: true", "none": "enable_starttls_auto: false"}
    ca = f'ca_file: {json.dumps(job.ca_file)}, ' if job.ca_file else ""
    path = work / "config" / "environments" / "production.rb"
    path.parent.mkdir(parents=True)
    path.write_text(
        "Rails.application.configure do\n  config.action_mailer.delivery_method = :smtp\n"
        "  config.action_mailer.smtp_settings = {\n"
        f'    address: {json.dumps(job.host)}, port: {job.port}, domain: "client.example.test",\n'
        f'    user_name: {json.dumps(job.user)}, password: ENV["SMTP_PASSWORD"], authentication: :plain,\n'
        f'    {tls[job.tls]}, {ca}openssl_verify_mode: "peer",\n'
        f"    open_timeout: {job.timeout}, read_timeout: {job.timeout}\n  }}\nend\n")
    mail_gem = re.search(r"\bmail (\S+)", version)  # the mail gem's version decides ActionMailer's SMTP behaviour
    return path, ["--framework", "actionmailer", *(["--framework-version", mail_gem.group(1)] if mail_gem else [])]


def _msmtp_config(job: Job, work: Path, version: str) -> tuple[Path, list[str]]:
    return _msmtprc(job, work), ["--framework", "msmtp"]


#: Clients whose configuration `smtp-doctor check` reads (the others are configured by code or argv).
CHECK_CONFIGS: dict[str, Callable[[Job, Path, str], tuple[Path, list[str]]]] = {
    "msmtp": _msmtp_config, "nodemailer": _nodemailer_config, "actionmailer": _actionmailer_config,
}


def run_check(job: Job, client_id: str, version: str, env: dict[str, str], work: Path) -> dict[str, object]:
    """``smtp-doctor check <the client's configuration> --json``, resolving names as the client did."""
    path, extra = CHECK_CONFIGS[client_id](job, work, version)
    argv = [sys.executable, "-m", "smtp_doctor", "check", str(path), *extra, "--timeout", "10", "--json"]
    if job.ca_file:
        argv += ["--ca-file", job.ca_file]
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=60, check=False)
    try:
        configs = json.loads(done.stdout)["configs"]
        pred = dict(configs[0]["prediction"] or {})
    except (ValueError, KeyError, IndexError, TypeError):
        return {"verdict": "error", "failure": None, "why": (done.stderr or done.stdout)[-300:]}
    return {k: pred.get(k) for k in ("verdict", "failure", "stage", "certain", "why", "error_text")}


# --- one run ---------------------------------------------------------------------------------------------

@dataclass
class Record:
    """One cell: a client in one scenario against one server, and what really happened."""

    server: str  #: SERVERS key
    server_version: str
    client: str  #: Client.id
    client_version: str
    scenario: str  #: Scenario.id
    outcome: str  #: "delivered", "error", "timed out", "accepted, not delivered"
    exit_code: int | None
    text: str  #: what the client printed (head and tail, secrets masked, ports as they were); "" if delivered
    seconds: float = 0.0  #: not stored in the fixtures
    token: str = ""  #: in the message's subject and body: how the delivery is found in the mailbox
    check: dict[str, object] | None = None  #: `smtp-doctor check --json`'s prediction for the same config

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.server, self.client, self.scenario)


def _mask(text: str, peer: RealPeer) -> str:
    for secret in sorted(wire_forms(peer.user, peer.password), key=len, reverse=True):
        if len(secret) >= 6:
            text = text.replace(secret, "********")
    return text


def run_one(peer_key: str, peer: RealPeer, client: Client, version: str, scenario: Scenario,
            work_root: Path) -> Record:
    """Runs one client once, bounded by KILL_AFTER; the process group is killed if it overstays."""
    token = f"smtp-doctor-matrix-{uuid.uuid4().hex}"
    job = Job(host=scenario.name, port=peer.ports[scenario.role], tls=scenario.tls,
              ca_file=str(peer.ca_file) if scenario.ca else None, user=peer.user, sender=peer.address,
              recipient=peer.address, subject=f"{client.id} {scenario.id} {token}",
              body=f"Sent by {client.name} in scenario {scenario.id}. {token}")
    password = peer.password if scenario.good_password else WRONG_PASSWORD
    work = Path(tempfile.mkdtemp(prefix=f"{client.id}-", dir=work_root))
    hosts = work / "hosts"  # the only name resolution the clients see for these names (nss_wrapper)
    hosts.write_text(f"{peer.host} {GOOD_NAME}\n{peer.host} {WRONG_NAME}\n")
    env = {**os.environ, "CLIENT_PASSWORD": password, "CLIENT_JOB": json.dumps(asdict(job))}
    argv, extra = client.build(job, work, password)
    env.update(extra)
    env.update({"LD_PRELOAD": NSS_WRAPPER, "NSS_WRAPPER_HOSTS": str(hosts), "HOME": str(work),
                "LC_ALL": "C.UTF-8", "NO_COLOR": "1"})
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=KILL_AFTER)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        code = None
    seconds = time.monotonic() - t0
    check = None
    if client.id in CHECK_CONFIGS:
        check_dir = work / "check"
        check_dir.mkdir()
        no_secret = {k: v for k, v in env.items() if k not in ("CLIENT_JOB", "CLIENT_PASSWORD")}
        check = run_check(job, client.id, version, no_secret, check_dir)
    shutil.rmtree(work, ignore_errors=True)
    # The checkout's path (in tracebacks naming the client scripts) differs between clones: "<repo>".
    text = _mask(out.decode(errors="replace"), peer).replace(str(ROOT), "<repo>").strip()
    lines = [line if len(line) <= LINE_LIMIT else line[:LINE_LIMIT] + "[…]" for line in text.splitlines()]
    if len(lines) > TEXT_HEAD + TEXT_TAIL:
        lines = [*lines[:TEXT_HEAD], "[…]", *lines[-TEXT_TAIL:]]
    text = "\n".join(lines)
    if code is None:
        outcome = "timed out"
    elif code == 0:
        outcome = "accepted"  # becomes "delivered" once the message is found in the mailbox
    else:
        outcome = "error"
    return Record(peer_key, peer.label, client.id, version, scenario.id, outcome, code, text, round(seconds, 2),
                  token, check)


def run_matrix(servers: dict[str, RealPeer], clients: tuple[Client, ...] = CLIENTS,
               scenarios: tuple[Scenario, ...] = SCENARIOS, workers: int = 6) -> list[Record]:
    """Every (server, client, scenario) that applies, in parallel; deliveries are then looked for."""
    versions = {c.id: client_version(c) for c in clients}
    jobs = [(key, servers[key], c, s) for s in scenarios for key in s.servers if key in servers for c in clients]
    work_root = Path(tempfile.mkdtemp(prefix="smtp-doctor-clients-"))
    work_root.chmod(0o755)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            records = list(pool.map(lambda j: run_one(j[0], j[1], j[2], versions[j[2].id], j[3], work_root), jobs))
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    for rec in records:
        if rec.outcome == "accepted":
            try:
                servers[rec.server].wait_for_delivery(rec.token, timeout=20.0)
                rec.outcome, rec.text = "delivered", ""
            except TimeoutError:
                rec.outcome = "accepted, not delivered"
    return records


# --- fixtures --------------------------------------------------------------------------------------------

def fixture_path(client_id: str) -> Path:
    return FIXTURES / f"{client_id}.json"


def fixture_doc(client: Client, records: list[Record], ports: dict[str, list[int]]) -> dict[str, object]:
    """The fixture for one client; ``ports`` (per server) lets a later run normalise the texts."""
    cases = sorted((r for r in records if r.client == client.id), key=lambda r: (r.server, r.scenario))
    return {
        "client": client.name,
        "version": cases[0].client_version if cases else "",
        "generated_by": "tests/realpeers/capture.py (checked by tests/realpeers/test_clients.py)",
        "ports": ports,
        "cases": [{"server": r.server, "server_version": r.server_version, "scenario": r.scenario,
                   "outcome": r.outcome, "exit_code": r.exit_code, "text": r.text} for r in cases],
    }


def write_fixture(path: Path, doc: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


_VOLATILE = (
    (re.compile(r"/tmp/[\w.-]+(?:/[\w.-]+)*"), "<tmp>"),
    (re.compile(r"\b[0-9A-F]{12,16}:error:"), "<thread>:error:"),
    (re.compile(r"#<([\w:]+):0x[0-9a-f]+"), r"#<\1:0x…"),
    (re.compile(r"\b0x[0-9a-f]{6,}\b"), "0x…"),
    (re.compile(r"\b\d+(?:\.\d+)? ?(ms|milliseconds|seconds|sec|s)\b"), r"<n> \1"),
    (re.compile(r"\b[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{2}\b"), "<exim-id>"),  # Exim message ids
    (re.compile(r"\bid=[\w-]+"), "id=<id>"),
    (re.compile(r"#[A-Za-z0-9_-]{16}(?![\w-])"), "#<trustme-id>"),  # random OU of the test CA's certificates
    (re.compile(r"<Buffer[ 0-9a-f]*(?:\.\.\. \d+ more bytes)?>?"), "<Buffer …>"),
    (re.compile(r"\b[0-9A-F]{2}(?::[0-9A-F]{2}){15,}\b"), "<fingerprint>"),
    (re.compile(r"\b[0-9A-Fa-f]{24,}\b"), "<hex>"),
    (re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"), "<date>"),
    (re.compile(r"\b\w{3} {1,2}\d{1,2} \d\d:\d\d:\d\d \d{4} GMT"), "<date>"),
    (re.compile(r"<[\w.-]+@[\w.-]+>"), "<message-id>"),
)


def normalise(text: str, ports: list[int]) -> str:
    """The text without what changes from run to run (ports, temp paths, addresses, durations)."""
    for port in sorted(ports, key=lambda p: -len(str(p))):
        text = re.sub(rf"(?<!\d){port}(?!\d)", "<port>", text)
    for pattern, repl in _VOLATILE:
        text = pattern.sub(repl, text)
    return text


# --- standalone ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def running_servers(keys: list[str]) -> Iterator[dict[str, RealPeer]]:
    """Starts the named servers (as the session fixtures do) and stops them at the end."""
    root = Path(tempfile.mkdtemp(prefix="smtp-doctor-realpeers-"))
    root.chmod(0o755)
    stack: list[Daemon] = []
    try:
        pki = PeerPKI(root / "tls")
        out = {}
        for key in keys:
            base = root / key
            base.mkdir()
            out[key] = SERVERS[key][1](base, pki, stack)
        yield out
    finally:
        for daemon in reversed(stack):
            daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--write", action="store_true", help="write tests/fixtures/realpeers/<client>.json")
    ap.add_argument("--client", action="append", help="only these client ids")
    ap.add_argument("--scenario", action="append", help="only these scenario ids")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("capture.py: run as root (the servers' masters start as root)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a plain kill still stops the servers (finally)
    clients = tuple(c for c in CLIENTS if not args.client or c.id in args.client)
    scenarios = tuple(s for s in SCENARIOS if not args.scenario or s.id in args.scenario)
    t0 = time.monotonic()
    with running_servers(list(SERVERS)) as servers:
        records = run_matrix(servers, clients, scenarios)
        ports = {key: sorted(p.ports.values()) for key, p in servers.items()}
    for r in records:
        last = r.text.splitlines()[-1][:110] if r.text else ""
        said = f"check: {r.check.get('verdict')}/{r.check.get('failure')}  " if r.check else ""
        print(f"{r.server:10} {r.client:12} {r.scenario:16} {r.outcome:10} {r.seconds:5.1f}s  {said}{last[:80]}")
    print(f"{len(records)} runs in {time.monotonic() - t0:.1f} s")
    if args.write:
        if args.client or args.scenario:
            print("capture.py: --write needs the whole matrix (no --client/--scenario)", file=sys.stderr)
            return 2
        for client in clients:
            path = fixture_path(client.id)
            write_fixture(path, fixture_doc(client, records, ports))
            print("wrote", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
