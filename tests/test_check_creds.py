"""check reads the credentials and the trust the app really has (issue 12, matrix 3's kinds), against the real
frameworks on the lab.

Each case is a NEW configuration of a kind matrix 3's dev half found (none is a matrix cell): it goes through
``smtp-doctor check --json`` and then through the real framework with the same files and environment (the
matrix runners, imported), and both must say the same thing — the same outcome and, for a failure, the failure
mode explain reads in the real text. The kinds: a Rails user name whose ``ENV.fetch`` default applies while the
password variable is set nowhere (net-smtp's ArgumentError); a password written in the checked dotenv file, in
a ``MAILER_DSN``, in Nodemailer's URL form, or printed by msmtp's ``passwordeval "printf %s …"`` (used for the
login check, never printed); Nodemailer's ``tls.ca`` read from a path in the environment. Then ``fix`` on two
kinds it had no writer for (Nodemailer's URL form, an msmtp account inheriting ``tls_starttls off``), and the
real framework again on what it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import test_check_matrix as m1
import test_check_matrix2 as m2
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, _app_env, _reading
from test_check_real import _delivered

WRONG = "not-the-Pw-7c2e"  #: a password the lab refuses: never printed either
TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "MAILER_DSN", "MAIL_PW", "MAIL_CA")

RAILS = """Rails.application.configure do
  config.action_mailer.delivery_method = :smtp
  config.action_mailer.smtp_settings = {{
    address: '127.0.0.1',
    port: @PORT@,
    user_name: ENV.fetch('MAIL_LOGIN') {{ '@USER@' }},
    password: ENV['MAIL_PW'],
    authentication: :login,
    enable_starttls: true,
    ca_file: '@CA@',
{extra}  }}
end
"""
MASTODON = """LOCAL_DOMAIN=example.org
SMTP_SERVER=127.0.0.1
SMTP_PORT=@PORT@
SMTP_LOGIN=@USER@
SMTP_PASSWORD="{password}"
SMTP_ENABLE_STARTTLS=always
SMTP_CA_FILE=@CA@
SMTP_FROM_ADDRESS=notifications@example.org
"""
MSMTP = """defaults
tls on
tls_trust_file @CA@
timeout 10

