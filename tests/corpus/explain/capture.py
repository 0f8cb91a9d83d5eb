"""Run real SMTP clients against the lab in every failure scenario, at every verbosity, and store what they print.

Why: explain must be right on the next log a user pastes, not on the texts its patterns were written from.
This script makes that next log: each (scenario, client variant) is one real client process (Python smtplib
at debuglevel 0/1/2, aiosmtplib 3 and 5, Django, curl with and without -v, swaks in its three TLS modes,
msmtp with and without --debug, openssl s_client with and without -starttls smtp and -brief, Ruby net-smtp,
ActionMailer, Nodemailer 6 and 10 with and without its debug log, PHP streams, PHPMailer at SMTPDebug 0/2/4,
Go net/smtp, Jakarta Mail) against the embedded lab (src/smtp_doctor/lab) on 127.0.0.1, bounded in time.
The scenario is the truth label: the lab server and the client setting decide the failure, not the text.

The lab listens on ephemeral ports; the stored text names the port the scenario stands for (587 for a
STARTTLS listener, 465 for an implicit-TLS one, 25 for a plaintext one), as a user's log would. Nothing
else in the text is changed (the lab password never appears: it is masked if a client prints it).

    .venv/bin/python -m tests.corpus.explain.capture            # prints a summary
    .venv/bin/python -m tests.corpus.explain.capture --write    # (re)writes cases.json

Runtimes this needs beyond Debian's packages (see docs/explain.md): Nodemailer 6 and 10 under
/tmp/nm6 and /tmp/nm10 (npm install --prefix), aiosmtplib 3 and 5 in /tmp/aio3 and /tmp/aio5 (venvs),
Debian's libphp-phpmailer, golang-go, libjakarta-mail-java.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from smtp_doctor.lab import LabInfo, run_lab_in_thread

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CASES = HERE / "cases.json"
CASES_2 = HERE / "cases2.json"
APPS = HERE / "clients"
REALPEER_APPS = ROOT / "tests" / "fixtures" / "realpeers" / "clients"
ERROR_APPS = ROOT / "tests" / "fixtures" / "errors" / "clients"
TIMEOUT = 5  #: the clients' own timeouts
KILL_AFTER = 12.0  #: our bound on one run
SENDER = "app@example.com"
RECIPIENT = "rcpt@example.com"
JAKARTA_JARS = ("/usr/share/java/jakarta-mail.jar", "/usr/share/java/jakarta-activation.jar")


@dataclass(frozen=True)
class Scenario:
    """One wrong (or unsafely right) configuration. ``expect`` is the failure mode (errors.toml) it IS;
    ``accept`` the modes that are equally right because no client text can tell them apart (documented in
    docs/explain.md: an untrusted private CA and a missing intermediate print the same words)."""

    id: str
    server: str  #: lab server (LabInfo.servers) or hostile server (LabInfo.hostile)
    tls: str  #: what the client is set to: "starttls", "implicit", "none"
    expect: str
    ca: bool = True
    user: bool = True
    password_ok: bool = True
    verify: bool = True
    accept: tuple[str, ...] = ()
    role_port: int = 587  #: the port the scenario stands for
    host: str = "localhost"  #: the name the client is given (a name that does not resolve: DNS failure)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("implicit_on_starttls", "starttls", "implicit", "implicit_tls_on_plain_port"),
    Scenario("starttls_on_implicit", "implicit", "starttls", "plain_on_implicit_port", role_port=465,
             accept=("greeting_timeout",)),
    Scenario("plain_on_implicit", "implicit", "none", "plain_on_implicit_port", role_port=465,
             accept=("greeting_timeout",)),
    Scenario("silent_server", "silent", "starttls", "greeting_timeout"),
    Scenario("expired", "expired", "starttls", "cert_expired"),
    Scenario("wrong_name", "wrong-name", "starttls", "cert_hostname_mismatch"),
    Scenario("self_signed", "self-signed", "starttls", "cert_self_signed", accept=("cert_unknown_issuer",)),
    Scenario("missing_intermediate", "missing-intermediate", "starttls", "cert_missing_intermediate",
             accept=("cert_unknown_issuer",)),
    Scenario("untrusted_ca", "starttls", "starttls", "cert_unknown_issuer", ca=False,
             accept=("cert_missing_intermediate",)),
    Scenario("bad_password", "starttls", "starttls", "auth_bad_credentials", password_ok=False),
    Scenario("auth_not_offered", "starttls", "none", "starttls_required"),
    Scenario("tls_version", "legacy-tls", "starttls", "tls_version_mismatch"),
    Scenario("unsafe_auth_in_clear", "plain", "none", "unsafe_auth_in_clear", role_port=25),
    Scenario("unsafe_no_verify", "self-signed", "starttls", "unsafe_no_verify", verify=False, ca=False),
    Scenario("ok_starttls", "starttls", "starttls", "none"),
    Scenario("ok_implicit", "implicit", "implicit", "none", role_port=465),
)


#: A client whose real behaviour makes another failure than the scenario's: (client, scenario) -> (mode, why).
CLIENT_BEHAVIOUR: dict[tuple[str, str], tuple[str, str]] = {
    ("actionmailer", "auth_not_offered"): (
        "cert_unknown_issuer", "ActionMailer 6.1 / mail 2.7.1: enable_starttls_auto: false does not switch STARTTLS "
        "off, and that STARTTLS does not use smtp_settings' ca_file (tests/realpeers/test_clients.py)"),
    ("msmtp", "unsafe_auth_in_clear"): (
        "starttls_required", "msmtp will not send a password without TLS (auth on, tls off): it refuses, as it "
        "does against Exim in tests/realpeers/test_clients.py"),
}
#: openssl s_client never enforces verification: in these its report of the certificate IS the failure
CERT_SCENARIOS = frozenset({"expired", "wrong_name", "self_signed", "missing_intermediate", "untrusted_ca"})
#: What a success in a failure scenario is: the client accepted what it should have refused.
SUCCEEDED_ANYWAY = {"wrong_name": "unsafe_no_verify", "expired": "unsafe_no_verify", "self_signed": "unsafe_no_verify",
                    "untrusted_ca": "unsafe_no_verify", "missing_intermediate": "unsafe_no_verify"}


def label(s: Scenario, client: str, code: int | None) -> dict[str, object]:
    """The truth for one run: the scenario's mode, unless the client really did otherwise (CLIENT_BEHAVIOUR) or
    succeeded where it should have refused (an unsafe success). openssl s_client never enforces verification:
    its report of a bad certificate IS that certificate failure, whatever its exit code."""
    if (client, s.id) in CLIENT_BEHAVIOUR:
        expect, why = CLIENT_BEHAVIOUR[(client, s.id)]
        return {"expect": expect, "why": why, "accept": []}
    if code == 0 and (client != "openssl" or s.id not in CERT_SCENARIOS) and not s.expect.startswith("unsafe_") \
            and s.expect != "none":
        return {"expect": SUCCEEDED_ANYWAY.get(s.id, "none"), "why": "the client succeeded in this scenario",
                "accept": []}
    return {"expect": s.expect, "why": "", "accept": list(s.accept)}


def relabel() -> None:
    """Re-derive every stored case's label from its scenario, client and exit code (no client is run)."""
    by_id = {s.id: s for s in (*SCENARIOS, *SCENARIOS_2)}
    for path in (CASES, CASES_2):
        doc = json.loads(path.read_text())
        for case in doc["cases"]:
            case.update(label(by_id[case["scenario"]], case["client"], case["exit_code"]))
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Job:
    host: str
    port: int
    tls: str
    ca_file: str
    verify: bool
    user: str
    debug: int
    timeout: int = TIMEOUT
    sender: str = SENDER
    recipient: str = RECIPIENT


