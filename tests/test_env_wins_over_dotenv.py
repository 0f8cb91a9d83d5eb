"""A variable the app's environment sets wins over the same one in its env file (issue 12, matrix 9 dev
symfony9_real_env_dsn_shadows_dotenv): no dotenv loader overrides a set variable by default (Symfony Dotenv,
dotenv-rails for Mastodon, phpdotenv, Node's dotenv, python-dotenv). check read the file's value; it now reads
the environment's (--env), and says where it came from. Asserted with the real Symfony Mailer and Mastodon's
real SMTP mapping into ActionMailer: outcome and failure mode agree; the password is in no output."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
import test_check_matrix8c as m8c
from app_case import check_entry, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, other_ca
from test_check_matrix5 import _with_ports, dead_ports
from test_check_real import _delivered

__all__ = ["dead_ports", "other_ca"]  # the fixtures, imported so pytest finds them here

CASES: dict[str, dict[str, Any]] = {
    # a stale MAILER_DSN left in the service's environment: Symfony connects where it says
    "symfony_stale_dsn": {"runner": "symfony", "server": "starttls", "config": ".env", "want": "conn_refused",
                          "env": {"MAILER_DSN": "smtp://@USER@:@PASSWORD@@localhost:@CLOSED_PORT@",
                                  "SSL_CERT_FILE": "@CA@"},
                          "files": {".env": "APP_ENV=prod\nAPP_SECRET=00112233445566778899aabbccddeeff\n"
                                            "MAILER_DSN=smtp://@USER@:@PASSWORD@@localhost:@PORT@\n"}},
    # the file still names an old port; the container's environment names the right one
    "mastodon_env_port": {"runner": "mastodon", "server": "plain", "config": ".env.production", "want": "delivered",
                          "env": {"SMTP_PORT": "@PORT@"},
                          "files": {".env.production": "LOCAL_DOMAIN=env.example\nSMTP_SERVER=127.0.0.1\n"
                                                       "SMTP_PORT=@CLOSED_PORT@\n"
                                                       "SMTP_FROM_ADDRESS=notifications@env.example\n"}},
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_environment_wins_over_the_env_file(name: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                                                monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str]) -> None:
    case = CASES[name]
    cell = {"id": name, "half": "dev", "lock": case["runner"] == "symfony", **{k: v for k, v in case.items()
                                                                             if k != "want"}}
    app = tmp_path / "app"
    config, env, envfile = write_case(_with_ports(cell, dead_ports), lab, app, other_ca, monkeypatch, m8c.DOC["lock"])
    code, entry, output = check_entry(config, envfile, lab)
    subject = f"envwins-{uuid.uuid4()}"
    real = m3._read(m3._real(case["runner"], app, config, env, subject))
    assert real == case["want"]
    if real == "delivered":
        assert _delivered(lab, subject)
    assert _agree(m3._said({"configs": [entry]}, code), real), output
    assert lab.password not in output
