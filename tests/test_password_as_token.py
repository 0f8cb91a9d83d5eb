"""A relay that offers only XOAUTH2, and a PHP mailer that sends its password there as the OAuth token (issue 12).

SwiftMailer (Laravel ≤ 8) and Symfony Mailer take XOAUTH2 when it is the only mechanism in common and send the
configured password as the bearer token. Whether the server takes it is the server's to say, so check logs in
exactly so (only over TLS whose certificate verified) instead of only guessing a refusal: the lab's XOAUTH2 relay
refuses a password and takes its own token. Both arms run through the real framework.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_real import _delivered
from test_laravel8 import _mail_php

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it

LARAVEL_ENV = ("MAIL_MAILER=smtp\nMAIL_HOST=localhost\nMAIL_PORT=@PORT@\nMAIL_USERNAME=@USER@\n"
               "MAIL_PASSWORD=@SECRET@\nMAIL_ENCRYPTION=ssl\nMAIL_FROM_ADDRESS=office@acme.test\n")
MAIL_PHP = _mail_php()
SYMFONY_ENV = "MAILER_DSN=smtps://@USER@:@SECRET@@localhost:@PORT@\n"


@pytest.mark.parametrize("runner", ["laravel", "symfony"])
@pytest.mark.parametrize("token", [False, True], ids=["password", "token"])
def test_the_password_sent_as_an_oauth_token_is_tried_as_the_app_sends_it(runner: str, token: bool, lab: LabInfo,
                                                                          tmp_path: Path, other_ca: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    secret = lab.oauth_token if token else lab.password
    text = (LARAVEL_ENV if runner == "laravel" else SYMFONY_ENV).replace("@SECRET@", secret)
    cell = {"id": f"{runner}_as_token", "half": "dev", "runner": runner, "server": "auth-xoauth2", "config": ".env",
            "env": {"SSL_CERT_FILE": "@CA@"},
            "files": {".env": text, **({"config/mail.php": MAIL_PHP} if runner == "laravel" else {})}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    assert secret not in output
    subject = f"as-token-{uuid.uuid4()}"
    real = m3._real(runner, app, config, env, subject)
    assert entry["asked"]["login"] == ("ok" if token else "refused"), output
    if token:
        assert real == "DELIVERED" and _delivered(lab, subject), real
        assert code == 0 and entry["prediction"]["verdict"] == "delivered", output
    else:
        assert real.startswith("ERROR"), real
        # the app fails at its login; what explain reads in its words depends on which line of the exchange
        # the mailer reports (SwiftMailer: the 535 its RSET got; Symfony: the 334 error challenge)
        assert m3._read(real).startswith("auth_"), real
        assert code == 1 and entry["prediction"]["failure"] == "auth_bad_credentials", output
        assert entry["prediction"]["certain"], output