Builder = Callable[[Job, Path, str], tuple[list[str], dict[str, str], bytes]]  # argv, env, stdin


#: The second corpus (cases2.json): scenarios whose texts nobody had looked at when explain's structure
#: reading was built and the first held-out figure was measured. All of it is held out (split2.json).
SCENARIOS_2: tuple[Scenario, ...] = (
    Scenario("refused", "closed", "starttls", "conn_refused"),
    Scenario("dns", "starttls", "starttls", "dns_failure", host="no-such-host.invalid"),
    Scenario("no_common_mechanism", "auth-xoauth2", "implicit", "auth_mechanism", role_port=465),
    Scenario("slow_greeting", "slow-greeting", "starttls", "greeting_timeout"),
    Scenario("starttls_missing", "plain", "starttls", "starttls_not_offered", role_port=25),
    Scenario("closed_on_connect", "close-on-connect", "starttls", "conn_closed"),
    Scenario("busy_421", "busy-421", "starttls", "temp_failure"),
)


@dataclass(frozen=True)
class Variant:
    client: str  #: the client family (the fix lines that apply are this client's)
    variant: str  #: the verbosity / mode flag
    build: Builder
    version: tuple[str, ...]
    #: scenarios this variant cannot express (no such setting), skipped
    skip: tuple[str, ...] = ()


