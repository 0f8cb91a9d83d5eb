"""A real Java app with Jakarta Mail (Debian's libjakarta-mail-java 2.0; tests/fixtures/errors/clients/
JakartaClient.java) in every wrong configuration against the lab: explain names the failure each cell provoked.

The app trusts the lab CA through a PKCS12 trust store (javax.net.ssl.trustStore, as Java apps do) and checks
the server's identity (mail.smtp.ssl.checkserveridentity). Java's "PKIX path building failed" is the same
text for an unknown CA, a self-signed certificate and a missing intermediate: for those cells the right mode
must be among the alternatives.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from explain_assert import assert_named
from smtp_doctor.lab import LabInfo

SOURCE = Path(__file__).parent / "fixtures" / "errors" / "clients" / "JakartaClient.java"
JARS = ("/usr/share/java/jakarta-mail.jar", "/usr/share/java/jakarta-activation.jar")

# id, lab server (or "closed" / "dns"), mode, trust store?, user?, password ("unset": none), expected mode,
# ambiguous text
CELLS = [
    ("implicit_on_starttls", "starttls", "implicit", True, False, "", "implicit_tls_on_plain_port", False),
    ("starttls_on_implicit", "implicit", "starttls", True, False, "", "plain_on_implicit_port",
     True),  # the port is ephemeral: a greeting timeout with both causes
    ("no_trust_store", "starttls", "starttls", False, False, "", "cert_unknown_issuer", False),
    ("expired", "expired", "starttls", True, False, "", "cert_expired", False),
    ("wrong_name", "wrong-name", "starttls", True, False, "", "cert_hostname_mismatch", False),
    ("self_signed", "self-signed", "starttls", True, False, "", "cert_self_signed", True),
    ("missing_intermediate", "missing-intermediate", "starttls", True, False, "", "cert_missing_intermediate", True),
    ("starttls_required_on_plain", "plain", "starttls", True, False, "", "starttls_not_offered", False),
    ("no_tls_where_required", "starttls", "plain", True, True, "", "starttls_required", False),
    ("bad_password", "implicit", "implicit", True, True, "wrong", "auth_bad_credentials", False),
    ("no_password", "implicit", "implicit", True, True, "unset", "auth_missing_credentials", False),
    ("no_common_mechanism", "auth-xoauth2", "implicit", True, True, "", "auth_mechanism", False),
    ("refused", "closed", "starttls", True, False, "", "conn_refused", False),
    ("dns", "dns", "starttls", True, False, "", "dns_failure", False),
]


@pytest.fixture(scope="module")
def java_app(tmp_path_factory: pytest.TempPathFactory, lab: LabInfo) -> Iterator[tuple[str, Path]]:
    if shutil.which("javac") is None or not all(Path(j).exists() for j in JARS):
        pytest.skip("javac / libjakarta-mail-java not installed (scripts/install-system-deps.sh installs them)")
    out = tmp_path_factory.mktemp("java")
    classpath = ":".join(JARS)
    built = subprocess.run(["javac", "-cp", classpath, "-d", str(out), str(SOURCE)], capture_output=True,
                           text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    store = out / "lab-trust.p12"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "lab", "-file", str(lab.ca_file), "-keystore",
                    str(store), "-storetype", "PKCS12", "-storepass", "changeit"], check=True, capture_output=True,
                   timeout=60)
    yield f"{classpath}:{out}", store


def run(app: tuple[str, Path], lab: LabInfo, server: str, mode: str, trust: bool, user: bool, password: str) -> str:
    classpath, store = app
    host, port = "localhost", 587  # the lab certificates name localhost; Jakarta Mail checks the identity
    if server == "closed":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    elif server == "dns":
        host = "no-such-host.invalid"
    else:
        port = lab.servers[server].port
    job = " ".join([mode, host, str(port), str(store) if trust else "", lab.user if user else ""])
    env = {**os.environ, "CLIENT_JOB": job, "CLIENT_PASSWORD": password or lab.password}
    if password == "unset":  # no password at all: Jakarta Mail refuses before it connects
        del env["CLIENT_PASSWORD"]
    done = subprocess.run(["java", "-cp", classpath, "JakartaClient"], capture_output=True, text=True, timeout=60,
                          env=env)
    return (done.stdout + done.stderr).strip()


def test_the_java_app_delivers_when_configured_right(java_app: tuple[str, Path], lab: LabInfo) -> None:
    assert run(java_app, lab, "implicit", "implicit", True, True, "") == "DELIVERED"
    assert run(java_app, lab, "starttls", "starttls", True, True, "") == "DELIVERED"


@pytest.mark.parametrize(("cid", "server", "mode", "trust", "user", "password", "expect", "ambiguous"), CELLS,
                         ids=[c[0] for c in CELLS])
def test_explain_names_what_jakarta_mail_ran_into(java_app: tuple[str, Path], lab: LabInfo, cid: str, server: str,
                                                  mode: str, trust: bool, user: bool, password: str, expect: str,
                                                  ambiguous: bool) -> None:
    text = run(java_app, lab, server, mode, trust, user, password)
    assert_named(cid, text, expect, ambiguous)
