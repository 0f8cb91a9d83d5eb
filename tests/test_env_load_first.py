"""Settings read from the environment above the line that loads the env file (issue 12, matrix 8b dev): the app
gets the process's own variables, or its defaults, whatever the .env beside it says. check says why it goes where
it goes, and ``fix --write`` moves the loading line (and the import it needs) above the first read: the REAL
Nodemailer (both majors) and Django with python-dotenv deliver afterwards. The configurations are new; what is
asserted is the outcome and the failure mode, never a client's exact words."""

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

NODE = """const nodemailer = require('nodemailer');

const transport = nodemailer.createTransport({
  host: process.env.MAILER_HOST || 'localhost',
  port: Number(process.env.MAILER_PORT || 25),
  requireTLS: true,
  auth: { user: process.env.MAILER_USER, pass: process.env.MAILER_PASS },
});

const dotenv = require('dotenv');
dotenv.config();

module.exports = transport;
"""
DJANGO = """import os

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("MAILER_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("MAILER_PORT", "25"))
EMAIL_USE_TLS = True
EMAIL_HOST_USER = os.environ.get("MAILER_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("MAILER_PASS", "")

from dotenv import load_dotenv  # noqa: E402

load_dotenv()
"""
DOTENV = "MAILER_HOST=127.0.0.1\nMAILER_PORT=@PORT@\nMAILER_USER=@USER@\nMAILER_PASS=@PASSWORD@\n"

#: id → (runner, config file, its text, the app's environment): every app has a .env that would make it deliver
CASES = {
    "nodemailer6": ("nodemailer6", "mailer.js", NODE, {"NODE_EXTRA_CA_CERTS": "@CA@"}),
    "nodemailer10": ("nodemailer10", "mailer.js", NODE, {"NODE_EXTRA_CA_CERTS": "@CA@"}),
    "django": ("django", "settings.py", DJANGO, {"SSL_CERT_FILE": "@CA@"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_late_env_load_is_moved_above_the_settings(name: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    runner, config_name, text, env = CASES[name]
    cell = {"id": name, "half": "dev", "runner": runner, "server": "starttls", "config": config_name, "env": env,
            "files": {config_name: text, ".env": DOTENV}, "lock": False}
    app = tmp_path / "app"
    config, app_env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    before = m3._real(runner, app, config, app_env, f"late-{uuid.uuid4()}")
    # the real app goes to its defaults (nothing listens on localhost:25 here) and check says so, and why
    assert m3._read(before) in ("conn_refused", "connect_failed_unspecified"), before
    assert code == 3 and entry["prediction"]["verdict"] == "unreachable", output
    assert entry["plan"]["env_loaded_late"] == ".env" and entry["fix"]["text"], output
    code, output = fix_write(config, envfile, lab)
    assert code == 0, output
    fixed = config.read_text()
    load = fixed.index("dotenv.config()" if runner != "django" else "load_dotenv()")
    assert load < fixed.index("MAILER_HOST") and fixed.index("dotenv") < load, fixed  # the import moved with it
    subject = f"late-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, app_env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