account default
host 127.0.0.1
port @PORT@
auth on
user @USER@
passwordeval "printf %s '{password}'"
from app@example.com
"""
NODE_CA = """const fs = require('fs');
const nodemailer = require('nodemailer');
module.exports = nodemailer.createTransport({
  host: '127.0.0.1',
  port: @PORT@,
  secure: false,
  requireTLS: true,
  tls: { ca: fs.readFileSync(process.env.MAIL_CA, 'utf8') },
  auth: { user: '@USER@', pass: '@PASSWORD@' },
});
"""
NODE_URL = """const nodemailer = require('nodemailer');
module.exports = nodemailer.createTransport('{scheme}://@USER@:{password}@127.0.0.1:@PORT@/?socketTimeout=10000');
"""

#: (id, runner, lab server, config file, files, the app's environment, what the real framework does)
CASES: list[tuple[str, str, str, str, dict[str, str], dict[str, str], str]] = [
    ("rails_fetch_block_user_password_unset", "actionmailer", "starttls", "config/environments/production.rb",
     {"config/environments/production.rb": RAILS.format(extra="")}, {}, "auth_missing_credentials"),
    ("rails_fetch_block_user_password_in_env", "actionmailer", "starttls", "config/environments/production.rb",
     {"config/environments/production.rb": RAILS.format(extra="")}, {"MAIL_PW": "@PASSWORD@"}, "delivered"),
    ("mastodon_quoted_wrong_password_in_file", "mastodon", "starttls", ".env.production",
     {".env.production": MASTODON.format(password=WRONG)}, {}, "auth_bad_credentials"),
    ("mastodon_quoted_right_password_in_file", "mastodon", "starttls", ".env.production",
     {".env.production": MASTODON.format(password="@PASSWORD@")}, {}, "delivered"),
    ("symfony_percent_encoded_wrong_password", "symfony", "starttls", ".env",
     {".env": "APP_ENV=prod\nMAILER_DSN=smtp://@USER@:n0t%2Fthe%40pw@127.0.0.1:@PORT@\n"},
     {"SSL_CERT_FILE": "@CA@"}, "auth_bad_credentials"),
    ("msmtp_printf_wrong_password", "msmtp", "implicit", "msmtprc",
     {"msmtprc": MSMTP.format(password=WRONG).replace("tls on\n", "tls on\ntls_starttls off\n")}, {},
     "auth_bad_credentials"),
    ("msmtp_printf_right_password", "msmtp", "starttls", "msmtprc",
     {"msmtprc": MSMTP.format(password="@PASSWORD@")}, {}, "delivered"),
    ("node_ca_path_from_env_no_array", "nodemailer10", "starttls", "mailer.js", {"mailer.js": NODE_CA},
     {"MAIL_CA": "@CA@"}, "delivered"),
    ("node_url_wrong_password_smtps", "nodemailer6", "implicit", "mailer.js",
     {"mailer.js": NODE_URL.format(scheme="smtps", password=WRONG)}, {"NODE_EXTRA_CA_CERTS": "@CA@"},
     "auth_bad_credentials"),
]


def _available(runner: str) -> str | None:
    return m2._available(runner) if runner in ("mastodon", "symfony") else m1._available(runner)


def _write(app: Path, files: dict[str, str], env: dict[str, str], lab: LabInfo, server: str
           ) -> tuple[dict[str, str], dict[str, str]]:
    cell = {"server": server}
    out = {}
    for rel, text in files.items():
        path = app / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(m1._fill(text, cell, lab, app, ""))
        if path.name == "msmtprc":
            path.chmod(0o600)
        out[rel] = path.read_text()
    return out, {k: m1._fill(v, cell, lab, app, "") for k, v in env.items()}


def _real(runner: str, app: Path, config: Path, env: dict[str, str], subject: str) -> str:
    if runner in ("mastodon", "symfony"):
        return m2._real(runner, app, config, env, subject)
    return m1._real({"runner": runner}, app, config, env, subject)


def _quiet(text: str, lab: LabInfo) -> None:
    assert lab.password not in text and WRONG not in text
    assert "n0t%2Fthe%40pw" not in text and "n0t/the@pw" not in text


def _said(doc: dict[str, Any]) -> str:
    pred = doc["configs"][0]["prediction"]
    return "delivered" if pred["verdict"] == "delivered" else pred.get("failure") or pred["verdict"]


@pytest.mark.parametrize(("cid", "runner", "server", "config", "files", "env", "real_is"), CASES,
                         ids=[c[0] for c in CASES])
def test_check_uses_the_apps_own_credentials_and_trust(cid: str, runner: str, server: str, config: str,
                                                       files: dict[str, str], env: dict[str, str], real_is: str,
                                                       lab: LabInfo, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if (why := _available(runner)) is not None:
        pytest.skip(why)
    for var in TRUST_ENV:
        monkeypatch.delenv(var, raising=False)
    app = tmp_path / "app"
    _, app_env = _write(app, files, env, lab, server)
    result = CliRunner().invoke(cli, ["check", str(app / config), "--json", "--timeout", "15",
                                      *_app_env(app, app_env)])
    _quiet(result.output, lab)
    doc = json.loads(result.output)
    said = _said(doc)
    subject = f"creds-{uuid.uuid4()}"
    real_text = _real(runner, app, app / config, app_env, subject)
    real = _reading(real_text)
    if real == "delivered":
        assert _delivered(lab, subject), real_text
    assert real == real_is, (cid, real_text)  # the case is what it was written to be
    assert _agree(said, real), (cid, said, real_text)
    assert result.exit_code == (0 if said == "delivered" else 1), (cid, result.exit_code)
    if runner == "msmtp":  # the JSON names the account, and the one msmtp uses without --account
        assert (doc["configs"][0]["account"], doc["configs"][0]["default_account"]) == ("default", True)
    if said.startswith("auth_bad"):  # the login was tried with the app's own password, over verified TLS
        assert doc["configs"][0]["asked"]["login"] == "refused"


FIX_CASES = [
    ("node_url_plain_scheme_on_implicit_port", "nodemailer10", "implicit", "mailer.js",
     {"mailer.js": NODE_URL.format(scheme="smtp", password="@PASSWORD@")}, {"NODE_EXTRA_CA_CERTS": "@CA@"}),
    ("msmtp_defaults_implicit_second_account_default", "msmtp", "starttls", "msmtprc",
     {"msmtprc": "defaults\ntls on\ntls_starttls off\ntls_trust_file @CA@\nauth on\ntimeout 10\n\n"
                 "account smtps\nhost 127.0.0.1\nport @PORT_IMPLICIT@\nuser @USER@\npassword @PASSWORD@\n"
                 "from app@example.com\n\naccount default\nhost 127.0.0.1\nport @PORT@\nuser @USER@\n"
                 "password @PASSWORD@\nfrom app@example.com\n"}, {}),
]


@pytest.mark.parametrize(("cid", "runner", "server", "config", "files", "env"), FIX_CASES,
                         ids=[c[0] for c in FIX_CASES])
def test_fix_writes_what_it_claims_and_the_real_framework_delivers(
        cid: str, runner: str, server: str, config: str, files: dict[str, str], env: dict[str, str],
        lab: LabInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if (why := _available(runner)) is not None:
        pytest.skip(why)
    for var in TRUST_ENV:
        monkeypatch.delenv(var, raising=False)
    app = tmp_path / "app"
    before, app_env = _write(app, files, env, lab, server)
    assert _real(runner, app, app / config, app_env, f"creds-{uuid.uuid4()}").startswith(("ERROR", "TIMEOUT"))
    result = CliRunner().invoke(cli, ["fix", str(app / config), "--write", "--json", "--timeout", "15",
                                      "--ca-file", str(lab.ca_file), *_app_env(app, app_env)])
    _quiet(result.output, lab)
    doc = json.loads(result.output)
    entry = doc["configs"][0]
    written = (app / config).read_text()
    if runner == "msmtp":
        check = json.loads(CliRunner().invoke(cli, ["check", str(app / config), "--json", "--timeout", "15"]).output)
        assert [(c["account"], c["default_account"]) for c in check["configs"]] == [("default", True),
                                                                                 ("smtps", False)]
    assert entry["delivers"] and written != before[config] and result.exit_code == 0, result.output
    assert "********" in entry["diff"]  # the password's line or part, masked
    subject = f"creds-fix-{uuid.uuid4()}"
    assert _real(runner, app, app / config, app_env, subject) == "DELIVERED" and _delivered(lab, subject)
    if runner == "msmtp":  # the other account keeps what it had, and still delivers through its own port
        message = f"From: app@example.com\nTo: rcpt@example.com\nSubject: {subject}-smtps\n\ncheck\n"
        done = subprocess.run(["msmtp", "-C", str(app / config), "-a", "smtps", "rcpt@example.com"],
                              input=message, capture_output=True, text=True, timeout=30,
                              env={k: v for k, v in os.environ.items() if k not in TRUST_ENV})
        assert done.returncode == 0, done.stderr
        assert "tls_starttls off" in written


def test_ruby_defaults_apply_only_when_the_variable_is_set_nowhere(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``ENV.fetch(k, d)``, ``ENV.fetch(k) { d }`` and ``ENV[k] || d`` are ``d`` when k is neither in --env nor
    in this process; set in this process, the value stays a reference (it is this machine's, not the app's)."""
    from smtp_doctor.readers import read_file

    rb = tmp_path / "config" / "environments" / "production.rb"
    rb.parent.mkdir(parents=True)
    rb.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
                  "    address: ENV['MAIL_HOST'] || 'mail.example.org',\n    port: ENV.fetch('MAIL_PORT', 2525),\n"
                  "    user_name: ENV.fetch('MAIL_LOGIN') { 'app' },\n  }\nend\n")
    for var in ("MAIL_HOST", "MAIL_PORT", "MAIL_LOGIN"):
        monkeypatch.delenv(var, raising=False)
    (c,) = read_file(rb)
    assert [(c.values[k].value, c.values[k].env) for k in ("address", "port", "user_name")] == [
        ("mail.example.org", None), (2525, "MAIL_PORT"), ("app", "MAIL_LOGIN")]
    monkeypatch.setenv("MAIL_PORT", "587")
    (c,) = read_file(rb)
    assert c.values["port"].kind == "env" and c.values["port"].value is None
    (c,) = read_file(rb, env={"MAIL_PORT": "465"})  # --env decides, not this process
    assert (c.values["port"].value, c.values["address"].value) == ("465", "mail.example.org")


