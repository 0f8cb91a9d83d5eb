"""`smtp-doctor trust` end to end: real runtimes, the lab over real sockets, exit codes, bad input."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from smtp_doctor.lab import LabInfo

EXE = str(Path(sys.executable).with_name("smtp-doctor"))


def run(args: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], env=dict(env if env is not None else os.environ), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def no_bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("nobundle")
    (d / "empty.pem").write_text("")
    (d / "certs").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NODE_EXTRA_CA_CERTS", "NODE_OPTIONS")}
    return env | {"SSL_CERT_FILE": str(d / "empty.pem"), "SSL_CERT_DIR": str(d / "certs"), "LANG": "C"}


def test_without_a_server_it_lists_the_stores(no_bundle: dict[str, str], lab: LabInfo) -> None:
    r = run(["trust", "--runtime", "ruby", "--runtime", "python"], no_bundle)
    assert r.returncode == 1, r.stderr  # no anchors at all is a problem
    assert no_bundle["SSL_CERT_FILE"] in r.stdout and "no trust anchors at all" in r.stdout
    r = run(["trust", "--runtime", "python", "--json"], no_bundle | {"SSL_CERT_FILE": str(lab.ca_file)})
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["ok"] is True and data["runtimes"][0]["anchors"] == 1


def test_server_without_bundle_names_the_fix_in_each_framework(no_bundle: dict[str, str], lab: LabInfo) -> None:
    port = lab.servers["starttls"].port
    ca = str(lab.ca_file)
    r = run(["trust", f"127.0.0.1:{port}", "--runtime", "ruby", "--runtime", "node", "--ca-file", ca], no_bundle)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "unable to get local issuer certificate" in out  # Ruby's words
    assert f'ca_file: "{ca}"' in out and f"SMTP_CA_FILE={ca}" in out and f"gitlab_rails['smtp_ca_file'] = '{ca}'" in out
    assert f'tls: {{ ca: fs.readFileSync("{ca}") }}' in out and f"NODE_EXTRA_CA_CERTS={ca}" in out
    assert "Traceback" not in r.stderr


def test_json_output(no_bundle: dict[str, str], lab: LabInfo) -> None:
    port = lab.servers["starttls"].port
    r = run(["trust", f"127.0.0.1:{port}", "--runtime", "python", "--ca-file", str(lab.ca_file), "--json",
             "--framework", "django"], no_bundle)
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["ok"] is False
    [verdict] = data["verdicts"]
    assert verdict["ok"] is False and verdict["error_code"] == 20
    assert verdict["missing"]["found_in"] == [str(lab.ca_file)]
    assert data["remedy"]["path"] == str(lab.ca_file)
    assert data["remedy"]["fixes"] == [{"framework": "django", "label": "Django", "where": data["remedy"]["fixes"][0][
        "where"], "snippet": f"SSL_CERT_FILE={lab.ca_file}", "insecure": data["remedy"]["fixes"][0]["insecure"]}]
    assert data["server"]["hostname_ok"] is True and data["ca_file"]["ok"] is True


def test_trusted_server_exits_zero(no_bundle: dict[str, str], lab: LabInfo) -> None:
    port = lab.servers["implicit"].port
    r = run(["trust", f"127.0.0.1:{port}", "--runtime", "ruby", "--runtime", "python"],
            no_bundle | {"SSL_CERT_FILE": str(lab.ca_file)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "trusts the server" in r.stdout


def test_hashed_directory_as_ca_file(no_bundle: dict[str, str], lab: LabInfo, tmp_path: Path) -> None:
    d = tmp_path / "cas"
    d.mkdir()
    shutil.copy(lab.ca_file, d / "lab.pem")
    port = lab.servers["starttls"].port
    r = run(["trust", f"127.0.0.1:{port}", "--runtime", "ruby", "--ca-file", str(d)], no_bundle)
    assert r.returncode == 2 and "openssl rehash" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    subprocess.run(["openssl", "rehash", str(d)], check=True, timeout=30, capture_output=True)
    r = run(["trust", f"127.0.0.1:{port}", "--runtime", "ruby", "--ca-file", str(d), "--framework", "actionmailer"],
            no_bundle)
    assert r.returncode == 1 and f'ca_path: "{d}"' in r.stdout, r.stdout


def test_export_chain_pins_a_self_signed_server(no_bundle: dict[str, str], lab: LabInfo, tmp_path: Path) -> None:
    port = lab.servers["self-signed"].port
    pem = tmp_path / "pinned.pem"
    r = run(["trust", f"127.0.0.1:{port}", "--runtime", "python", "--export-chain", str(pem)], no_bundle)
    assert r.returncode == 1 and "self-signed certificate" in r.stdout
    assert "renew" in r.stderr and pem.read_text().count("BEGIN CERTIFICATE") == 1
    client = ("import smtplib, ssl, sys\n"
              "with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=5) as s:\n"
              "    s.starttls(context=ssl.create_default_context(cafile=sys.argv[2]))\n")
    ok = subprocess.run([sys.executable, "-c", client, str(port), str(pem)], env=no_bundle, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    r = run(["trust", f"127.0.0.1:{port}", "--runtime", "python", "--ca-file", str(pem)], no_bundle)
    assert "verifies the server" in r.stdout and str(pem) in r.stdout


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--ca-file", "/nonexistent.pem"], 2, "no such file"),
    (["--interpreter", "cobol=/bin/true"], 2, "RUNTIME=PATH"),
    (["--export-chain", "/tmp/x.pem"], 2, "needs HOST"),
    (["bad host:25"], 2, "cannot read target"),
])
def test_bad_input_is_one_line(args: list[str], code: int, words: str, no_bundle: dict[str, str]) -> None:
    r = run(["trust", "--runtime", "python", *args], no_bundle)
    assert r.returncode == code and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_empty_ca_file_is_rejected(no_bundle: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "e.pem").write_text("not a certificate\n")
    r = run(["trust", "--ca-file", str(tmp_path / "e.pem")], no_bundle)
    assert r.returncode == 2 and "no certificate found" in r.stderr


def test_unreachable_and_plaintext_servers(no_bundle: dict[str, str], lab: LabInfo) -> None:
    r = run(["trust", f"127.0.0.1:{_closed_port()}", "--runtime", "python", "--timeout", "5"], no_bundle)
    assert r.returncode == 3 and "could not talk to" in r.stderr and "Traceback" not in r.stderr
    r = run(["trust", f"127.0.0.1:{lab.servers['plain'].port}", "--runtime", "python"], no_bundle)
    assert r.returncode == 1 and "did not start TLS" in r.stderr


def test_explains_the_risk_of_turning_verification_off(no_bundle: dict[str, str]) -> None:
    r = run(["trust", "--explain-disable-verify"], no_bundle)
    assert r.returncode == 0 and "password" in r.stdout and "smtp-doctor trust HOST:PORT" in r.stdout
    r = run(["--lang", "ja", "trust", "--explain-disable-verify"], no_bundle)
    assert "パスワード" in r.stdout


def test_japanese_output(no_bundle: dict[str, str], lab: LabInfo) -> None:
    port = lab.servers["starttls"].port
    r = run(["--lang", "ja", "trust", f"127.0.0.1:{port}", "--runtime", "ruby", "--ca-file", str(lab.ca_file)],
            no_bundle)
    assert "各ランタイムはこのサーバーを信頼するか" in r.stdout and "対処" in r.stdout
    assert f'ca_file: "{lab.ca_file}"' in r.stdout
