"""A value the framework refuses at start-up, written as one it takes (issue 12: matrices 7a, 7c and 8c dev had
check name the refusal while ``fix`` wrote nothing). A Laravel mailer name with a typo, a Spring protocol in the
wrong case, a Symfony DSN scheme left from SwiftMailer: each configuration is new, goes through check, through the
REAL framework against the lab (Debian's Laravel 8.83 and symfony/mailer 5.4, Spring's sender over javax.mail),
then through ``fix --write`` and the real framework again. The fix picks the accepted value by reading each
candidate as the app would (remedy.accepted_value): the same word in the framework's spelling, else the one whose
connection fits the probed port. Asserted: the outcome and failure mode, never a framework's exact words."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
import test_check_matrix6c as m6c  # noqa: F401  (registers the Spring runner with matrix 3's machinery)
import test_check_matrix8c as m8c
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix6c import spring
from test_check_real import _delivered
from test_laravel8 import _mail_php

__all__ = ["other_ca", "spring"]  # the fixtures, imported so pytest finds them here

LARAVEL_ENV = """APP_NAME=Refused
MAIL_MAILER={mailer}
MAIL_HOST=127.0.0.1
MAIL_PORT=@PORT@
MAIL_USERNAME=@USER@
MAIL_PASSWORD=@PASSWORD@
MAIL_ENCRYPTION=tls
MAIL_FROM_ADDRESS=app@example.com
"""
SPRING = """spring.mail.protocol={protocol}
spring.mail.host=localhost
spring.mail.port=@PORT@
spring.mail.username=@USER@
spring.mail.password=@PASSWORD@
spring.mail.properties.mail.smtp.auth=true
spring.mail.properties.mail.smtp.starttls.enable=true
spring.mail.properties.mail.smtp.starttls.required=true
"""
TRUSTSTORE = "-Djavax.net.ssl.trustStore=@TRUSTSTORE@ -Djavax.net.ssl.trustStorePassword=changeit"

#: id → (runner, server, config file, its text, the app's environment, the refused value, what fix writes)
CASES: dict[str, tuple[str, str, str, str, dict[str, str], str, str]] = {
    "laravel_mailer_letters_swapped": ("laravel", "starttls", ".env", LARAVEL_ENV.format(mailer="stmp"),
                                       {"SSL_CERT_FILE": "@CA@"}, "MAIL_MAILER=stmp", "MAIL_MAILER=smtp"),
    "spring_protocol_capitalised": ("spring", "starttls", "src/main/resources/application.properties",
                                    SPRING.format(protocol="Smtp"), {"JAVA_TOOL_OPTIONS": TRUSTSTORE},
                                    "spring.mail.protocol=Smtp", "spring.mail.protocol=smtp"),
    # SwiftMailer spelt the mode as the scheme (tls://); symfony/mailer knows smtp and smtps only: on a STARTTLS
    # port the one that connects there is smtp, whose STARTTLS comes when offered
    "symfony_tls_scheme_on_starttls_port": ("symfony", "starttls", ".env",
                                            "MAILER_DSN=tls://@USER@:@PASSWORD@@localhost:@PORT@\n",
                                            {"SSL_CERT_FILE": "@CA@"}, "MAILER_DSN=tls://", "MAILER_DSN=smtp://"),
    "symfony_ssl_scheme_on_implicit_port": ("symfony", "implicit", ".env",
                                            "MAILER_DSN=ssl://@USER@:@PASSWORD@@localhost:@PORT@\n",
                                            {"SSL_CERT_FILE": "@CA@"}, "MAILER_DSN=ssl://", "MAILER_DSN=smtps://"),
}


def _cell(name: str) -> dict[str, Any]:
    runner, server, config, text, env, _, _ = CASES[name]
    return {"id": name, "half": "dev", "runner": runner, "server": server, "fixable": True, "config": config,
            "env": env, "files": {config: text, **({"config/mail.php": _mail_php()} if runner == "laravel" else {})},
            "lock": runner != "spring"}


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_value_is_written_as_one_the_framework_takes(name: str, lab: LabInfo, tmp_path: Path,
                                                              other_ca: str, request: pytest.FixtureRequest,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cell = _cell(name)
    spring = request.getfixturevalue("spring") if cell["runner"] == "spring" else {}  # javac once, the stores
    refused, written = CASES[name][5], CASES[name][6]
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch, m8c.DOC["lock"], spring)
    assert refused in config.read_text()
    code, entry, output = check_entry(config, envfile, lab)
    pred = entry["prediction"]
    before = m3._real(cell["runner"], app, config, env, f"refused-{uuid.uuid4()}")
    # the real framework refuses it before it connects, and check says so (exit 1: it will fail)
    assert before.startswith("ERROR"), before
    assert code == 1 and pred["verdict"] == "fails" and pred["stage"] == "startup", output
    assert m3._agree(pred["failure"], m3._read(before)), (pred["failure"], before)
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and written in config.read_text(), output
    subject = f"refused-fixed-{uuid.uuid4()}"
    after = m3._real(cell["runner"], app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
