"""Nodemailer options written somewhere else than the createTransport call (issue 12, matrix 7b dev): a config
module with one transport per environment, required and indexed by NODE_ENV, and an options object that has
both a url and other keys, which Nodemailer before 10.0.0 drops (lib/nodemailer.js 6.10.1) and 10 applies
under the url's (10.0.0 CHANGELOG). Each against the lab and the real Nodemailer at both majors; asserted is
the outcome, and for the fix that the fixed app really delivers."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import test_check_matrix3 as m3
from app_case import check_and_run
from smtp_doctor.cli import cli
from smtp_doctor.configs import collect
from smtp_doctor.frameworks import to_settings
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it

PER_ENV = {
    "mailer.js": "const nodemailer = require('nodemailer');\nconst config = require('./config/mail');\n"
                 "module.exports = nodemailer.createTransport(config[process.env.NODE_ENV || 'development'].smtp);\n",
    "config/mail.js": """const fs = require('fs');
module.exports = {
  development: { smtp: { host: '127.0.0.1', port: @PORT@, requireTLS: true } },
  production: {
    smtp: {
      host: '127.0.0.1', port: @PORT@, requireTLS: true,
      auth: { user: '@USER@', pass: process.env.SMTP_PASS },
      tls: { ca: fs.readFileSync('@CA@') },
    },
  },
};
""",
}
URL_BESIDE = {"mailer.js": """const fs = require('fs');
const nodemailer = require('nodemailer');
module.exports = nodemailer.createTransport({
  url: process.env.MAIL_URL,
  tls: { ca: fs.readFileSync(process.env.MAIL_CA) },
});
"""}
CASES = {  # name: (files, environment, {runner: the real failure, or None when it delivers})
    "module_production": (PER_ENV, {"NODE_ENV": "production", "SMTP_PASS": "@PASSWORD@"},
                          {"nodemailer6": None, "nodemailer10": None}),
    # (fix does not write into the required module: it says which lines to change there by hand)
    "module_development": (PER_ENV, {"SMTP_PASS": "@PASSWORD@"},
                           {"nodemailer6": "cert_unknown_issuer", "nodemailer10": "cert_unknown_issuer"}),
    "url_beside_tls": (URL_BESIDE, {"MAIL_URL": "smtps://@USER@:@PASSWORD@@127.0.0.1:@PORT@", "MAIL_CA": "@CA@"},
                       {"nodemailer6": "cert_unknown_issuer", "nodemailer10": None}),
}


@pytest.mark.parametrize("runner", ["nodemailer6", "nodemailer10"])
@pytest.mark.parametrize("name", list(CASES))
def test_options_from_a_module_or_beside_a_url_are_read_as_nodemailer_reads_them(
        name: str, runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    files, extra, failures = CASES[name]
    server = "implicit" if name.startswith("url") else "starttls"
    cell = {"id": name, "half": "dev", "runner": runner, "server": server, "config": "mailer.js", "env": extra,
            "files": files}
    app = tmp_path / "app"
    run = check_and_run(cell, lab, app, other_ca, monkeypatch, "js-module")
    config, env, envfile, exit_code, entry, output = run.config, run.env, run.envfile, run.code, run.entry, run.output
    real, subject = run.real, run.subject
    if failures[runner] is None:
        assert real == "DELIVERED" and _delivered(lab, subject), real
        assert exit_code == 0 and entry["prediction"]["verdict"] == "delivered", output
        return
    assert real != "DELIVERED" and m3._read(real) == failures[runner], real
    assert exit_code == 1 and _agree(entry["prediction"]["failure"], m3._read(real)), output
    if name.startswith("module"):
        done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--timeout", "10",
                                        "--ca-file", str(lab.ca_file), "--env", str(envfile)])
        assert done.exit_code == 1 and "written in another file" in done.output, done.output
        return
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--json", "--timeout", "10",
                                    "--ca-file", str(lab.ca_file), "--env", str(envfile)])
    assert lab.password not in done.output
    doc = json.loads(done.output)["configs"][0]
    assert doc["delivers"], done.output  # claimed only after its own re-check
    fixed_env = env | dict(line.split("=", 1) for line in doc.get("env", []))
    subject = f"js-module-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, fixed_env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


def test_a_default_import_of_an_es_module_is_followed(tmp_path: Path) -> None:
    """`import mail from './mail.js'` and `export default {…}`: the options the module exports."""
    (tmp_path / "mail.js").write_text("export default { staging: { host: 'smtp.example.org', port: 2525 } };\n")
    config = tmp_path / "mailer.js"
    config.write_text("import nodemailer from 'nodemailer';\nimport mail from './mail.js';\n"
                      "export const transport = nodemailer.createTransport(mail['staging']);\n")
    settings = to_settings(collect([config], {}, None)[0])
    assert settings.host is not None and settings.host.value == "smtp.example.org"
    assert settings.port is not None and settings.port.value == 2525
    assert settings.port.origin is not None and settings.port.origin.file == str(tmp_path / "mail.js")
