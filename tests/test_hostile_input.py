"""A server that breaks the dialogue at any phase gets a verdict naming what it did — never exit 70.

The scripted servers (lab/hostile.py ``SCRIPTS``) speak SMTP normally and turn hostile at one chosen
command: they close, reset, send a line that is not SMTP, a NUL, a 20 MB challenge, endless challenges.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtp_doctor import i18n, probe_async
from smtp_doctor.credentials import AuthPolicy, Credentials
from smtp_doctor.diagnose.auth import delivery_findings
from smtp_doctor.facts import AuthOutcome, Mode
from smtp_doctor.lab.hostile import scripted_in_thread
from smtp_doctor.probe import ProbeOptions
from smtp_doctor.probe.send import Delivery, build_message, send_test

OPTS = ProbeOptions(timeout=8, greeting_timeout=4, command_timeout=4, tls_timeout=4)
CREDS = Credentials("someone", "canary-Secret-9f1")
SMTP_DOCTOR = [sys.executable, "-m", "smtp_doctor"]

Scripted = tuple[Path, dict[str, int]]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scripted]:
    with scripted_in_thread(tmp_path_factory.mktemp("scripted")) as servers:
        yield servers


def _send(port: int, creds: Credentials | None = None, mode: Mode = Mode.PLAINTEXT) -> Delivery:
    msg = build_message("a@b.example", ["c@d.example"], "t", "x", "0")
    return asyncio.run(send_test("localhost", "127.0.0.1", port, mode, OPTS, msg, "a@b.example",
                                 ["c@d.example"], creds=creds, mechanism="PLAIN" if creds else None))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("name", "mode", "expect"), [
    ("greeting-garbage", Mode.PLAINTEXT, ("greeting", "malformed")),
    ("ehlo-close", Mode.PLAINTEXT, ("ehlo", "closed")),
    ("ehlo-close+tls", Mode.STARTTLS, ("ehlo_tls", "closed")),
    ("starttls-reset+tls", Mode.STARTTLS, ("starttls", "reset")),
    ("greeting-garbage", Mode.IMPLICIT_TLS, ("tls", "tls")),
    ("", Mode.PLAINTEXT, ("connect", "connect")),
])
def test_session_phases_of_send_end_in_a_verdict(scripted: Scripted, name: str, mode: Mode,
                                                  expect: tuple[str, str]) -> None:
    d = _send(scripted[1][name] if name else _free_port(), mode=mode)
    assert (d.failed_phase, d.broken) == expect
    [finding] = delivery_findings(d, "x")
    assert finding.id == "send.broken" and "{" not in finding.verdict("ja")


# script: (phase where it stops, what the server did)
SEND_BREAKS = {
    "unicode-digit-code": ("mail", "malformed"),
    "mail-close": ("mail", "closed"),
    "mail-reset": ("mail", "reset"),
    "rcpt-close": ("rcpt", "closed"),
    "rcpt-malformed": ("rcpt", "malformed"),
    "data-close": ("data", "closed"),
    "data-reset": ("data", "reset"),
    "data-end-close": ("data_end", "closed"),
    "data-end-malformed": ("data_end", "nul_byte"),
    "data-end-inconsistent": ("data_end", "inconsistent_codes"),
    "auth-close": ("auth", "closed"),
    "auth-reset": ("auth", "reset"),
    "auth-malformed": ("auth", "malformed"),
    "auth-huge-challenge": ("auth", "line_too_long"),
    "auth-endless-challenges": ("auth", "endless_challenges"),
    "auth-250": ("auth", "unexpected_reply"),
}


@pytest.mark.parametrize("name", sorted(SEND_BREAKS))
def test_every_send_phase_ends_in_a_verdict_naming_what_the_server_did(scripted: Scripted, name: str) -> None:
    _, ports = scripted
    d = _send(ports[name], CREDS if name.startswith("auth-") else None)
    assert (d.failed_phase, d.broken) == SEND_BREAKS[name]
    [finding] = delivery_findings(d, "x")
    assert finding.id == "send.broken"
    for lang in i18n.LANGUAGES:
        assert finding.verdict(lang) and "{" not in finding.verdict(lang)
    assert str(CREDS.password) not in repr(d) + "".join(line.text for line in d.transcript)


def test_a_refusal_followed_by_a_hang_up_is_the_refusal(scripted: Scripted) -> None:
    d = _send(scripted[1]["rcpt-refuse-close"])
    assert (d.failed_phase, d.broken) == ("rcpt", None)
    assert [f.id for f in delivery_findings(d, "x")] == ["send.refused_recipient"]


def test_a_well_behaved_script_delivers(scripted: Scripted) -> None:
    """The control: the same scripted server, hostile at a command never sent, queues the message."""
    d = _send(scripted[1]["ehlo-bad-keywords"], CREDS)
    assert d.queued and d.failed_phase is None


@pytest.mark.parametrize("name", ["auth-close", "auth-reset", "auth-malformed", "auth-huge-challenge",
                                  "auth-endless-challenges"])
def test_a_broken_auth_exchange_is_not_blamed_on_the_credentials(scripted: Scripted, name: str) -> None:
    report = asyncio.run(probe_async("127.0.0.1", [scripted[1][name]], OPTS, CREDS,
                                     AuthPolicy(allow_cleartext=True)))
    d = report.ports[0]
    [attempt] = d.facts.auth_attempts
    assert attempt.outcome is AuthOutcome.ERROR, attempt
    assert attempt.reason == f"auth.reason.{SEND_BREAKS[name][1]}"
    ids = {f.id for f in d.findings}
    assert "auth.none_completed" in ids and "auth.broken" in ids
    assert not ids & {"auth.none_works", "auth.rejected_credentials"}, ids


def test_auth_attempts_of_a_slow_server_run_side_by_side(lab: object) -> None:
    """The lab's slow-greeting server pauses 6 s per connection; two mechanisms must not cost 12 s."""
    import time

    from smtp_doctor.lab import LabInfo

    assert isinstance(lab, LabInfo)
    srv = lab.servers["slow-greeting"]
    started = time.monotonic()
    report = asyncio.run(probe_async(srv.host, [srv.port], ProbeOptions(timeout=20, ca_file=str(lab.ca_file)),
                                     Credentials(lab.user, lab.password)))
    elapsed = time.monotonic() - started
    attempts = report.ports[0].facts.auth_attempts
    assert len(attempts) >= 2 and all(a.outcome is AuthOutcome.OK for a in attempts), attempts
    assert elapsed < 6.0 * (1 + len(attempts)) - 3.0, elapsed  # sequential would be 6 s × (1 + attempts)


