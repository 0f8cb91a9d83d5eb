"""A CA file given as Django's client certificate (EMAIL_SSL_CERTFILE, no EMAIL_SSL_KEYFILE): a new
configuration of the kind users write when they mean "trust this CA" (issue 12). Python's load_cert_chain finds
no private key to pair the certificate with and TLS never starts ("[SSL] PEM lib"), on Debian's Django and on
4.2 alike. check said "no trust anchors" (Django 4.2's context loads no CAs), which is not what the app meets
first; it now reads the file as the app will load it. Asserted with the real Django against the lab: check's
outcome and failure mode agree, and explain reads the app's words; a client certificate with its key in the same
file is not flagged."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import trustme

import test_check_matrix3 as m3
from app_case import check_entry, write_case
from smtp_doctor.explain import explain
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, other_ca

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

SETTINGS = """import os

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = @PORT@
EMAIL_USE_TLS = True
EMAIL_SSL_CERTFILE = "{certfile}"
EMAIL_HOST_USER = "@USER@"
EMAIL_HOST_PASSWORD = os.environ["EMAIL_HOST_PASSWORD"]
"""


@pytest.mark.parametrize("runner", ["django", "django42"])
def test_a_ca_file_as_the_client_certificate_stops_tls_before_it_starts(runner: str, lab: LabInfo, tmp_path: Path,
                                                                        other_ca: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cell = {"id": "keyless", "half": "dev", "runner": runner, "server": "starttls", "lock": False,
            "config": "settings.py", "env": {"EMAIL_HOST_PASSWORD": "@PASSWORD@", "SSL_CERT_FILE": "@CA@"},
            "files": {"settings.py": SETTINGS.format(certfile="@CA@")}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real_text = m3._real(runner, app, config, env, f"keyless-{uuid.uuid4()}")
    real = m3._read(real_text)
    assert real == "cert_verify_failed", real_text
    assert code == 1 and _agree(m3._said({"configs": [entry]}, code), real), output
    assert "private key" in entry["prediction"]["why"], output
    found = explain(real_text.removeprefix("ERROR "))
    assert found.best is not None and found.best.mode.id == "cert_verify_failed"


def test_a_client_certificate_with_its_key_is_not_flagged(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ca = trustme.CA()
    both = tmp_path / "client.pem"
    leaf = ca.issue_cert("client.example")
    both.write_bytes(leaf.private_key_pem.bytes() + b"".join(c.bytes() for c in leaf.cert_chain_pems))
    cell = {"id": "with_key", "half": "dev", "runner": "django", "server": "starttls", "lock": False,
            "config": "settings.py", "env": {"EMAIL_HOST_PASSWORD": "@PASSWORD@", "SSL_CERT_FILE": "@CA@"},
            "files": {"settings.py": SETTINGS.format(certfile=str(both))}}
    config, env, envfile = write_case(cell, lab, tmp_path / "app", other_ca, monkeypatch)
    _, entry, output = check_entry(config, envfile, lab)
    assert "private key" not in (entry["prediction"]["why"] or ""), output
