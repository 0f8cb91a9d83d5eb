"""Corpus 3 for explain: new client families and versions, every scenario of corpus 1 and 2 plus three
server-side refusals, run for real against the lab; stored in cases3.json (the schema of cases.json).

Why: corpora 1 and 2 have both been looked at while explain was tuned, so their figures no longer say how
explain does on the next log a user pastes. This corpus is text nobody has tuned on: other CPython, Django,
aiosmtplib and Nodemailer versions, other verbosities (PHPMailer SMTPDebug 1/3, Python ``logging``,
net-smtp's debug_output, Jakarta Mail's mail.debug, curl --trace-ascii, s_client -quiet/-showcerts) and
client families the other corpora lack (Flask-Mail, emailjs, Symfony Mailer, Laravel 8, the mail gem,
Perl Net::SMTP and git send-email, s-nail). It reuses capture.py's machinery (Scenario, Job, Variant,
run_one, label, the builders, the lab); only the variants and the three new scenarios are its own.

The new scenarios are Postfix's refusals: spoken by the lab's scripted servers (lab/hostile.py ``SCRIPTS``,
action ``answer``: reply and go on, as Postfix does) -- STARTTLS answered "454 4.7.0 TLS not available due
to local problem" (Postfix with a broken certificate or key), a RCPT refused by a DNSBL, an open-relay
refusal -- and the first and last again from a real Postfix (tests/realpeers/peers.py: one instance that
will not relay for an unauthenticated client, one whose certificate is paired with another key). The
scripted servers and Postfix have their own CAs; those scenarios give the clients that CA.

    .venv/bin/python -m tests.corpus.explain.capture3            # prints a summary
    .venv/bin/python -m tests.corpus.explain.capture3 --write    # (re)writes cases3.json

Re-capturing is a manual step (tests read the stored cases3.json). Beyond what capture.py needs:

    apt-get install -y --no-install-recommends python3-flask-mail git-email libmailtools-perl \\
        s-nail libauthen-sasl-perl \\
        php-symfony-mailer php-laravel-framework ruby-mail
    /usr/bin/python3 -m venv /tmp/c3/dj42 && /tmp/c3/dj42/bin/pip install 'django>=4.2,<5'
    .venv/bin/python -m venv /tmp/c3/aio2 && /tmp/c3/aio2/bin/pip install 'aiosmtplib>=2,<3'
    .venv/bin/python -m venv /tmp/c3/aio4 && /tmp/c3/aio4/bin/pip install 'aiosmtplib>=4,<5'
    npm install --prefix /tmp/c3/nm7 nodemailer@7; npm install --prefix /tmp/c3/nm8 nodemailer@8
    npm install --prefix /tmp/c3/ejs emailjs

and Postfix + Dovecot as the real-peer tier installs them (scripts/install-system-deps.sh); it runs as root
(Postfix's own users), like tests/realpeers.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from smtp_doctor.lab import LabInfo, LabServer, run_lab_in_thread
from smtp_doctor.lab.hostile import scripted_in_thread

from . import capture
from .capture import APPS, Builder, Job, Scenario, Variant

CASES_3 = capture.HERE / "cases3.json"
SYS_PY = "/usr/bin/python3"

#: Postfix's refusals from the scripted servers (``name+tls``: STARTTLS offered, AUTH only inside TLS).
SCENARIOS_3: tuple[Scenario, ...] = (
    Scenario("server_tls_broken", "starttls-454+tls", "starttls", "server_tls_broken"),
    Scenario("blocklisted", "rcpt-dnsbl+tls", "starttls", "blocklisted", user=False, role_port=25),
    Scenario("relay_denied", "rcpt-relay-denied+tls", "starttls", "relay_denied", user=False, role_port=25),
)
#: The same refusals from a real Postfix 3.7 (tests/realpeers/peers.py, Dovecot SASL): its port-25 listener
#: refusing to relay for an unauthenticated client, and a second instance whose smtpd_tls_chain_files pairs
#: the certificate with another key (Postfix then answers STARTTLS with 454, as on a broken deployment).
SCENARIOS_POSTFIX: tuple[Scenario, ...] = (
    Scenario("server_tls_broken_postfix", "postfix-broken-key", "starttls", "server_tls_broken", role_port=25),
    Scenario("relay_denied_postfix", "postfix-relay", "starttls", "relay_denied", user=False, role_port=25),
)
ALL_SCENARIOS: tuple[Scenario, ...] = (*capture.SCENARIOS, *capture.SCENARIOS_2, *SCENARIOS_3, *SCENARIOS_POSTFIX)
SCRIPTED = frozenset(s.server for s in SCENARIOS_3)

#: A new variant whose real behaviour makes another failure than the scenario's (as capture.CLIENT_BEHAVIOUR,
#: but by variant: one family holds variants that behave differently): (variant, scenario) -> (mode, why).
_SWIFT_QUIET = ("SwiftMailer 6 (Laravel 8) against a server without PIPELINING: every RCPT refused, it sends RSET and "
                "send() returns 0 without an exception, so the app says 'sent' (seen: exit 0) though nothing was "
                "accepted (against Postfix, which pipelines, DATA gets 554 5.5.1 and it throws)")
CLIENT_BEHAVIOUR_3: dict[tuple[str, str], tuple[str, str]] = {
    ("laravel 8", "blocklisted"): ("blocklisted", _SWIFT_QUIET),
    ("laravel 8", "relay_denied"): ("relay_denied", _SWIFT_QUIET),
    ("mail gem", "auth_not_offered"): (
        "cert_unknown_issuer", "mail 2.7.1 (Debian ruby-mail), as ActionMailer in capture.CLIENT_BEHAVIOUR: "
        "enable_starttls_auto: false does not switch STARTTLS off, and that STARTTLS ignores ca_file (seen: "
        "exit 1, SSL_connect ... certificate verify failed (unable to get local issuer certificate))"),
}


def label3(s: Scenario, client: str, variant: str, code: int | None) -> dict[str, object]:
    """capture.label, with this corpus's own CLIENT_BEHAVIOUR_3 entries."""
    if (variant, s.id) in CLIENT_BEHAVIOUR_3:
        expect, why = CLIENT_BEHAVIOUR_3[(variant, s.id)]
        return {"expect": expect, "why": why, "accept": []}
    return capture.label(s, client, code)