def _py(python: str, lib: str, debug: int = 0) -> Builder:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        return [python, str(APPS / "py_app.py")], {"CLIENT_JOB": json.dumps({**asdict(job), "lib": lib,
                                                                           "debug": debug})}, b""
    return build


def _curl(verbose: bool) -> Builder:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        msg = work / "m.eml"
        msg.write_text(f"From: {job.sender}\r\nTo: {job.recipient}\r\nSubject: corpus\r\n\r\ncorpus\r\n")
        scheme = "smtps" if job.tls == "implicit" else "smtp"
        argv = ["curl", "--silent", "--show-error", "--max-time", str(job.timeout),
                "--url", f"{scheme}://{job.host}:{job.port}", "--mail-from", job.sender,
                "--mail-rcpt", job.recipient, "--upload-file", str(msg)]
        if verbose:
            argv.append("-v")
        if job.user:
            argv += ["--user", f"{job.user}:{password}"]
        if job.tls == "starttls":
            argv.append("--ssl-reqd")
        if job.ca_file:
            argv += ["--cacert", job.ca_file]
        if not job.verify:
            argv.append("--insecure")
        return argv, {}, b""
    return build


def _swaks(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    argv = ["swaks", "--server", job.host, "--port", str(job.port), "--timeout", str(job.timeout),
            "--from", job.sender, "--to", job.recipient, "--helo", "client.example.test"]
    if job.user:
        argv += ["--auth", "PLAIN", "--auth-user", job.user]
    if job.verify:
        argv.append("--tls-verify")
    if job.tls == "starttls":
        argv.append("--tls")
    elif job.tls == "implicit":
        argv.append("--tls-on-connect")
    if job.ca_file:
        argv += ["--tls-ca-path", job.ca_file]
    return argv, {"SWAKS_OPT_auth_password": password}, b""


def _msmtp(debug: bool) -> Builder:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        conf = work / "msmtprc"
        conf.write_text("\n".join([
            "account default", f"host {job.host}", f"port {job.port}", f"from {job.sender}",
            "tls " + ("off" if job.tls == "none" else "on"),
            "tls_starttls " + ("on" if job.tls == "starttls" else "off"),
            *([f"tls_trust_file {job.ca_file}"] if job.ca_file else []),
            *(["tls_certcheck off"] if not job.verify else []),
            *(["auth on", f"user {job.user}", 'passwordeval printf %s "$CORPUS_PASSWORD"'] if job.user
              else ["auth off"]),
            f"timeout {job.timeout}", "syslog off", ""]))
        conf.chmod(0o600)
        argv = ["msmtp", "-C", str(conf), *(["--debug"] if debug else []), job.recipient]
        return argv, {}, f"From: {job.sender}\nTo: {job.recipient}\nSubject: corpus\n\ncorpus\n".encode()
    return build


def _s_client(brief: bool) -> Builder:
    """-starttls smtp when the scenario's client is set to STARTTLS, none when to implicit TLS."""
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        argv = ["openssl", "s_client", "-connect", f"{job.host}:{job.port}", "-servername", job.host]
        if job.tls == "starttls":
            argv += ["-starttls", "smtp"]
        if brief:
            argv.append("-brief")
        if job.ca_file:
            argv += ["-CAfile", job.ca_file]
        argv += ["-verify_hostname", job.host]
        return (["timeout", str(job.timeout + 2), *argv], {},
                b"EHLO client.example.test\r\nQUIT\r\n")
    return build


def _realpeer(script: str, runtime: str, node_path: str = "") -> Builder:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        doc = {**asdict(job), "subject": "corpus", "body": "corpus", "ca_file": job.ca_file or None}
        env = {"CLIENT_JOB": json.dumps(doc), "CLIENT_PASSWORD": password}
        if node_path:
            env["NODE_PATH"] = node_path
        return [runtime, str(REALPEER_APPS / script)], env, b""
    return build


def _node(prefix: str, debug: bool) -> Builder:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        doc = {**asdict(job), "debug": debug}
        return (["node", str(APPS / "node_app.js")],
                {"CLIENT_JOB": json.dumps(doc), "NODE_PATH": f"{prefix}/node_modules"}, b"")
    return build


def _phpmailer(debug: int) -> Builder:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        doc = {**asdict(job), "debug": debug}
        return ["php", str(APPS / "phpmailer_app.php")], {"CLIENT_JOB": json.dumps(doc)}, b""
    return build


def _go(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    doc = {"mode": {"none": "plain"}.get(job.tls, job.tls), "host": job.host, "port": job.port,
           "ca_file": job.ca_file, "user": job.user}
    return [str(BUILT["go"])], {"CLIENT_JOB": json.dumps(doc)}, b""


def _java(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    store = BUILT["java_store"] if job.ca_file else ""
    mode = {"none": "plain"}.get(job.tls, job.tls)
    return (["java", "-cp", str(BUILT["java_cp"]), "JakartaClient"],
            {"CLIENT_JOB": " ".join([mode, job.host, str(job.port), str(store), job.user])}, b"")


BUILT: dict[str, Path | str] = {}
PY = str(ROOT / ".venv" / "bin" / "python")
_RB_NET = "ruby -rnet/smtp -ropenssl -e 'puts \"net-smtp #{Net::SMTP::VERSION} / Ruby #{RUBY_VERSION}\"'"
VARIANTS: tuple[Variant, ...] = (
    *(Variant("smtplib", f"debuglevel={d}", _py(PY, "smtplib", d),
              (PY, "-c", "import platform; print('Python', platform.python_version())")) for d in (0, 1, 2)),
    Variant("aiosmtplib", "aiosmtplib 5", _py("/tmp/aio5/bin/python", "aiosmtplib"),
            ("/tmp/aio5/bin/python", "-c", "import aiosmtplib; print('aiosmtplib', aiosmtplib.__version__)")),
    Variant("aiosmtplib", "aiosmtplib 3", _py("/tmp/aio3/bin/python", "aiosmtplib"),
            ("/tmp/aio3/bin/python", "-c", "import aiosmtplib; print('aiosmtplib', aiosmtplib.__version__)")),
    Variant("django", "django", _py(PY, "django"),
            (PY, "-c", "import django; print('Django', django.get_version())"), skip=("unsafe_no_verify",)),
    Variant("curl", "curl", _curl(False), ("sh", "-c", "curl --version | head -n1 | cut -d' ' -f1-2,5")),
    Variant("curl", "curl -v", _curl(True), ("sh", "-c", "curl --version | head -n1 | cut -d' ' -f1-2,5")),
    Variant("swaks", "swaks", _swaks, ("sh", "-c", "swaks --version | head -n1")),
    Variant("msmtp", "msmtp", _msmtp(False), ("sh", "-c", "msmtp --version | head -n1")),
    Variant("msmtp", "msmtp --debug", _msmtp(True), ("sh", "-c", "msmtp --version | head -n1")),
    *(Variant("openssl", f"s_client{' -brief' if br else ''}", _s_client(br), ("openssl", "version"),
              skip=("bad_password", "auth_not_offered", "unsafe_auth_in_clear", "plain_on_implicit",
                    "unsafe_no_verify"))
      for br in (False, True)),
    Variant("ruby", "net-smtp", _realpeer("net_smtp_client.rb", "ruby"), ("sh", "-c", _RB_NET),
            skip=("unsafe_no_verify",)),
    Variant("actionmailer", "actionmailer", _realpeer("actionmailer_client.rb", "ruby"),
            ("ruby", "-raction_mailer", "-e", "puts \"ActionMailer #{ActionMailer.version}\""),
            skip=("unsafe_no_verify",)),
    *(Variant("nodemailer", f"nodemailer {major}{' debug' if dbg else ''}", _node(f"/tmp/nm{major}", dbg),
              ("node", "-e", f"console.log('nodemailer', require('/tmp/nm{major}/node_modules/nodemailer/"
                             "package.json').version, '/ Node', process.version)"))
      for major in (6, 10) for dbg in (False, True)),
    Variant("php", "php streams", _realpeer("php_streams_client.php", "php"),
            ("php", "-r", "echo 'PHP ', PHP_VERSION, ' / ', OPENSSL_VERSION_TEXT, PHP_EOL;"),
            skip=("unsafe_no_verify",)),
    *(Variant("phpmailer", f"SMTPDebug={d}", _phpmailer(d),
              ("php", "-r", "require '/usr/share/php/libphp-phpmailer/autoload.php'; "
                            "echo 'PHPMailer ', PHPMailer\\PHPMailer\\PHPMailer::VERSION, PHP_EOL;"))
      for d in (0, 2, 4)),
    Variant("go", "net/smtp", _go, ("go", "version"), skip=("unsafe_no_verify",)),
    Variant("jakarta", "jakarta mail", _java, ("sh", "-c", "java -version 2>&1 | head -n1"),
            skip=("unsafe_no_verify",)),
)


def _build_compiled(work: Path, ca_file: Path) -> None:
    env = {**os.environ, "GOCACHE": str(work / "gocache"), "GOPATH": str(work / "gopath"), "GO111MODULE": "off",
           "CGO_ENABLED": "0"}
    subprocess.run(["go", "build", "-o", str(work / "goclient"), str(ERROR_APPS / "go_client.go")], check=True,
                   env=env, capture_output=True, timeout=300)
    BUILT["go"] = work / "goclient"
    cp = ":".join(JAKARTA_JARS)
    subprocess.run(["javac", "-cp", cp, "-d", str(work), str(ERROR_APPS / "JakartaClient.java")], check=True,
                   capture_output=True, timeout=300)
    store = work / "lab-trust.p12"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "lab", "-file", str(ca_file), "-keystore",
                    str(store), "-storetype", "PKCS12", "-storepass", "changeit"], check=True, capture_output=True,
                   timeout=60)
    BUILT["java_cp"], BUILT["java_store"] = f"{cp}:{work}", store


def _version(v: Variant) -> str:
    done = subprocess.run(list(v.version), capture_output=True, text=True, timeout=60, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "?"


def _port_of(lab: LabInfo, name: str) -> int:
    if name == "closed":  # a port nobody listens on: bind, note it, close
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    return (lab.servers.get(name) or lab.hostile[name]).port


def run_one(lab: LabInfo, v: Variant, s: Scenario, work_root: Path) -> dict[str, object]:
    port = _port_of(lab, s.server)
    job = Job(s.host, port, s.tls, str(lab.ca_file) if s.ca else "", s.verify,
              lab.user if s.user else "", 0)
    work = Path(tempfile.mkdtemp(dir=work_root))
    password = lab.password if s.password_ok else "not-the-password"
    argv, extra, stdin = v.build(job, work, password)
    env = {**os.environ, **extra, "CLIENT_PASSWORD": password, "CORPUS_PASSWORD": password, "HOME": str(work),
           "LC_ALL": "C.UTF-8", "NO_COLOR": "1"}
    if "SWAKS_OPT_auth_password" in extra and job.user:
        env["SWAKS_OPT_auth_password"] = password
    elif "SWAKS_OPT_auth_password" in env:  # swaks reads it as "do AUTH"
        del env["SWAKS_OPT_auth_password"]
    if v.client == "django" and job.ca_file:
        env["SSL_CERT_FILE"] = job.ca_file  # Django has no CA setting: the app's environment names the CA
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(stdin, timeout=KILL_AFTER)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        code = None
    shutil.rmtree(work, ignore_errors=True)
    text = out.decode(errors="replace")
    for secret in (lab.password, "not-the-password",
                   base64.b64encode(f"\0{lab.user}\0{password}".encode()).decode(),
                   base64.b64encode(password.encode()).decode()):
        text = text.replace(secret, "********")
    text = text.replace(str(ROOT), "<repo>").replace(f":{port}", f":{s.role_port}")
    text = text.replace(f" {port}", f" {s.role_port}").replace(f"={port}", f"={s.role_port}")
    lines = [ln if len(ln) <= 400 else ln[:400] + "[…]" for ln in text.strip().splitlines()]
    if len(lines) > 120:
        lines = [*lines[:60], "[…]", *lines[-60:]]
    case: dict[str, object] = {"scenario": s.id, "client": v.client, "variant": v.variant, "exit_code": code}
    return {**case, **label(s, v.client, code), "seconds": round(time.monotonic() - t0, 1),
            "text": "\n".join(lines)}


def capture(workers: int = 4, scenarios: tuple[Scenario, ...] = SCENARIOS) -> list[dict[str, object]]:
    work_root = Path(tempfile.mkdtemp(prefix="smtp-doctor-corpus-"))
    try:
        with run_lab_in_thread(work_root / "lab") as lab:
            _build_compiled(work_root, lab.ca_file)
            versions = {v.variant: _version(v) for v in VARIANTS}
            jobs = [(v, s) for s in scenarios for v in VARIANTS if s.id not in v.skip]
            with ThreadPoolExecutor(max_workers=workers) as pool:
                cases = list(pool.map(lambda j: run_one(lab, j[0], j[1], work_root), jobs))
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    for case in cases:
        case["version"] = versions[str(case["variant"])]
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write tests/corpus/explain/cases.json")
    ap.add_argument("--relabel", action="store_true", help="only re-derive the stored cases' labels")
    ap.add_argument("--second", action="store_true", help="the second corpus (SCENARIOS_2 -> cases2.json)")
    args = ap.parse_args()
    if args.relabel:
        relabel()
        return
    cases = capture(scenarios=SCENARIOS_2 if args.second else SCENARIOS)
    if args.write:
        (CASES_2 if args.second else CASES).write_text(json.dumps({"cases": cases}, indent=1, ensure_ascii=False)
                                                       + "\n")
    for c in cases:
        head = str(c["text"]).strip().splitlines()[-1:] or [""]
        print(f"{c['scenario']:22} {c['variant']:28} exit={c['exit_code']} {head[0][:90]}")
    print(len(cases), "cases", file=sys.stderr)


if __name__ == "__main__":
    main()
