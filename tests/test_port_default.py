"""No port set: the app goes to its framework's default, and when nothing answers there the why says so and names
the key (issue 12, matrix 9 dev flask_mail9_port_missing_default_25: Flask-Mail's MAIL_PORT defaults to 25). Checked
against the real Flask-Mail, which is refused at 127.0.0.1:25 (skipped where something listens there)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import _listening

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it


def test_a_default_port_nothing_answers_is_named(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if _listening(25):
        pytest.skip("something listens on 127.0.0.1:25, the default this config relies on")
    cell = {"id": "port_default", "half": "dev", "runner": "flask_mail", "server": "starttls", "config": "config.py",
            "env": {"SSL_CERT_FILE": "@CA@"},
            "files": {"config.py": 'MAIL_SERVER = "127.0.0.1"\nMAIL_USE_TLS = True\nMAIL_USERNAME = "@USER@"\n'
                                   'MAIL_PASSWORD = "@PASSWORD@"\nMAIL_DEFAULT_SENDER = "app@example.org"\n'}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._read(m3._real("flask_mail", app, config, env, f"portdefault-{uuid.uuid4()}"))
    assert real == "conn_refused" and code == 3, (real, output)
    why = entry["prediction"]["why"]
    assert "MAIL_PORT" in why and "25" in why, output