@pytest.mark.parametrize(("command", "literal"), [
    ("echo s3cret", "s3cret"), ("echo 's3 cret'", "s3 cret"), ('echo "s3cret"', "s3cret"), ("echo -n s3cret", "s3cret"),
    ("printf %s s3cret", "s3cret"), ("printf '%s' 's3cret'", "s3cret"),
    ("echo $HOME", None), ('echo "$(id)"', None), ("echo `id`", None), ("echo a; touch x", None),
    ("echo 'a\\nb'", None), ("echo a*", None), ("gpg -d pw.gpg", None), ("cat pw | gpg -d", None)])
def test_passwordeval_literal_reads_text_and_runs_nothing(command: str, literal: str | None) -> None:
    from smtp_doctor.readers.lines import passwordeval_literal

    assert passwordeval_literal(command) == literal


def test_an_unset_password_is_nil_only_when_env_describes_the_app(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With --env (the app's environment) a password variable set nowhere is the app's nil (ArgumentError);
    without --env its absence on this machine says nothing about the server the app runs on."""
    from smtp_doctor.credentials import app_auth_args
    from smtp_doctor.readers import read_file

    rb = tmp_path / "config" / "environments" / "production.rb"
    rb.parent.mkdir(parents=True)
    rb.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
                  "    address: 'mail.example.org', port: 587,\n    user_name: 'app',\n"
                  "    password: ENV['SMTP_PASSWORD_FOR_THIS_TEST'],\n  }\nend\n")
    monkeypatch.delenv("SMTP_PASSWORD_FOR_THIS_TEST", raising=False)
    (c,) = read_file(rb)
    assert app_auth_args(c, None).values["password"].kind == "env"  # no --env: still a reference
    assert app_auth_args(c, {"OTHER": "x"}).values["password"].kind == "nil"  # --env without it: nil
    assert app_auth_args(c, {"SMTP_PASSWORD_FOR_THIS_TEST": "s"}).values["password"].kind == "env"
