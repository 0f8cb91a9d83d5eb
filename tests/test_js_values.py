"""Values a Nodemailer app computes the way JavaScript does (issue 12, matrix 7b dev): ``Number.parseInt`` and
``JSON.parse`` of an environment variable, ``.toLowerCase()`` of one, an ``auth`` object behind a ternary, a
user name put into the URL with ``encodeURIComponent`` (the URL parser decodes it again), and a URL check cannot
read, whose host and port are unknown rather than Nodemailer's defaults. Each against the lab and the real
Nodemailer at both majors; what is asserted is the outcome."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import test_check_matrix3 as m3
from app_case import check_and_run, check_entry, write_case
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it

PARSED = """const nodemailer = require('nodemailer');
module.exports = nodemailer.createTransport({
  host: process.env.SMTP_HOST ?? '127.0.0.1',
  port: Number.parseInt(process.env.SMTP_PORT ?? '587', 10),
  secure: JSON.parse(process.env.SMTP_SECURE ?? 'false'),
  auth: { user: process.env.SMTP_USER, pass: process.env.SMTP_PASS },
});
"""
ENCODED = """const nodemailer = require('nodemailer');
const user = encodeURIComponent(process.env.SMTP_USER);
const pass = encodeURIComponent(process.env.SMTP_PASS);
module.exports = nodemailer.createTransport(`smtps://${user}:${pass}@127.0.0.1:${process.env.SMTP_PORT}`);
"""
BUILDER = """const nodemailer = require('nodemailer');
const mode = (process.env.SMTP_TLS || 'starttls').toLowerCase();
const options = {
  host: '127.0.0.1',
  port: Number(process.env.SMTP_PORT),
  secure: mode === 'implicit' || mode === 'tls',
  requireTLS: mode === 'starttls',
  greetingTimeout: 6000,
  auth: process.env.SMTP_USER ? { user: process.env.SMTP_USER, pass: process.env.SMTP_PASS } : undefined,
};
module.exports = nodemailer.createTransport(options);
"""
#: the connection URL in the .env file the code loads
URL_APP = {"mailer.js": "require('dotenv').config();\nconst nodemailer = require('nodemailer');\n"
                        "module.exports = nodemailer.createTransport(process.env.EMAIL_SERVER);\n",
           ".env": "EMAIL_SERVER=smtps://@USER@:@PASSWORD@@127.0.0.1:@PORT@\n"}
ENV = {"SMTP_PORT": "@PORT@", "NODE_EXTRA_CA_CERTS": "@CA@", "SMTP_PASS": "@PASSWORD@"}
CASES = {  # name: (code, extra environment, real failure or None)
    "json_parse_secure": (PARSED, {"SMTP_SECURE": "true", "SMTP_USER": "@USER@"}, None),
    "json_parse_not_secure": (PARSED, {"SMTP_SECURE": "false", "SMTP_USER": "@USER@"}, "greeting_timeout"),
    "lower_cased_mode_word": (BUILDER, {"SMTP_TLS": "TLS", "SMTP_USER": "@USER@"}, None),
    "mode_word_it_does_not_know": (BUILDER, {"SMTP_TLS": "ssl", "SMTP_USER": "@USER@"}, "greeting_timeout"),
    "encoded_user": (ENCODED, {"SMTP_USER": "@USER@"}, None),
    "encoded_mailbox_user": (ENCODED, {"SMTP_USER": "@USER@@example.com"}, "auth_bad_credentials"),
}


@pytest.mark.parametrize("runner", ["nodemailer6", "nodemailer10"])
@pytest.mark.parametrize("name", list(CASES))
def test_javascript_values_are_computed_as_node_computes_them(name: str, runner: str, lab: LabInfo, tmp_path: Path,
                                                              other_ca: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, extra, failure = CASES[name]
    cell = {"id": name, "half": "dev", "runner": runner, "server": "implicit", "config": "mailer.js",
            "env": ENV | extra, "files": {"mailer.js": code}}
    run = check_and_run(cell, lab, tmp_path / "app", other_ca, monkeypatch, "js")
    exit_code, entry, output, real, subject = run.code, run.entry, run.output, run.real, run.subject
    if failure is None:
        assert real == "DELIVERED" and _delivered(lab, subject), real
        assert exit_code == 0 and entry["prediction"]["verdict"] == "delivered", output
    else:
        assert real != "DELIVERED" and _agree(failure, m3._read(real)), real  # the runner's TIMEOUT is a wait
        assert exit_code == 1 and _agree(entry["prediction"]["failure"], m3._read(real)), output


def test_a_url_check_cannot_read_leaves_the_target_unknown(tmp_path: Path) -> None:
    """Not localhost:587: the app connects where its function says, so nothing is probed and check says so."""
    config = tmp_path / "mailer.js"
    config.write_text("const nodemailer = require('nodemailer');\n"
                      "module.exports = nodemailer.createTransport(mailUrl(process.env.STAGE));\n")
    envfile = tmp_path / "app.env"
    envfile.write_text("STAGE=production\n")
    exit_code, entry, output = check_entry(config, envfile, LabInfo.__new__(LabInfo))
    assert exit_code == 1 and entry["prediction"]["verdict"] == "unknown", output
    assert entry["plan"]["host"] is None and entry["probed"] is None, output


@pytest.mark.parametrize("runner", ["nodemailer6", "nodemailer10"])
def test_a_url_transport_is_given_its_ca_through_the_environment(runner: str, lab: LabInfo, tmp_path: Path,
                                                                  other_ca: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """createTransport(process.env.EMAIL_SERVER) has no options object to add tls.ca to (and before 10.0.0 an
    object's keys beside its url are dropped): the fix is NODE_EXTRA_CA_CERTS in the app's environment, which
    the real Nodemailer then trusts (matrix 7b dev nm7_url_extra_ca_unrelated)."""
    cell = {"id": "url_ca", "half": "dev", "runner": runner, "server": "implicit", "config": "mailer.js",
            "env": {"NODE_EXTRA_CA_CERTS": "@OTHER_CA@"},
            "files": URL_APP}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    assert m3._read(m3._real(runner, app, config, env, f"js-{uuid.uuid4()}")) == "cert_unknown_issuer"
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--json", "--timeout", "10",
                                    "--ca-file", str(lab.ca_file), "--env", str(envfile)])
    assert lab.password not in done.output
    doc = json.loads(done.output)["configs"][0]
    assert doc["delivers"] and doc["env"] == [f"NODE_EXTRA_CA_CERTS={lab.ca_file}"], done.output
    subject = f"js-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, env | {"NODE_EXTRA_CA_CERTS": str(lab.ca_file)}, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


@pytest.mark.parametrize("runner", ["nodemailer6", "nodemailer10"])
def test_the_password_in_a_url_variable_is_the_one_logged_in_with(runner: str, lab: LabInfo, tmp_path: Path,
                                                                   other_ca: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """EMAIL_SERVER=smtps://user:PASS@host in the .env the code loads: check logs in with PASS (it logged in
    with the whole URL as the password when the variable's name did not end in _URL or _DSN)."""
    cell = {"id": "url_var", "half": "dev", "runner": runner, "server": "implicit", "config": "mailer.js",
            "env": {"NODE_EXTRA_CA_CERTS": "@CA@"},
            "files": URL_APP}
    run = check_and_run(cell, lab, tmp_path / "app", other_ca, monkeypatch, "url-var")
    code, entry, output, real = run.code, run.entry, run.output, run.real
    assert real == "DELIVERED" and _delivered(lab, run.subject), real
    assert code == 0 and entry["asked"]["login"] == "ok", output
