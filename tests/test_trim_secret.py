"""A password read from a file that ends with a line break (``echo pw > secret``, a Docker secret written by an
editor; issue 12, matrix 8b dev): the app sends the newline as part of the password and the server refuses it.
check logs in with the same bytes, is refused as the app is, and names the file; ``fix --write`` adds
``.strip()`` where the code reads it (never writing the password), and the REAL Django and Flask-Mail deliver
afterwards. New configurations; asserted: the outcome and failure mode, never a client's exact words."""

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

DJANGO = """import os
from pathlib import Path

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = @PORT@
EMAIL_USE_SSL = True
EMAIL_HOST_USER = "@USER@"
EMAIL_HOST_PASSWORD = Path(os.environ["SMTP_PASSWORD_FILE"]).read_text()
"""
FLASK = """import os

MAIL_SERVER = "127.0.0.1"
MAIL_PORT = @PORT@
MAIL_USE_TLS = True
MAIL_USERNAME = "@USER@"
MAIL_PASSWORD = open(os.environ["SMTP_PASSWORD_FILE"], encoding="utf-8").read()
"""
CASES = {"django": ("django", "implicit", "settings.py", DJANGO),
         "flask_mail": ("flask_mail", "starttls", "config.py", FLASK)}


@pytest.mark.parametrize("name", list(CASES))
def test_a_password_files_line_break_is_trimmed_where_the_app_reads_it(name: str, lab: LabInfo, tmp_path: Path,
                                                                        other_ca: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    runner, server, config_name, text = CASES[name]
    cell = {"id": name, "half": "dev", "runner": runner, "server": server, "config": config_name,
            "env": {"SSL_CERT_FILE": "@CA@", "SMTP_PASSWORD_FILE": "@DIR@/run/secrets/smtp"},
            "files": {config_name: text, "run/secrets/smtp": "@PASSWORD@\n"}, "lock": False}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    assert Path(env["SMTP_PASSWORD_FILE"]).read_text().endswith("\n")
    code, entry, output = check_entry(config, envfile, lab)
    before = m3._real(runner, app, config, env, f"trim-{uuid.uuid4()}")
    assert m3._read(before) == "auth_bad_credentials", before
    assert code == 1 and entry["prediction"]["failure"] == "auth_bad_credentials", output
    assert entry["asked"]["padded_file"] == env["SMTP_PASSWORD_FILE"], output
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and ".strip()" in config.read_text(), output
    assert Path(env["SMTP_PASSWORD_FILE"]).read_text().endswith("\n")  # the secret file is the user's, untouched
    subject = f"trim-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
