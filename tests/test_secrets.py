"""A recognisable secret goes through every path that handles credentials; no output may contain it
in any form — plain, base64, base64 of the AUTH PLAIN blob — not the text, JSON, transcript, or errors."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_doctor.credentials import Credentials, Redactor, wire_forms
from smtp_doctor.lab import LabInfo

SECRET = "S3cr3t-Canary-4f9e2b7d"


def forms(user: str) -> set[str]:
    raw = SECRET.encode()
    out = {SECRET, base64.b64encode(raw).decode(), base64.b64encode(b"\0" + user.encode() + b"\0" + raw).decode(),
           base64.b64encode(user.encode() + b"\0" + raw).decode()}
    return out | {f.rstrip("=") for f in out}


def run(*args: str, env_extra: dict[str, str] | None = None) -> str:
    env = {**os.environ, "LANG": "C.UTF-8", "SD_SECRET": SECRET, **(env_extra or {})}
    r = subprocess.run([sys.executable, "-m", "smtp_doctor", *args], capture_output=True, text=True, timeout=90,
                       env=env, check=False)
    assert "Traceback" not in r.stderr
    return r.stdout + r.stderr


@pytest.mark.parametrize("server", ["starttls", "plain", "auth-login-only", "auth-cram-md5", "expired"])
@pytest.mark.parametrize("extra", [(), ("--json",), ("--transcript",), ("--json", "--transcript"),
                                   ("--allow-cleartext-credentials", "--allow-unverified-tls-credentials",
                                    "--transcript")])
def test_probe_never_prints_the_password(lab: LabInfo, server: str, extra: tuple[str, ...]) -> None:
    out = run("probe", lab.servers[server].address, "--ca-file", str(lab.ca_file), "--user", lab.user,
              "--password-env", "SD_SECRET", "--details", *extra)
    for form in forms(lab.user):
        assert form not in out, (server, extra, form)
    assert "AUTH" in out


def test_password_file_and_send_paths(lab: LabInfo, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    out = run("send", lab.servers["starttls"].address, "--from", "a@example.com", "--to", "b@example.net",
              "--ca-file", str(lab.ca_file), "--user", lab.user, "--password-file", str(pw), "--transcript")
    out += run("send", lab.servers["implicit"].address, "--from", "a@example.com", "--to", "b@example.net",
               "--ca-file", str(lab.ca_file), "--user", lab.user, "--password-file", str(pw), "--json")
    for form in forms(lab.user):
        assert form not in out


def test_xoauth2_token_is_masked(lab: LabInfo) -> None:
    out = run("probe", lab.servers["auth-xoauth2"].address, "--ca-file", str(lab.ca_file), "--user", lab.user,
              "--oauth-token-env", "SD_TOKEN", "--transcript", "--json", env_extra={"SD_TOKEN": lab.oauth_token})
    assert lab.oauth_token not in out
    blob = base64.b64encode(f"user={lab.user}\x01auth=Bearer {lab.oauth_token}\x01\x01".encode()).decode()
    assert blob not in out and '"ok"' in out


def test_the_password_is_not_a_command_line_argument() -> None:
    out = run("probe", "127.0.0.1:1", "--password", SECRET)
    assert "No such option" in out and SECRET not in out


def test_redactor_masks_every_wire_form() -> None:
    redact = Redactor([Credentials("alice", SECRET)])
    text = " | ".join(sorted(wire_forms("alice", SECRET)))
    assert SECRET not in redact(text)
    for form in forms("alice"):
        assert form not in redact(f"AUTH PLAIN {form}")


@pytest.fixture()
def leaky_app(tmp_path: Path, lab: LabInfo) -> Path:
    """An app whose configs write the canary password literally, in three frameworks' syntaxes."""
    port = lab.servers["starttls"].port
    (tmp_path / "config" / "environments").mkdir(parents=True)
    (tmp_path / "config" / "environments" / "production.rb").write_text(
        "Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n    address: '127.0.0.1',\n"
        f"    port: {port},\n    user_name: 'app',\n    password: '{SECRET}',\n    tls: true\n  }}\nend\n")
    (tmp_path / ".env.production").write_text(f"SMTP_SERVER=127.0.0.1\nSMTP_PORT={port}\nSMTP_LOGIN=app\n"
                                              f"SMTP_PASSWORD={SECRET}\nSMTP_TLS=true\n")
    (tmp_path / "settings.py").write_text(f"EMAIL_HOST = '127.0.0.1'\nEMAIL_PORT = {port}\nEMAIL_HOST_USER = 'app'\n"
                                          f"EMAIL_HOST_PASSWORD = '{SECRET}'\nEMAIL_USE_SSL = True\n")
    return tmp_path


