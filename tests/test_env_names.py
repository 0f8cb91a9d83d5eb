"""A setting read from a variable the app's environment does not set, beside one of a close name that it does
(``ENV['SMTP_PASS']`` where the service sets ``SMTP_PASSWORD``; issue 12, matrix 8a dev): the app runs with
nothing there. check says what fails; ``fix --write`` makes the config read the variable that is set (never
writing its value), and the REAL framework delivers afterwards: GitLab's SMTP mapping into ActionMailer, Django,
Nodemailer. New configurations; asserted: the outcome and failure mode, never a client's exact words."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

GITLAB = """gitlab_rails['smtp_enable'] = true
gitlab_rails['smtp_address'] = "127.0.0.1"
gitlab_rails['smtp_port'] = @PORT@
gitlab_rails['smtp_user_name'] = "@USER@"
gitlab_rails['smtp_password'] = ENV['MAIL_PASS']
gitlab_rails['smtp_authentication'] = "plain"
gitlab_rails['smtp_tls'] = true
gitlab_rails['smtp_ca_file'] = "@CA@"
"""
DJANGO = """import os

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_SERVER", "smtp.invalid")
EMAIL_PORT = @PORT@
EMAIL_USE_TLS = True
EMAIL_HOST_USER = "@USER@"
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_PASSWORD", "")
"""
NODE = """const nodemailer = require('nodemailer');

module.exports = nodemailer.createTransport({
  host: '127.0.0.1',
  port: @PORT@,
  requireTLS: true,
  auth: { user: '@USER@', pass: process.env.SMTP_PASSWD },
});
"""
#: id → (runner, server, config file, its text, the app's environment: a close name set, the read one not)
CASES = {
    "gitlab": ("gitlab", "implicit", "gitlab.rb", GITLAB, {"MAIL_PASSWORD": "@PASSWORD@"}),
    "django": ("django", "starttls", "settings.py", DJANGO,
               {"SSL_CERT_FILE": "@CA@", "EMAIL_SERVERS": "127.0.0.1", "EMAIL_PASSWD": "@PASSWORD@"}),
    "nodemailer10": ("nodemailer10", "starttls", "mailer.js", NODE,
                     {"NODE_EXTRA_CA_CERTS": "@CA@", "SMTP_PASSWORD": "@PASSWORD@"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_setting_reads_the_variable_of_a_close_name_that_is_set(name: str, lab: LabInfo, tmp_path: Path,
                                                                  other_ca: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    runner, server, config_name, text, env = CASES[name]
    cell = {"id": name, "half": "dev", "runner": runner, "server": server, "config": config_name, "env": env,
            "files": {config_name: text}, "lock": False}
    app = tmp_path / "app"
    config, app_env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    before = m3._real(runner, app, config, app_env, f"names-{uuid.uuid4()}")
    assert m3._read(before) != "delivered", before
    assert code in (1, 3) and entry["prediction"]["verdict"] != "delivered", output
    assert m3._agree(entry["prediction"]["failure"], m3._read(before)), (entry["prediction"], before)
    code, output = fix_write(config, envfile, lab)
    assert code == 0, output
    subject = f"names-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, app_env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
