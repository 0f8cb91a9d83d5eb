"""msmtp's tls_host_override: the name the certificate is checked against instead of the host (msmtp(1)). A new
configuration of my own (issue 12): check ignored the key and checked the host's name. Asserted with the real
msmtp against the lab: a name the certificate does not hold fails as the app fails; the name it holds, while
the host is an IP address, delivers."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, other_ca

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

RC = """account default
host 127.0.0.1
port @PORT@
from app@example.com
auth on
user @USER@
password @PASSWORD@
tls on
tls_trust_file @CA@
tls_host_override {name}
"""


@pytest.mark.parametrize(("name", "want"), [("smtp.example.com", "cert_hostname_mismatch"), ("localhost", "delivered")])
def test_the_certificate_is_checked_against_the_override(name: str, want: str, lab: LabInfo, tmp_path: Path,
                                                        other_ca: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cell = {"id": name, "half": "dev", "runner": "msmtp", "server": "starttls", "lock": False, "config": "msmtprc",
            "env": {}, "files": {"msmtprc": RC.format(name=name)}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._read(m3._real("msmtp", app, config, env, f"override-{uuid.uuid4()}"))
    assert real == want
    assert _agree(m3._said({"configs": [entry]}, code), real), output