@pytest.mark.parametrize("args", [
    ("lint", "{app}"), ("lint", "{app}", "--format", "json"), ("lint", "{app}", "--format", "sarif"),
    ("check", "{app}"), ("check", "{app}", "--json"),
    ("fix", "{app}/config/environments/production.rb", "--ca-file", "{ca}"),
    ("fix", "{app}/.env.production", "--ca-file", "{ca}", "--json"),
    ("fix", "{app}/settings.py", "--framework", "django", "--ca-file", "{ca}"),
    ("fix", "{app}/.env.production", "--ca-file", "{ca}", "--diff"),
    ("fix", "{app}/config/environments/production.rb", "--ca-file", "{ca}", "--diff"),
    ("check", "{app}", "--fix"),
])
def test_config_paths_never_print_a_literal_password(leaky_app: Path, lab: LabInfo, args: tuple[str, ...]) -> None:
    out = run(*(a.format(app=leaky_app, ca=lab.ca_file) for a in args))
    assert out.strip() and "No such option" not in out  # it did report something
    assert not any(f in out for f in forms("app")), out


def test_explain_and_log_scan_never_echo_a_password(tmp_path: Path) -> None:
    blob = base64.b64encode(b"\0app\0" + SECRET.encode()).decode()
    line = f"smtplib.SMTPAuthenticationError: (535, b'5.7.8 Authentication failed') password={SECRET} AUTH PLAIN {blob}"
    log = tmp_path / "app.log"
    log.write_text(f"2026-11-20T10:00:00Z ERROR {line}\n" * 3)
    for args in (("explain", line), ("explain", line, "--json"), ("explain", line, "--format", "markdown"),
                 ("explain", "--log", str(log)), ("explain", "--log", str(log), "--json")):
        out = run(*args)
        assert "535" in out or "Authentication" in out
        assert not any(f in out for f in forms("app")), (args, out)


def test_explain_redact_is_the_one_filter() -> None:
    """explain.redact predates smtp_doctor.secrets; it must be the same function, not a second copy."""
    from smtp_doctor import secrets
    from smtp_doctor.explain.redact import redact

    assert redact is secrets.redact


@pytest.fixture()
def postfix_static(tmp_path: Path, lab: LabInfo) -> Path:
    """A Postfix relay client whose password sits in a static: map (the issue 17 case), opportunistic TLS."""
    cf = tmp_path / "main.cf"
    cf.write_text(f"relayhost = [127.0.0.1]:{lab.servers['starttls'].port}\nsmtp_sasl_auth_enable = yes\n"
                  f"smtp_sasl_password_maps = static:app:{SECRET}\nsmtp_tls_security_level = may\n")
    return cf


@pytest.mark.parametrize("args", [("lint",), ("lint", "--format", "json"), ("lint", "--format", "sarif"), ("check",),
                                  ("check", "--json"), ("check", "--fix"), ("fix",), ("fix", "--json"),
                                  ("fix", "--diff")])
def test_postfix_static_map_password_never_printed(postfix_static: Path, lab: LabInfo,
                                                   args: tuple[str, ...]) -> None:
    extra = () if args[0] == "lint" else ("--ca-file", str(lab.ca_file))
    out = run(args[0], str(postfix_static), *args[1:], *extra)
    if args != ("fix", "--diff"):  # no change, no diff
        assert "main.cf" in out or "static:app:" in out or "results" in out, out  # it reported on the file
    assert not any(f in out for f in forms("app")), (args, out)


def test_fix_write_keeps_the_real_password_in_the_file(postfix_static: Path, lab: LabInfo) -> None:
    """Masking is for output only: a rewritten file still holds the password it held."""
    out = run("fix", str(postfix_static), "--ca-file", str(lab.ca_file), "--write")
    assert SECRET not in out
    assert f"static:app:{SECRET}" in postfix_static.read_text()
