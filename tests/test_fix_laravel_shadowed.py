"""Laravel 8 reads config/mail.php's array, and the array reads .env only through env(): a port or host written
there as a literal shadows the MAIL_* variable the user edits in .env (issue 12, matrix 8c dev). check follows the
literal, and fix reads the variable there again, the literal as its default, the way laravel/laravel 8.x ships
the file. Proven with the real Laravel 8 against the lab."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_real import _delivered
from test_laravel8 import _mail_php

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it

ENV = ("MAIL_MAILER=smtp\nMAIL_HOST=@HOST@\nMAIL_PORT=@PORT@\nMAIL_USERNAME=@USER@\nMAIL_PASSWORD=@PASSWORD@\n"
       "MAIL_ENCRYPTION=tls\nMAIL_FROM_ADDRESS=office@acme.test\n")


@pytest.mark.parametrize(("literal", "host"), [("'port' => 1,", "localhost"),
                                               ("'host' => 'smtp.mailgun.org',", "localhost")],
                         ids=["port", "host"])
def test_a_literal_in_config_mail_php_is_read_from_env_again(literal: str, host: str, lab: LabInfo, tmp_path: Path,
                                                             other_ca: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = literal.split("'")[1]
    mail_php = "\n".join(literal if f"'{key}' => env(" in line and line.strip().startswith(f"'{key}'") else line
                         for line in _mail_php().splitlines()).replace(literal, "            " + literal) + "\n"
    assert literal in mail_php
    cell = {"id": f"shadowed_{key}", "half": "dev", "runner": "laravel", "server": "starttls", "config": ".env",
            "env": {"SSL_CERT_FILE": "@CA@"},
            "files": {".env": ENV.replace("@HOST@", host), "config/mail.php": mail_php}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._real("laravel", app, config, env, f"shadowed-{uuid.uuid4()}")
    assert real != "DELIVERED" and code in (1, 3), (real, output)
    assert entry["prediction"]["verdict"] != "delivered", output
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and "will deliver" in output, output
    assert f"env('MAIL_{key.upper()}'," in (app / "config" / "mail.php").read_text()
    subject = f"shadowed-fixed-{uuid.uuid4()}"
    after = m3._real("laravel", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


def test_an_auth_mode_literal_is_read_from_env_before_the_fix_writes_it(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """'auth_mode' => 'login' against a relay offering PLAIN only: SwiftMailer has no authenticator left. The fix
    writes MAIL_AUTH_MODE, which this config/mail.php never reads: it is made to read it first (matrix 9 dev)."""
    mail_php = _mail_php().replace("'auth_mode' => null,", "'auth_mode' => 'login',")
    assert "'auth_mode' => 'login'," in mail_php
    cell = {"id": "shadowed_auth_mode", "half": "dev", "runner": "laravel", "server": "auth-plain-only",
            "config": ".env", "env": {"SSL_CERT_FILE": "@CA@"},
            "files": {".env": ENV.replace("@HOST@", "localhost").replace("=tls\n", "=ssl\n"),
                      "config/mail.php": mail_php}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._real("laravel", app, config, env, f"auth-mode-{uuid.uuid4()}")
    assert "authenticators" in real and code == 1, (real, output)
    assert entry["prediction"]["failure"] == "auth_mechanism", output
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and "will deliver" in output, output
    assert "env('MAIL_AUTH_MODE', 'login')" in (app / "config" / "mail.php").read_text()
    assert "MAIL_AUTH_MODE=PLAIN" in config.read_text()
    subject = f"auth-mode-fixed-{uuid.uuid4()}"
    after = m3._real("laravel", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