def _app(runtime: list[str], script: str, **extra: object) -> Builder:
    """An app of clients/ reading $CLIENT_JOB (the Job as JSON plus ``extra``) and $CLIENT_PASSWORD."""
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        doc = {**asdict(job), **extra}
        env = {"CLIENT_JOB": json.dumps(doc)}
        if "emailjs" in script:
            env["EMAILJS"] = "/tmp/c3/ejs/node_modules/emailjs/dist/index.js"
        return [*runtime, str(APPS / script)], env, b""
    return build


def _php(script: str, **extra: object) -> Builder:
    """PHP with the CA as PHP's own trust (openssl.cafile), as a php.ini would set it."""
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        ini = ["-d", f"openssl.cafile={job.ca_file}"] if job.ca_file else []
        return _app(["php", *ini], script, **extra)(job, work, password)
    return build


def _swaks_short(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    """swaks with its short options (-tls: STARTTLS required, -tlsc: implicit TLS) and AUTH LOGIN. Not -tlsos:
    when STARTTLS is not offered it goes on in clear (the scenario's client requires STARTTLS)."""
    argv = ["swaks", "-s", job.host, "-p", str(job.port), "-to", job.recipient, "-f", job.sender,
            "--timeout", str(job.timeout), "--helo", "client.example.test"]
    if job.user:
        argv += ["-a", "LOGIN", "-au", job.user]
    if job.verify:
        argv.append("--tls-verify")
    if job.tls == "starttls":
        argv.append("-tls")
    elif job.tls == "implicit":
        argv.append("-tlsc")
    if job.ca_file:
        argv += ["--tls-ca-path", job.ca_file]
    return argv, {"SWAKS_OPT_auth_password": password}, b""


def _swaks_quiet(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    """swaks --silent 1 (only the errors), as scripts and cron jobs run it."""
    argv, env, stdin = capture._swaks(job, work, password)
    return [*argv, "--silent", "1"], env, stdin


def _curl_trace(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    argv, env, stdin = capture._curl(False)(job, work, password)
    return [*argv, "--trace-ascii", "-"], env, stdin


def _s_client_flag(flag: str) -> Builder:
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        argv, env, stdin = capture._s_client(False)(job, work, password)
        return [*argv, flag], env, stdin
    return build


def _msmtp_serverinfo(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    argv, env, _ = capture._msmtp(False)(job, work, password)
    return [argv[0], argv[1], argv[2], "--serverinfo"], env, b""


def _snail(verbose: bool) -> Builder:
    """s-nail's built-in SMTP client (v15-compat URL syntax), -Ssendwait so the failure is reported."""
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        scheme = "smtps" if job.tls == "implicit" else "smtp"
        who = f"{job.user}@" if job.user else ""
        argv = ["s-nail", "-:/", "-Sv15-compat", "-Ssendwait", "-Snosave", "-Shostname=client.example.test",
                f"-Smta={scheme}://{who}{job.host}:{job.port}", f"-Ssmtp-auth={'plain' if job.user else 'none'}",
                "-Stls-verify=" + ("strict" if job.verify else "ignore")]
        if job.user:
            argv.append(f"-Spassword={password}")
        if job.tls == "starttls":
            argv.append("-Ssmtp-use-starttls")
        if job.ca_file:
            argv.append(f"-Stls-ca-file={job.ca_file}")
        if verbose:
            argv.append("-v")
        argv += ["-r", job.sender, "-s", "corpus", job.recipient]
        return argv, {}, b"corpus\n"
    return build


def _send_email(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    """git send-email (Perl, Net::SMTP) with --smtp-debug=1, one patch file."""
    patch = work / "0001-corpus.patch"
    patch.write_text(f"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
                     f"From: {job.sender}\nDate: Tue, 24 Nov 2026 12:00:00 +0000\nSubject: [PATCH] corpus\n\n"
                     "corpus\n---\n a | 1 +\n 1 file changed, 1 insertion(+)\n\n"
                     "diff --git a/a b/a\nnew file mode 100644\n--- /dev/null\n+++ b/a\n@@ -0,0 +1 @@\n+a\n"
                     "-- \n2.39.5\n")
    argv = ["git", "send-email", "--confirm=never", "--suppress-cc=all", "--no-validate", "--smtp-debug=1",
            f"--from={job.sender}", f"--to={job.recipient}", f"--smtp-server={job.host}",
            f"--smtp-server-port={job.port}", "--smtp-domain=client.example.test",
            f"--smtp-ssl-cert-path={job.ca_file if job.verify else ''}"]
    if job.tls != "none":
        argv.append("--smtp-encryption=" + ("ssl" if job.tls == "implicit" else "tls"))
    if job.user:
        argv += [f"--smtp-user={job.user}", f"--smtp-pass={password}"]
    ident = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "App", "GIT_AUTHOR_EMAIL": job.sender,
             "GIT_COMMITTER_NAME": "App", "GIT_COMMITTER_EMAIL": job.sender}
    return [*argv, patch.name], ident, b""


def _go_sendmail(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    env = {"CLIENT_JOB": json.dumps({"host": job.host, "port": job.port, "user": job.user})}
    if job.ca_file:
        env["SSL_CERT_FILE"] = job.ca_file  # Go's system roots on Linux: how a container names its CA
    return [str(capture.BUILT["go_sendmail"])], env, b""


def _jakarta_debug(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    store = str(capture.BUILT["java_store"]) if job.ca_file else ""
    mode = {"none": "plain"}.get(job.tls, job.tls)
    return (["java", "-cp", str(capture.BUILT["java_cp"]), "JakartaDebug"],
            {"CLIENT_JOB": " ".join([mode, job.host, str(job.port), store, job.user, str(job.verify).lower()])},
            b"")


def _v(family: str, variant: str, build: Builder, version: tuple[str, ...], skip: tuple[str, ...] = ()
       ) -> Variant:
    return Variant(family, variant, build, version, skip)


_PYV = "import platform; print('Python', platform.python_version())"
_NODEV = ("console.log('nodemailer', require('/tmp/c3/nm{m}/node_modules/nodemailer/package.json').version, "
          "'/ Node', process.version)")
_PHPMAILERV = ("require '/usr/share/php/libphp-phpmailer/autoload.php'; "
               "echo 'PHPMailer ', PHPMailer\\PHPMailer\\PHPMailer::VERSION, ' / PHP ', PHP_VERSION, PHP_EOL;")
#: what a client cannot be set to (it is skipped there): no STARTTLS-off switch, no verify-off switch, ...
NOT_SEND = ("bad_password", "auth_not_offered", "unsafe_auth_in_clear", "unsafe_no_verify", "no_common_mechanism",
            "blocklisted", "relay_denied", "relay_denied_postfix")
VARIANTS_3: tuple[Variant, ...] = (
    *(_v("smtplib", f"Debian python3 debuglevel={d}", capture._py(SYS_PY, "smtplib", d), (SYS_PY, "-c", _PYV))
      for d in (0, 1)),
    _v("smtplib", "smtplib + logging", _app([SYS_PY], "py3_app.py", lib="logging"), (SYS_PY, "-c", _PYV)),
    _v("django", "django 4.2", capture._py("/tmp/c3/dj42/bin/python", "django"),
       ("/tmp/c3/dj42/bin/python", "-c", "import django, platform; print('Django', django.get_version(), "
                                      "'/ Python', platform.python_version())"), skip=("unsafe_no_verify",)),
    *(_v("aiosmtplib", f"aiosmtplib {m}", capture._py(f"/tmp/c3/aio{m}/bin/python", "aiosmtplib"),
         (f"/tmp/c3/aio{m}/bin/python", "-c", "import aiosmtplib; print('aiosmtplib', aiosmtplib.__version__)"))
      for m in (2, 4)),
    _v("flask", "flask-mail", _app([SYS_PY], "py3_app.py", lib="flask"),
       (SYS_PY, "-c", "import importlib.metadata as m; print('Flask-Mail', m.version('flask-mail'), '/ Flask', "
                      "m.version('flask'))"), skip=("unsafe_no_verify",)),
    *(_v("nodemailer", f"nodemailer {m}{' debug' if dbg else ''}", capture._node(f"/tmp/c3/nm{m}", dbg),
         ("node", "-e", _NODEV.format(m=m)))
      for m in (7, 8) for dbg in (False, True)),
    *(_v("emailjs", f"emailjs{' logger' if dbg else ''}", _app(["node"], "emailjs_app.mjs", debug=dbg),
         ("node", "-e", "console.log('emailjs', require('/tmp/c3/ejs/node_modules/emailjs/package.json').version, "
                        "'/ Node', process.version)"))
      for dbg in (False, True)),
    *(_v("phpmailer", f"SMTPDebug={d}", capture._phpmailer(d), ("php", "-r", _PHPMAILERV)) for d in (1, 3)),
    *(_v("symfony", f"symfony mailer{' getDebug' if d else ''}", _php("symfony_app.php", debug=d),
         ("sh", "-c", "dpkg-query -W -f='symfony/mailer ${Version} / ' php-symfony-mailer; php -r 'echo "
                      "\"PHP \", PHP_VERSION, PHP_EOL;'"), skip=("auth_not_offered", "starttls_missing"))
      for d in (0, 1)),
    _v("laravel", "laravel 8", _php("laravel_app.php"),
       ("sh", "-c", "dpkg-query -W -f='laravel/framework ${Version} / ' php-laravel-framework; "
                    "dpkg-query -W -f='swiftmailer ${Version}\\n' php-swiftmailer")),
    _v("ruby", "mail gem", _app(["ruby"], "ruby3_app.rb", lib="mail"),
       ("ruby", "-rmail", "-e", "puts \"mail #{Mail::VERSION::STRING} / Ruby #{RUBY_VERSION}\"")),
    _v("ruby", "net-smtp debug_output", _app(["ruby"], "ruby3_app.rb", lib="net-smtp-debug"),
       ("sh", "-c", capture._RB_NET)),
    *(_v("perl", f"Net::SMTP{' Debug' if d else ''}", _app(["perl"], "perl_app.pl", debug=d),
         ("perl", "-MNet::SMTP", "-MIO::Socket::SSL", "-e",
          "print qq{Net::SMTP $Net::SMTP::VERSION / IO::Socket::SSL $IO::Socket::SSL::VERSION / Perl $^V\\n}"))
      for d in (0, 1)),
    _v("perl", "git send-email --smtp-debug", _send_email, ("git", "--version")),
    *(_v("mailx", f"s-nail{' -v' if vb else ''}", _snail(vb), ("sh", "-c", "s-nail -V | head -n1"))
      for vb in (False, True)),
    _v("curl", "curl --trace-ascii", _curl_trace, ("sh", "-c", "curl --version | head -n1 | cut -d' ' -f1-2,5")),
    *(_v("openssl", f"s_client {flag}", _s_client_flag(flag), ("openssl", "version"),
         skip=(*NOT_SEND, "plain_on_implicit")) for flag in ("-quiet", "-showcerts")),
    _v("swaks", "swaks -tls/-tlsc -a LOGIN", _swaks_short, ("sh", "-c", "swaks --version | head -n1")),
    _v("swaks", "swaks --silent 1", _swaks_quiet, ("sh", "-c", "swaks --version | head -n1")),
    _v("msmtp", "msmtp --serverinfo", _msmtp_serverinfo, ("sh", "-c", "msmtp --version | head -n1"),
       skip=NOT_SEND),
    # SendMail cannot be set to implicit TLS, to no TLS, to no verification, nor to require STARTTLS (it
    # does STARTTLS when offered, else sends AUTH in clear to localhost)
    _v("go", "smtp.SendMail log.Fatal", _go_sendmail, ("go", "version"),
       skip=(*(s.id for s in ALL_SCENARIOS if s.tls != "starttls" or not s.verify), "starttls_missing")),
    _v("jakarta", "jakarta mail.debug", _jakarta_debug,
       ("sh", "-c", "dpkg-query -W -f='jakarta-mail ${Version} / ' libjakarta-mail-java; java -version 2>&1 | "
                    "head -n1")),
)


def _build_more(work: Path, more_cas: set[Path]) -> None:
    """capture.py's Go and Java builds, plus JakartaDebug, go_sendmail, and the scripted servers' CA in the
    Java store."""
    env = {**os.environ, "GOCACHE": str(work / "gocache"), "GOPATH": str(work / "gopath"), "GO111MODULE": "off",
           "CGO_ENABLED": "0"}
    subprocess.run(["go", "build", "-o", str(work / "go_sendmail"), str(APPS / "go_sendmail.go")], check=True,
                   env=env, capture_output=True, timeout=300)
    capture.BUILT["go_sendmail"] = work / "go_sendmail"
    subprocess.run(["javac", "-cp", ":".join(capture.JAKARTA_JARS), "-d", str(work), str(APPS / "JakartaDebug.java")],
                   check=True, capture_output=True, timeout=300)
    for i, ca in enumerate(sorted(more_cas)):
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", f"more{i}", "-file", str(ca),
                        "-keystore", str(capture.BUILT["java_store"]), "-storetype", "PKCS12", "-storepass",
                        "changeit"], check=True, capture_output=True, timeout=60)


def _lab_for(lab: LabInfo, extra: dict[str, tuple[int, Path]], s: Scenario) -> LabInfo:
    """The lab as run_one sees it for ``s``: a scripted server's or Postfix's scenario gets that server and
    its CA."""
    if s.server not in extra:
        return lab
    port, ca_file = extra[s.server]
    return dataclasses.replace(lab, ca_file=ca_file, hostile={**lab.hostile, s.server: LabServer(s.server, lab.host,
                                                                                               port)})


@contextlib.contextmanager
def _postfix(base: Path) -> Iterator[dict[str, tuple[int, Path]]]:
    """Two real Postfix instances (stopped at the end): server name -> (port, CA file)."""
    from tests.realpeers import peers  # only a capture run needs Postfix and Dovecot

    stack: list[peers.Daemon] = []
    pki = peers.PeerPKI(base / "pki")
    try:
        relay = peers.start_postfix(base / "relay", pki, stack)
        broken = peers.start_postfix(base / "broken", pki, stack)
        cert = pki.directory / "valid-cert.pem"  # start_postfix's certificate
        _, other_key = pki.issue("expired")  # a key that is not the certificate's
        main_cf = base / "broken" / "postfix" / "conf" / "main.cf"
        main_cf.write_text(re.sub(r"(?m)^smtpd_tls_chain_files = .*$", f"smtpd_tls_chain_files = {other_key}, {cert}",
                                  main_cf.read_text()))
        peers.run([peers.POSTFIX, "-c", str(main_cf.parent), "reload"])
        time.sleep(2)  # smtpd processes started after the reload read the broken pair
        yield {"postfix-relay": (relay.listeners["smtp"].port, pki.ca_file),
               "postfix-broken-key": (broken.listeners["smtp"].port, pki.ca_file)}
    finally:
        for daemon in reversed(stack):
            daemon.stop()


def capture3(workers: int = 4, only: str = "", scenarios: str = "") -> list[dict[str, object]]:
    variants = tuple(v for v in VARIANTS_3 if not only or only in v.variant)
    wanted = tuple(s for s in ALL_SCENARIOS if not scenarios or s.id in scenarios.split(","))
    work_root = Path(tempfile.mkdtemp(prefix="smtp-doctor-corpus3-"))
    work_root.chmod(0o755)  # Postfix's own users must reach their queue and data folders inside it
    try:
        with run_lab_in_thread(work_root / "lab") as lab, scripted_in_thread(work_root / "scripted") as scripted, \
                _postfix(work_root / "postfix") as extra:
            extra.update({name: (port, scripted[0]) for name, port in scripted[1].items() if name in SCRIPTED})
            capture._build_compiled(work_root, lab.ca_file)
            _build_more(work_root, {scripted[0], *(ca for _, ca in extra.values())})
            versions = {v.variant: capture._version(v) for v in variants}
            jobs = [(v, s) for s in wanted for v in variants if s.id not in v.skip]
            with ThreadPoolExecutor(max_workers=workers) as pool:
                cases = list(pool.map(lambda j: capture.run_one(_lab_for(lab, extra, j[1]), j[0], j[1],
                                                                work_root), jobs))
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    by_id = {s.id: s for s in ALL_SCENARIOS}
    for case in cases:  # the run's random work folder (CA files, patch) as one stable name, like <repo>
        case["text"] = str(case["text"]).replace(str(work_root), "<work>")
        case.update(label3(by_id[str(case["scenario"])], str(case["client"]), str(case["variant"]),
                           case["exit_code"]))  # type: ignore[arg-type]
        case["version"] = versions[str(case["variant"])]
    return cases


def relabel3() -> None:
    """Re-derive every stored case's label from its scenario, variant and exit code (no client is run)."""
    by_id = {s.id: s for s in ALL_SCENARIOS}
    doc = json.loads(CASES_3.read_text(encoding="utf-8"))
    for case in doc["cases"]:
        case.update(label3(by_id[case["scenario"]], case["client"], case["variant"], case["exit_code"]))
    CASES_3.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write tests/corpus/explain/cases3.json")
    ap.add_argument("--only", default="", help="only the variants whose name contains this (a trial run)")
    ap.add_argument("--scenarios", default="", help="only these scenarios (comma-separated; a trial run)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--relabel", action="store_true", help="only re-derive the stored cases' labels")
    args = ap.parse_args()
    if args.relabel:
        relabel3()
        return
    cases = capture3(args.workers, args.only, args.scenarios)
    if args.write:
        CASES_3.write_text(json.dumps({"cases": cases}, indent=1, ensure_ascii=False) + "\n")
    for c in cases:
        head = str(c["text"]).strip().splitlines()[-1:] or [""]
        print(f"{c['scenario']:22} {c['variant']:28} exit={c['exit_code']} {c['expect']:24} {head[0][:80]}")
    print(len(cases), "cases", file=sys.stderr)


if __name__ == "__main__":
    main()