@pytest.mark.parametrize(("name", "expect"), [
    ("ehlo-unicode-size", "SIZE"), ("ehlo-300-lines", "X-EXT-299"), ("ehlo-bad-keywords", "SIZE")])
def test_odd_ehlo_replies_are_read_not_fatal(scripted: Scripted, name: str, expect: str) -> None:
    ca, ports = scripted
    report = asyncio.run(probe_async("localhost", [ports[f"{name}+tls"]],
                                     ProbeOptions(timeout=8, ca_file=str(ca))))
    f = report.ports[0].facts
    assert f.mode is Mode.STARTTLS, f  # STARTTLS is seen even after 300 other lines
    assert f.ehlo_tls is not None and f.ehlo_tls.has(expect) and f.ehlo_tls.size is None
    assert f.protocol_error is None
    odd = [x for x in report.ports[0].findings if x.id == "smtp.ehlo_malformed"]
    assert bool(odd) is (name != "ehlo-300-lines")  # SIZE ², SIZE 10MB, ①TURBO are named; X-EXT-1 is fine
    assert all(x.verdict("ja") and "{" not in x.verdict("en") for x in odd)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CANARY_PW": CREDS.password or "", "COLUMNS": "200"}
    return subprocess.run([*SMTP_DOCTOR, *args], capture_output=True, text=True, timeout=90, env=env)


@pytest.mark.parametrize(("name", "phase"), [("mail-close", "MAIL FROM"), ("rcpt-malformed", "RCPT TO"),
                                             ("data-end-close", "after DATA"), ("unicode-digit-code", "MAIL")])
def test_send_cli_gives_a_verdict_and_exit_1(scripted: Scripted, name: str, phase: str) -> None:
    ca, ports = scripted
    r = _cli("send", f"localhost:{ports[name + '+tls']}", "--ca-file", str(ca), "--from", "a@b.example",
             "--to", "c@d.example")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Sending stopped at" in r.stdout and phase in r.stdout
    assert "internal error" not in r.stderr


