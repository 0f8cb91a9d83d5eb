"""A real Go app (net/smtp, crypto/tls; tests/fixtures/errors/clients/go_client.go) in every wrong configuration
against the lab: whatever Go prints, explain names the failure the cell provoked.

Go comes from Debian's golang-go (scripts/install-system-deps.sh); without it these tests are skipped. Texts
that two different failures print identically (Go says "certificate signed by unknown authority" for a
private CA, a self-signed certificate and a missing intermediate alike) must have the right mode among the
alternatives — the words cannot say more; `explain --probe` can.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from explain_assert import assert_named
from smtp_doctor.lab import LabInfo

CLIENT = Path(__file__).parent / "fixtures" / "errors" / "clients" / "go_client.go"

# id, lab server (or "closed" / "dns"), job knobs, the failure the cell provokes, texts it shares with others
CELLS = [
    ("implicit_on_starttls", "starttls", {"mode": "implicit"}, "implicit_tls_on_plain_port", False),
    ("starttls_on_implicit", "implicit", {"mode": "starttls"}, "plain_on_implicit_port",
     True),  # the port is ephemeral: greeting timeout, both causes
    ("no_ca", "starttls", {"mode": "starttls", "ca": False}, "cert_unknown_issuer", False),
    ("expired", "expired", {"mode": "starttls"}, "cert_expired", False),
    ("wrong_name", "wrong-name", {"mode": "starttls"}, "cert_hostname_mismatch", False),
    ("self_signed", "self-signed", {"mode": "starttls"}, "cert_self_signed", True),
    ("missing_intermediate", "missing-intermediate", {"mode": "starttls"}, "cert_missing_intermediate", True),
    ("bad_password", "implicit", {"mode": "implicit", "user": True, "password": "wrong"}, "auth_bad_credentials",
     False),
    ("plain_where_login_only", "auth-login-only", {"mode": "implicit", "user": True}, "auth_mechanism", False),
    ("starttls_on_plain", "plain", {"mode": "starttls"}, "starttls_not_offered", False),
    ("refused", "closed", {"mode": "starttls"}, "conn_refused", False),
    ("dns", "dns", {"mode": "starttls"}, "dns_failure", False),
]


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("go") is None:
        pytest.skip("Go is not installed (scripts/install-system-deps.sh installs golang-go)")
    out = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOCACHE": str(out / "cache"), "GOPATH": str(out / "path"), "GOFLAGS": "-mod=mod",
           "GO111MODULE": "off", "CGO_ENABLED": "0"}
    built = subprocess.run(["go", "build", "-o", str(out / "goclient"), str(CLIENT)], capture_output=True,
                           text=True, timeout=300, env=env)
    assert built.returncode == 0, built.stderr
    yield out / "goclient"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(go_client: Path, lab: LabInfo, server: str, knobs: dict[str, object]) -> str:
    host, port = "127.0.0.1", 587
    if server == "closed":
        port = _closed_port()
    elif server == "dns":
        host = "no-such-host.invalid"
    else:
        port = lab.servers[server].port
    job = {"mode": knobs["mode"], "host": host, "port": port,
           "ca_file": str(lab.ca_file) if knobs.get("ca", True) else "", "user": lab.user if knobs.get("user") else ""}
    env = {**os.environ, "CLIENT_JOB": json.dumps(job), "CLIENT_PASSWORD": str(knobs.get("password", lab.password))}
    done = subprocess.run([str(go_client)], capture_output=True, text=True, timeout=30, env=env)
    return (done.stdout + done.stderr).strip()


def test_the_go_client_delivers_when_configured_right(go_client: Path, lab: LabInfo) -> None:
    assert run(go_client, lab, "implicit", {"mode": "implicit", "user": True}) == "DELIVERED"
    assert run(go_client, lab, "starttls", {"mode": "starttls", "user": True}) == "DELIVERED"


@pytest.mark.parametrize(("cid", "server", "knobs", "expect", "ambiguous"), CELLS, ids=[c[0] for c in CELLS])
def test_explain_names_what_go_ran_into(go_client: Path, lab: LabInfo, cid: str, server: str,
                                       knobs: dict[str, object], expect: str, ambiguous: bool) -> None:
    text = run(go_client, lab, server, knobs)
    assert_named(cid, text, expect, ambiguous)
