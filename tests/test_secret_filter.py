"""A canary password in every credential form we read never leaves in any output (issue 17).

The forms are those of the clients people paste (swaks, curl, msmtp, openssl s_client), URLs with
userinfo, HTTP auth headers, SMTP AUTH payloads in base64 (initial responses and 334 answers),
XOAUTH2, config keys and Postfix ``static:`` maps. Each goes through the filter itself, and then
through every command that reads text or configs, in every format, via the real CLI; and a real
server that quotes the credentials back in its replies is probed and sent through.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.lab import forge
from smtp_doctor.lab.forge import ForgeInfo
from smtp_doctor.secrets import MASK, redact, redact_json

CANARY = "Cnry-7Qx2-pw9"
USER = "bob@example.com"


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def leaks(out: str) -> list[str]:
    """Every form of the canary found in ``out``: the text, and each base64 form it travels in."""
    forms = {CANARY, b64(CANARY), b64(f"\0{USER}\0{CANARY}"), b64(f"{USER}\0{CANARY}"), b64(f"{USER}:{CANARY}"),
             b64(f"user={USER}\x01auth=Bearer {CANARY}\x01\x01")}
    forms |= {f.rstrip("=") for f in forms}
    return sorted(f for f in forms if f in out)


#: name → text that carries the canary, as a person would paste it or a log would hold it.
FORMS: dict[str, str] = {
    "swaks -ap": f"swaks --to a@example.net --server smtp.gmail.com:587 -tls -au {USER} -ap {CANARY}",
    "swaks --auth-password=": f"swaks -s smtp.gmail.com:587 --auth-user {USER} --auth-password={CANARY} -tls",
    "swaks --auth-password quoted": f"swaks -s smtp.gmail.com --auth-user {USER} --auth-password '{CANARY}'",
    "curl -u": f"curl --ssl-reqd --url smtp://smtp.gmail.com:587 -u {USER}:{CANARY} --mail-from {USER}",
    "curl --user=": f"curl smtps://smtp.gmail.com:465 --user={USER}:{CANARY} -T mail.txt",
    "curl --user": f"curl smtps://smtp.gmail.com:465 --user '{USER}:{CANARY}' -T mail.txt",
    "msmtp --passwordeval": f"msmtp --host=smtp.gmail.com --user={USER} --passwordeval='echo {CANARY}' a@b.example",
    "msmtprc password": f"account default\nhost smtp.gmail.com\nuser {USER}\npassword {CANARY}\n",
    "msmtprc passwordeval": f"host smtp.gmail.com\npasswordeval echo {CANARY}\n",
    "openssl AUTH PLAIN": f"AUTH PLAIN {b64(chr(0) + USER + chr(0) + CANARY)}\n535 5.7.8 Authentication failed",
    "openssl AUTH LOGIN 334": (f"AUTH LOGIN\n334 VXNlcm5hbWU6\n{b64(USER)}\n334 UGFzc3dvcmQ6\n{b64(CANARY)}\n"
                               "535 5.7.8 Username and Password not accepted"),
    "openssl 334 after PLAIN": f"AUTH PLAIN\n334 \n{b64(chr(0) + USER + chr(0) + CANARY)}\n535 5.7.8 bad",
    "debug transcript C:": f"C: AUTH LOGIN\nS: 334 UGFzc3dvcmQ6\nC: {b64(CANARY)}\nS: 535 5.7.8 bad",
    "PHPMailer debug": f"CLIENT -> SERVER: {b64(CANARY)}\nSERVER -> CLIENT: 535 5.7.8 Authentication failed",
    "smtp URL": f"MAILER_DSN=smtp://{USER.replace('@', '%40')}:{CANARY}@smtp.gmail.com:587",
    "smtps URL": f"Connection could not be established with host smtps://bob:{CANARY}@smtp.gmail.com:465",
    "URL with @ in password": f"smtp://bob:{CANARY}@x@smtp.gmail.com:587",
    "Authorization Basic": f"Authorization: Basic {b64(USER + ':' + CANARY)}",
    "Authorization Bearer": f"Authorization: Bearer {CANARY}",
    "bare Bearer": f"OAuth failed for token Bearer {CANARY}.x",
    "XOAUTH2 b64": f"AUTH XOAUTH2 {b64('user=' + USER + chr(1) + 'auth=Bearer ' + CANARY + chr(1) + chr(1))}",
    "XOAUTH2 decoded": f"user={USER}\x01auth=Bearer {CANARY}\x01\x01",
    "YAML password:": f"smtp:\n  user_name: {USER}\n  password: {CANARY}\n",
    "env SMTP_PASSWORD=": f"SMTP_LOGIN={USER}\nSMTP_PASSWORD={CANARY}\n",
    "Django EMAIL_HOST_PASSWORD": f"EMAIL_HOST_PASSWORD = '{CANARY}'",
    "nodemailer pass:": f"auth: {{ user: '{USER}', pass: '{CANARY}' }}",
    "smtp_pass": f"smtp_pass={CANARY} smtp_user={USER}",
    "JSON password": f'{{"user": "{USER}", "password": "{CANARY}"}}',
    "Ruby :password =>": f":user_name => '{USER}', :password => \"{CANARY}\"",
    "log password=": f"Net::SMTPAuthenticationError 535 user={USER} password={CANARY}",
    "Postfix static map": f"smtp_sasl_password_maps = static:{USER}:{CANARY}",
    "Postfix static map braces": f"smtp_sasl_password_maps = static:{{{USER}:{CANARY}}}",
    "netrc": f"machine smtp.gmail.com login {USER} password {CANARY}",
}


@pytest.mark.parametrize("name", FORMS)
def test_the_filter_masks_each_form(name: str) -> None:
    out = redact(FORMS[name])
    assert not leaks(out), (name, out)
    assert MASK in out


def test_redact_json_keeps_the_shape() -> None:
    doc = {"a": [FORMS["curl -u"], 3, None, {"b": FORMS["smtp URL"]}], "n": True}
    out = redact_json(doc)
    assert out["n"] is True and out["a"][1] == 3 and out["a"][2] is None
    assert not leaks(json.dumps(out))


def test_no_sentence_of_ours_is_taken_for_a_secret() -> None:
    """The filter runs over whole rendered sentences: it must leave every catalogue text as it is,
    in English and Japanese (a masked word in our own advice would be a bug of its own)."""
    changed = []
    for path in sorted(Path("src/smtp_doctor/messages").glob("*.toml")):
        stack = [tomllib.loads(path.read_text(encoding="utf-8"))]
        while stack:
            table = stack.pop()
            for value in table.values():
                if isinstance(value, dict):
                    stack.append(value)
                elif isinstance(value, str) and redact(value) != value:
                    changed.append((path.name, value))
    assert not changed, changed


@pytest.mark.parametrize("text", ["smtp://user:pass@host:587", "password: ENV['SMTP_PASSWORD']",
                                  "SMTP_PASSWORD=${SMTP_PASSWORD}", "enable_starttls: true, password: nil",
                                  "HTTP Basic authentication failed", "AUTH PLAIN only",
                                  "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd"])
def test_placeholders_and_references_are_kept(text: str) -> None:
    assert redact(text) == text


# --------------------------------------------------------------------------------------------- CLI

def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"LANG": "C.UTF-8", "COLUMNS": "4000"})
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, out)
    assert "No such option" not in out and "Usage:" not in out, out  # a typo would make the test vacuous
    return out


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("name", FORMS)
def test_explain_never_echoes_the_canary(name: str, fmt: str) -> None:
    text = FORMS[name] + "\nsmtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')"
    out = invoke("explain", text, "--format", fmt)
    assert "535" in out or "5.7.8" in out
    assert not leaks(out), (name, fmt, out)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("name", FORMS)
def test_explain_log_never_echoes_the_canary(tmp_path: Path, name: str, fmt: str) -> None:
    """Each form on a failing log line (a sample is printed) and alone on lines of its own."""
    log = tmp_path / "app.log"
    first = FORMS[name].splitlines()[0]
    log.write_text(f"2026-11-20T10:00:00Z ERROR {first} -> 535 5.7.8 Username and Password not accepted\n"
                   f"{FORMS[name]}\n" * 3, encoding="utf-8")
    out = invoke("explain", "--log", str(log), "--format", fmt)
    assert "535" in out or "5.7.8" in out or "Gmail" in out, out
    assert not leaks(out), (name, fmt, out)


def test_explain_log_shows_the_line_with_the_secret_masked(tmp_path: Path) -> None:
    """Not vacuous: the sample line is printed, only its secret is gone."""
    log = tmp_path / "app.log"
    log.write_text(f"2026-11-20T10:00:00Z ERROR {FORMS['curl -u']} -> 535 5.7.8 Username and Password not "
                   "accepted\n", encoding="utf-8")
    out = invoke("explain", "--log", str(log))
    assert f"-u {USER}:{MASK}" in out and not leaks(out)


#: Config files that carry the canary literally, one per reader and credential form.
CONFIGS: dict[str, tuple[str, str]] = {
    "mastodon-env": (".env.production", f"SMTP_SERVER=127.0.0.1\nSMTP_PORT=1\nSMTP_LOGIN={USER}\n"
                                         f"SMTP_PASSWORD={CANARY}\nSMTP_ENABLE_STARTTLS=always\n"),
    "laravel-env": (".env", f"MAIL_MAILER=smtp\nMAIL_HOST=127.0.0.1\nMAIL_PORT=1\nMAIL_USERNAME={USER}\n"
                            f"MAIL_PASSWORD=\"{CANARY}\"\nMAIL_ENCRYPTION=tls\n"),
    "symfony-dsn": (".env", f"MAILER_DSN=smtp://bob:{CANARY}@127.0.0.1:1\n"),
    "django": ("settings.py", f"EMAIL_HOST = '127.0.0.1'\nEMAIL_PORT = 1\nEMAIL_HOST_USER = '{USER}'\n"
                              f"EMAIL_HOST_PASSWORD = '{CANARY}'\nEMAIL_USE_TLS = True\n"),
    "rails": ("config/environments/production.rb",
              "Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n    address: '127.0.0.1',\n"
              f"    port: 1,\n    user_name: '{USER}',\n    password: '{CANARY}',\n    enable_starttls: true\n  }}\n"
              "end\n"),
    "postfix-static": ("main.cf", "relayhost = [127.0.0.1]:1\nsmtp_sasl_auth_enable = yes\n"
                                  f"smtp_sasl_password_maps = static:{USER}:{CANARY}\n"
                                  "smtp_tls_security_level = encrypt\n"),
    "msmtprc": (".msmtprc", f"account default\nhost 127.0.0.1\nport 1\ntls on\nauth on\nuser {USER}\n"
                            f"password {CANARY}\n"),
    "msmtprc-eval": (".msmtprc", f"account default\nhost 127.0.0.1\nport 1\ntls on\nauth on\nuser {USER}\n"
                                 f"passwordeval \"echo {CANARY}\"\n"),
    "nodemailer": ("mailer.js", "const t = nodemailer.createTransport({ host: '127.0.0.1', port: 1, secure: false,\n"
                                f"  auth: {{ user: '{USER}', pass: '{CANARY}' }} }});\n"),
}


@pytest.fixture(params=sorted(CONFIGS))
def config_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    name, text = CONFIGS[request.param]
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [("lint",), ("lint", "--format", "json"), ("lint", "--format", "sarif"),
                                  ("check",), ("check", "--json"), ("fix",), ("fix", "--json"), ("fix", "--diff")])
def test_config_commands_never_print_the_canary(config_file: Path, args: tuple[str, ...]) -> None:
    out = invoke(args[0], str(config_file), *args[1:], *(("--timeout", "2") if args[0] != "lint" else ()))
    assert not leaks(out), (config_file.name, args, out)


def test_postfix_static_map_is_masked_in_lint_json_and_check_json(tmp_path: Path) -> None:
    """The issue's case: the password of ``static:user:PASSWORD`` was printed verbatim."""
    cf = tmp_path / "main.cf"
    cf.write_text(CONFIGS["postfix-static"][1], encoding="utf-8")
    lint_doc = json.loads(invoke("lint", str(cf), "--format", "json"))
    ref = lint_doc["configs"][0]["settings"]["password_ref"]["value"]
    assert ref == f"static:{USER}:{MASK}"
    assert not leaks(invoke("check", str(cf), "--json", "--timeout", "2"))


