"""Mastodon renders each SMTP_* variable with ERB into config/email.yml, unquoted, and converts what that YAML
gives with its EmailConfigurationHelper (issue 12, matrix 7a/8a dev). So the password the app sends is the YAML
scalar: its surrounding blanks go, and `` #`` starts a comment; and before the helper that came with mail 2.9,
any SMTP_ENABLE_STARTTLS other than always/never leaves STARTTLS automatic (the YAML boolean is never the
string 'false'). check logs in with what the app sends and predicts the STARTTLS the helper picks. New
configurations, run through the REAL mapping into ActionMailer (Debian's mail gem, its Gemfile.lock);
asserted: the outcome, never a client's exact words."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

BASE = """LOCAL_DOMAIN=toots.example.org
SMTP_SERVER=127.0.0.1
SMTP_PORT=@PORT@
SMTP_FROM_ADDRESS=Toots <notifications@toots.example.org>
"""
LOGIN = "SMTP_LOGIN=@USER@\nSMTP_CA_FILE=@CA@\n"
#: name → (lab server, the rest of .env.production)
CASES = {
    # blanks inside the quotes reach the YAML as a plain scalar's blanks, which YAML drops
    "password_quoted_blanks": ("starttls", LOGIN + 'SMTP_PASSWORD="  @PASSWORD@   "\n'),
    # " #" inside the value starts a YAML comment: the app sends only what stands before it
    "password_with_comment_mark": ("starttls", LOGIN + 'SMTP_PASSWORD="@PASSWORD@ #rotated in May"\n'),
    # the YAML boolean false is not the string 'false': STARTTLS stays automatic, and the login goes over it
    "starttls_auto_false_is_ignored": ("starttls",
                                       LOGIN + "SMTP_PASSWORD=@PASSWORD@\nSMTP_ENABLE_STARTTLS_AUTO=false\n"),
    # nothing about TLS: automatic STARTTLS, which a plain relay that does not offer it lets through
    "plain_relay_defaults": ("plain", ""),
}


@pytest.mark.parametrize("name", list(CASES))
def test_check_reads_mastodon_settings_through_email_yml(name: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    server, rest = CASES[name]
    cell = {"id": name, "half": "dev", "runner": "mastodon", "server": server, "config": ".env.production",
            "files": {".env.production": BASE + rest}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    subject = f"email-yml-{uuid.uuid4()}"
    real = m3._real("mastodon", app, config, env, subject)
    assert real == "DELIVERED" and _delivered(lab, subject), real
    assert code == 0 and entry["prediction"]["verdict"] == "delivered", output
    if "PASSWORD" in rest:
        assert entry["asked"]["login"] == "ok", output  # logged in with the bytes the app sends
