"""A variable of the app's environment that overrides what a file of the app sets (issue 12, matrix 9 dev
spring9-env-stale-spring-mail-port-wins): a SPRING_MAIL_PORT, MAIL_PORT or SMTP_PORT left from an old deploy keeps
the app on a port nothing answers, however the file is edited. check names the variable (lint SD125, and the why of
"cannot reach"); fix reads the files again without it and, when they deliver, says to remove it where the app runs,
writing nothing. Proven with Spring's real sender, the real Laravel 8, Symfony Mailer (a stale MAILER_DSN, which holds
the password) and Mastodon's real SMTP mapping into ActionMailer: refused as the app runs, delivered without the
variable. A Spring profile whose file holds the mail settings, never activated, is the same kind: fix gives the
line that activates it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import test_check_matrix3 as m3
import test_check_matrix6c as m6c
import test_check_matrix8c as m8c
from app_case import check_entry, write_case
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import _with_ports, dead_ports
from test_check_matrix6c import spring
from test_check_real import _delivered
from test_fix_laravel_shadowed import ENV as LARAVEL_ENV
from test_laravel8 import _mail_php

__all__ = ["dead_ports", "other_ca", "spring"]  # the fixtures, imported so pytest finds them here

TRUST = {"JAVA_TOOL_OPTIONS": "-Djavax.net.ssl.trustStore=@TRUSTSTORE@ -Djavax.net.ssl.trustStorePassword=changeit"}
CASES: dict[str, tuple[str, dict[str, Any]]] = {  # name: (the stale variable, the case)
    "spring": ("SPRING_MAIL_PORT", {
        "runner": "spring", "server": "starttls", "lock": False, "config": "src/main/resources/application.properties",
        "env": {"SPRING_MAIL_PORT": "@CLOSED_PORT@", **TRUST},
        "files": {"src/main/resources/application.properties":
                  "spring.mail.host=localhost\nspring.mail.port=@PORT@\nspring.mail.username=@USER@\n"
                  "spring.mail.password=@PASSWORD@\nspring.mail.properties.mail.smtp.auth=true\n"
                  "spring.mail.properties.mail.smtp.starttls.enable=true\n"
                  "spring.mail.properties.mail.smtp.starttls.required=true\n"}}),
    "laravel": ("MAIL_PORT", {
        "runner": "laravel", "server": "starttls", "config": ".env",
        "env": {"MAIL_PORT": "@CLOSED_PORT@", "SSL_CERT_FILE": "@CA@"},
        "files": {".env": LARAVEL_ENV.replace("@HOST@", "localhost"), "config/mail.php": _mail_php()}}),
    "symfony": ("MAILER_DSN", {
        "runner": "symfony", "server": "starttls", "config": ".env",
        "env": {"MAILER_DSN": "smtp://@USER@:@PASSWORD@@localhost:@CLOSED_PORT@", "SSL_CERT_FILE": "@CA@"},
        "files": {".env": "APP_ENV=prod\nAPP_SECRET=8899aabbccddeeff0011223344556677\n"
                          "MAILER_DSN=smtp://@USER@:@PASSWORD@@localhost:@PORT@\n"}}),
    "mastodon": ("SMTP_PORT", {
        "runner": "mastodon", "server": "plain", "config": ".env.production", "env": {"SMTP_PORT": "@CLOSED_PORT@"},
        "files": {".env.production": "LOCAL_DOMAIN=stale.example\nSMTP_SERVER=127.0.0.1\nSMTP_PORT=@PORT@\n"
                                     "SMTP_FROM_ADDRESS=notifications@stale.example\n"}}),
}


def _files(app: Path) -> dict[Path, str]:
    """The app's files (not the runner's own _app script)."""
    return {p: p.read_text() for p in app.rglob("*") if p.is_file() and not p.name.startswith("_app")}


@pytest.mark.parametrize("name", list(CASES))
def test_a_stale_variable_is_named_and_set_back(name: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                                                monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str],
                                                request: pytest.FixtureRequest) -> None:
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)
    var, case = CASES[name]
    stores: dict[str, str] = request.getfixturevalue("spring") if name == "spring" else {}
    cell = _with_ports({"id": f"stale_{name}", "half": "dev", **case}, dead_ports | stores)
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch, m8c.DOC["lock"], stores)
    before = _files(app)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._read(m3._real(case["runner"], app, config, env, f"stale-{uuid.uuid4()}"))
    assert real == "conn_refused", real
    assert code == 3 and entry["prediction"]["verdict"] == "unreachable", output
    assert any(f["id"] == "SD125" and var in f["verdict"] for f in entry["lint"]), output
    assert var in entry["prediction"]["why"], output
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--json", "--timeout", "10",
                                    "--env", str(envfile)])
    assert lab.password not in done.output
    [fixed] = json.loads(done.output)["configs"]
    assert done.exit_code == 1 and fixed["delivers"] and fixed["unset"] == [var] and not fixed["env"], done.output
    assert _files(app) == before  # nothing in the files changes
    subject = f"stale-fixed-{uuid.uuid4()}"
    after = m3._real(case["runner"], app, config, {k: v for k, v in env.items() if k != var}, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


def test_an_inactive_profile_that_delivers_is_activated(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                        monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str],
                                                        spring: dict[str, str]) -> None:
    """application-prod.properties holds the mail settings, and no profile is active (lint SD122, matrix 8c dev):
    fix gives SPRING_PROFILES_ACTIVE=prod for the app's environment, checked by reading the layers again with it."""
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)
    base = "src/main/resources/application.properties"
    cell = _with_ports({"id": "profile", "half": "dev", "runner": "spring", "server": "starttls", "lock": False,
                        "config": base, "env": TRUST, "files": {
                            base: "spring.mail.host=127.0.0.1\nspring.mail.port=@CLOSED_PORT@\n",
                            "src/main/resources/application-prod.properties":
                                "spring.mail.host=localhost\nspring.mail.port=@PORT@\nspring.mail.username=@USER@\n"
                                "spring.mail.password=@PASSWORD@\nspring.mail.properties.mail.smtp.auth=true\n"
                                "spring.mail.properties.mail.smtp.starttls.enable=true\n"}}, dead_ports | spring)
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch, stores=spring)
    real = m3._read(m3._real("spring", app, config, env, f"profile-{uuid.uuid4()}"))
    assert real == "conn_refused", real
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--json", "--timeout", "10",
                                    "--env", str(envfile)])
    assert lab.password not in done.output
    [fixed] = json.loads(done.output)["configs"]
    assert done.exit_code == 1 and fixed["delivers"] and fixed["env"] == ["SPRING_PROFILES_ACTIVE=prod"], done.output
    subject = f"profile-fixed-{uuid.uuid4()}"
    after = m3._real("spring", app, config, env | {"SPRING_PROFILES_ACTIVE": "prod"}, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