# --------------------------------------------------------------------------------------------- live

@pytest.fixture(scope="module")
def echoing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeInfo]:
    """A real server that answers AUTH by quoting the credentials it received (clear and base64)."""
    with forge.running(tmp_path_factory.mktemp("echo"), echo_secrets=True) as info:
        yield info


def run(*args: str) -> str:
    env = {**os.environ, "LANG": "C.UTF-8", "SD_CANARY": CANARY}
    r = subprocess.run([sys.executable, "-m", "smtp_doctor", *args], capture_output=True, text=True, timeout=120,
                       env=env, check=False)
    assert "Traceback" not in r.stderr and "Usage:" not in r.stderr, r.stderr
    return r.stdout + r.stderr


@pytest.mark.parametrize("extra", [(), ("--transcript",), ("--json",), ("--json", "--transcript")])
@pytest.mark.parametrize("command", ["probe", "send"])
def test_a_server_quoting_the_credentials_back(echoing: ForgeInfo, command: str, extra: tuple[str, ...]) -> None:
    args = [command, echoing.address, "--ca-file", str(echoing.ca_file), "--user", USER, "--password-env",
            "SD_CANARY", *extra]
    if command == "send":
        args += ["--from", "a@example.com", "--to", "b@example.net"]
    out = run(*args)
    # it did authenticate and report the outcome (send --json names only the port it could not use)
    assert "535" in out or "AUTH" in out or (command, extra[:1]) == ("send", ("--json",)), out
    assert not leaks(out), (command, extra, out)