def test_send_json_names_what_the_server_did(scripted: Scripted) -> None:
    ca, ports = scripted
    r = _cli("send", f"localhost:{ports['rcpt-close+tls']}", "--ca-file", str(ca), "--from", "a@b.example",
             "--to", "c@d.example", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and doc["delivery"]["failed_phase"] == "rcpt" and doc["delivery"]["broken"] == "closed"
    assert [f["id"] for f in doc["findings"]] == ["send.broken"]


def test_cli_size_unicode_digit_is_no_crash_in_probe(scripted: Scripted) -> None:
    ca, ports = scripted
    r = _cli("probe", f"localhost:{ports['ehlo-unicode-size+tls']}", "--ca-file", str(ca), "--json")
    assert r.returncode in (0, 1), r.stderr
    assert "internal error" not in r.stderr


# ---- local bad input: one line on stderr, exit 2, never a traceback or a read that never ends ---------------

def _local(*args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMTP_DOCTOR, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, **kw)  # type: ignore[call-overload]


def _one_line_exit_2(r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines and "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1 and lines[0].startswith("smtp-doctor: "), r.stderr  # one line, not click's usage block


@pytest.mark.parametrize("args", [
    ("probe", "127.0.0.1:\u00b2"),
    ("send", "127.0.0.1", "-p", "\u00b2", "--from", "a@b.example", "--to", "c@d.example"),
    ("probe", "127.0.0.1:1", "--timeout", "nan"),
    ("send", "127.0.0.1:1", "--timeout", "nan", "--from", "a@b.example", "--to", "c@d.example"),
    ("probe", "127.0.0.1:1", "--servername", "a" * 300),
    ("probe", "127.0.0.1:1", "--servername", "a" * 64 + ".example"),
    ("lint", ""), ("check", ""), ("fix", ""),
    ("explain", "--log", "/dev/zero"),
    ("probe", "127.0.0.1:1", "--ca-file", "/dev/zero"),
    ("send", "127.0.0.1:1", "--ca-file", "/dev/zero", "--from", "a@b.example", "--to", "c@d.example"),
])
def test_bad_local_input_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    _one_line_exit_2(_local(*args))


def test_a_fifo_given_as_log_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _one_line_exit_2(_local("explain", "--log", str(fifo)))


@pytest.mark.parametrize("args", [("explain", "-"), ("explain", "--log", "-")])
def test_closed_stdin_is_a_usage_error(args: tuple[str, ...]) -> None:
    r = _local(*args, stdin=None, preexec_fn=lambda: os.close(0))
    _one_line_exit_2(r)
    assert "standard input" in r.stderr


def test_non_utf8_credentials_are_refused_before_any_connection(tmp_path: Path) -> None:
    base = [*SMTP_DOCTOR, "send", "127.0.0.1:1", "--from", "a@b.example", "--to", "c@d.example"]
    env = {**os.environb, b"BAD_PW": b"\xff\xfe"}
    for extra in ([b"--user", b"u", b"--password-env", b"BAD_PW"],
                  [b"--user", b"u\xff", b"--password-env", b"PATH"]):
        r = subprocess.run([a.encode() for a in base] + extra, capture_output=True, timeout=60, env=env)
        _one_line_exit_2(subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode()))
    pw = tmp_path / "pw"
    pw.write_bytes(b"\xff\xfe secret\n")
    _one_line_exit_2(_local("send", "127.0.0.1:1", "--from", "a@b.example", "--to", "c@d.example",
                            "--user", "u", "--password-file", str(pw)))


def test_password_file_dev_zero_ends() -> None:
    r = _local("send", "127.0.0.1:1", "--from", "a@b.example", "--to", "c@d.example", "--user", "u",
               "--password-file", "/dev/zero", "--timeout", "2")
    assert r.returncode == 3, r.stderr  # read (bounded), then nothing listens on port 1


@pytest.mark.parametrize(("name", "text"), [
    (".env", "MAILER_DSN=smtp://u:p@mail.example:" + "9" * 5000 + "\n"),
    (".env", "MAILER_DSN=smtp://u:p@mail.example:\u00b2\n"),
    ("application.yml", "spring:\n  mail:\n    host: x\n    port: " + "9" * 5000 + "\n"),
])
def test_numbers_int_cannot_convert_in_configs_are_no_crash(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    r = _local("lint", str(tmp_path / name))
    assert r.returncode in (0, 1), r.stderr
    assert "internal error" not in r.stderr


@pytest.mark.parametrize("encoding", ["shift_jis", "euc-jp", "ascii"])
def test_japanese_output_on_a_terminal_that_cannot_show_every_character(encoding: str) -> None:
    fixture = Path(__file__).parent / "fixtures" / "configs" / "laravel"
    r = subprocess.run([*SMTP_DOCTOR, "--lang", "ja", "lint", str(fixture)], capture_output=True, timeout=60,
                       env={**os.environ, "PYTHONIOENCODING": encoding})
    assert r.returncode in (0, 1), r.stderr
    assert b"internal error" not in r.stderr and r.stdout.strip()
    r.stdout.decode(encoding)  # what was written is valid in the terminal's encoding


def test_stdout_closed_early_is_exit_0(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures" / "configs" / "laravel"
    for i in range(80):  # output well over a pipe buffer (64 KiB), so the reader leaves mid-way
        shutil.copytree(fixture, tmp_path / f"app{i}")
    proc = subprocess.Popen([*SMTP_DOCTOR, "lint", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(100)
    proc.stdout.close()  # `| head -c 100`
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert b"Error" not in err and b"internal error" not in err


def test_fix_write_to_a_file_it_cannot_write(tmp_path: Path, lab: object) -> None:
    from smtp_doctor.lab import LabInfo

    assert isinstance(lab, LabInfo)
    srv = lab.servers["starttls"]
    cfg = tmp_path / "production.rb"
    cfg.write_text(f'config.action_mailer.smtp_settings = {{ address: "localhost", port: {srv.port}, '
                   'enable_starttls_auto: true, openssl_verify_mode: "none" }\n')
    if os.geteuid() == 0:  # root writes through mode 0444: make the file immutable instead
        if subprocess.run(["chattr", "+i", str(cfg)], capture_output=True).returncode != 0:
            pytest.skip("root without CAP_LINUX_IMMUTABLE: no way to make a file unwritable")
    else:
        cfg.chmod(0o444)
    try:
        r = _local("fix", str(cfg), "--write", "--ca-file", str(lab.ca_file))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(cfg)], capture_output=True)
    _one_line_exit_2(r)
    assert str(cfg) in r.stderr


# ---- IPv6 literals: the hand-check commands run as printed, the address cannot be misread -----------------

@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize("name", ["starttls", "implicit"])
def test_hand_check_openssl_command_works_for_an_ipv6_literal(tmp_path: Path, name: str) -> None:
    import shlex
    import socket

    from smtp_doctor import probe
    from smtp_doctor.lab import run_lab_in_thread

    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with run_lab_in_thread(tmp_path, host="::1", with_hostile=False) as lab:
        srv = lab.servers[name]
        d = probe("::1", [srv.port], ProbeOptions(timeout=10, ca_file=str(lab.ca_file))).ports[0]
        assert d.subject == f"[::1]:{srv.port}"
        assert any(f"connected to [::1]:{srv.port}" in line.text for line in d.facts.transcript)
        openssl = next(c for c in d.commands if c.startswith("openssl"))
        assert f"-connect [::1]:{srv.port}" in openssl and "-verify_ip ::1" in openssl
        assert "-servername" not in openssl  # an IP address is never SNI (RFC 6066 §3)
        r = subprocess.run(shlex.split(openssl), input=b"QUIT\r\n", capture_output=True, timeout=30)
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert r.returncode == 0 and "Verification: OK" in out, out
        swaks = next(c for c in d.commands if c.startswith("swaks"))
        assert f"--server [::1]:{srv.port}" in swaks


def test_addresses_and_subject_that_cannot_go_on_the_wire_are_refused(lab: object) -> None:
    from smtp_doctor.lab import LabInfo

    assert isinstance(lab, LabInfo)
    srv = lab.servers["starttls"]
    base = [a.encode() for a in [*SMTP_DOCTOR, "send", f"localhost:{srv.port}", "--ca-file", str(lab.ca_file),
                                 "--from", "a@b.example"]]
    for extra in ([b"--to", b"c@d\xff.example"], [b"--to", b"c@d\x01.example"],
                  [b"--to", b"c@d.example", b"--subject", b"x\xff"]):
        r = subprocess.run(base + extra, capture_output=True, timeout=60)
        _one_line_exit_2(subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode()))


def test_a_config_python_warns_about_is_read_without_printing_its_text(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text('EMAIL_HOST = "x"\nEMAIL_PORT = 25if 1 else 2  # \x1b]0;owned\x07\n')
    r = _local("lint", str(tmp_path / "settings.py"))
    assert r.returncode in (0, 1) and r.stderr == "", r.stderr


def test_nul_only_input_ends(tmp_path: Path) -> None:
    zeros = tmp_path / "zeros.log"
    zeros.write_bytes(b"\x00" * (8 << 20))  # 8 MiB of NUL: one enormous line
    r = _local("explain", "--log", str(zeros))
    assert r.returncode == 1 and r.stderr == "", r.stderr  # read to the end: no failure found
    with zeros.open("rb") as fh:
        r = _local("explain", "-", stdin=fh)
    assert r.returncode in (1, 2) and "internal error" not in r.stderr
