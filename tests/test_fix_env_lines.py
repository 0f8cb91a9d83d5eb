"""The environment lines of a fix (SSL_CERT_FILE=…, NODE_EXTRA_CA_CERTS=…) are re-checked as the app would read
them before delivery is claimed (issue 12: never a claim it did not verify), and the login reads a password out
of a connection URL whatever the variable holding it is called."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import test_check_matrix3 as m3
from app_case import check_entry, write_case
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_real import _delivered
from test_password_as_token import LARAVEL_ENV, MAIL_PHP

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it


def test_an_environment_line_that_cannot_help_is_not_claimed(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """config/mail.php names a stream cafile that is not there: PHP loads it instead of the default paths, so
    SSL_CERT_FILE changes nothing. fix may show that line, but re-checks with it and claims no delivery
    (it used to claim every environment line delivered; matrix 7a dev)."""
    stream = MAIL_PHP.replace("'auth_mode' => null,", "'auth_mode' => null,\n            'stream' => ['ssl' => "
                                                       "['cafile' => base_path('storage/certs/relay-ca.pem')]],")
    cell = {"id": "stream_cafile_missing", "half": "dev", "runner": "laravel", "server": "implicit",
            "config": ".env", "env": {}, "files": {".env": LARAVEL_ENV.replace("@SECRET@", "@PASSWORD@"),
                                                   "config/mail.php": stream}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--json", "--timeout", "10",
                                    "--ca-file", str(lab.ca_file), "--env", str(envfile)])
    assert lab.password not in done.output
    doc = json.loads(done.output)["configs"][0]
    assert not doc["delivers"] and done.exit_code == 1, done.output
    lines = dict(line.split("=", 1) for line in doc["env"])
    real = m3._real("laravel", app, config, env | lines, f"stream-{uuid.uuid4()}")
    assert real != "DELIVERED", real


@pytest.mark.parametrize("runner", ["nodemailer6", "nodemailer10"])
def test_the_password_in_a_url_variable_is_the_one_logged_in_with(runner: str, lab: LabInfo, tmp_path: Path,
                                                                   other_ca: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """EMAIL_SERVER=smtps://user:PASS@host in the .env the code loads: check logs in with PASS (it logged in
    with the whole URL as the password when the variable's name did not end in _URL or _DSN)."""
    cell = {"id": "url_var", "half": "dev", "runner": runner, "server": "implicit", "config": "mailer.js",
            "env": {"NODE_EXTRA_CA_CERTS": "@CA@"},
            "files": {"mailer.js": "require('dotenv').config();\nconst nodemailer = require('nodemailer');\n"
                                   "module.exports = nodemailer.createTransport(process.env.EMAIL_SERVER);\n",
                      ".env": "EMAIL_SERVER=smtps://@USER@:@PASSWORD@@127.0.0.1:@PORT@\n"}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    subject = f"url-var-{uuid.uuid4()}"
    real = m3._real(runner, app, config, env, subject)
    assert real == "DELIVERED" and _delivered(lab, subject), real
    assert code == 0 and entry["asked"]["login"] == "ok", output
