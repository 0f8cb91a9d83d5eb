"""`probe --tls-versions`: each TLS version tried alone against lab servers that pin their versions."""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor import ProbeOptions, Severity, probe
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from smtp_doctor.lab.certs import LabPKI
from smtp_doctor.lab.servers import Mailbox, Spec, start
from smtp_doctor.probe.versions import pinned_context


def versions(lab: LabInfo, port: int, ca_file: Path | None = None) -> tuple[dict[str, bool | None], set[str]]:
    opts = ProbeOptions(ca_file=str(ca_file or lab.ca_file), timeout=20, tls_versions=True)
    d = probe("127.0.0.1", [port], opts).ports[0]
    return {v.version: v.accepted for v in d.facts.tls_versions}, {f.id for f in d.findings}


@pytest.fixture(scope="module")
def wide_open(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A STARTTLS server that accepts TLS 1.0 up to 1.3 (what an unhardened old Postfix does)."""
    pki = LabPKI(tmp_path_factory.mktemp("wide"))
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(start(Spec("wide-open", "starttls", tls_versions=("TLSv1", "TLSv1.3")),
                                           pki, Mailbox()))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield port, pki.ca_file
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    server.close()
    loop.close()


def test_a_modern_server_accepts_tls12_and_tls13_only(lab: LabInfo) -> None:
    accepted, found = versions(lab, lab.servers["starttls"].port)
    assert accepted == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}
    assert "tls.versions" in found and not found & {"tls.legacy_accepted", "tls.tls13_only", "tls.old_version"}


def test_tls13_only_is_a_warning(lab: LabInfo) -> None:
    accepted, found = versions(lab, lab.servers["tls13-only"].port)
    assert accepted == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": False, "TLSv1.3": True}
    assert "tls.tls13_only" in found


def test_tls10_only_is_an_error_and_the_only_version_accepted(lab: LabInfo) -> None:
    if pinned_context("TLSv1") is None:
        pytest.skip("this OpenSSL cannot offer TLS 1.0")
    accepted, found = versions(lab, lab.servers["legacy-tls"].port)
    assert accepted == {"TLSv1": True, "TLSv1.1": False, "TLSv1.2": False, "TLSv1.3": False}
    assert "tls.old_version" in found and "tls.legacy_accepted" not in found


def test_legacy_versions_next_to_modern_ones_are_a_warning(lab: LabInfo, wide_open: tuple[int, Path]) -> None:
    if pinned_context("TLSv1") is None:
        pytest.skip("this OpenSSL cannot offer TLS 1.0")
    port, ca = wide_open
    accepted, found = versions(lab, port, ca)
    assert accepted == {"TLSv1": True, "TLSv1.1": True, "TLSv1.2": True, "TLSv1.3": True}
    assert "tls.legacy_accepted" in found and "tls.old_version" not in found


def test_an_openssl_3_client_really_fails_against_the_tls10_server(lab: LabInfo) -> None:
    """Why tls.old_version is an error: Python's default client context (OpenSSL 3) refuses the server."""
    srv = lab.servers["implicit"]  # control: the same client succeeds against a modern server
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    with smtplib.SMTP_SSL(srv.host, srv.port, context=ctx, timeout=10) as s:
        assert s.noop()[0] == 250
    legacy = lab.servers["legacy-tls"]
    with smtplib.SMTP(legacy.host, legacy.port, timeout=10) as s, pytest.raises(ssl.SSLError):
        s.starttls(context=ctx)


def test_cli_json_and_ja(lab: LabInfo) -> None:
    target = lab.servers["tls13-only"].address
    out = CliRunner().invoke(cli, ["probe", target, "--tls-versions", "--json", "--ca-file", str(lab.ca_file)])
    doc = json.loads(out.output)
    rows = doc["ports"][0]["tls_versions"]
    assert [r["version"] for r in rows] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert [r["accepted"] for r in rows] == [False, False, False, True]
    assert doc["ports"][0]["severity"] == str(Severity.WARNING)
    ja = CliRunner().invoke(cli, ["--lang", "ja", "probe", target, "--tls-versions", "--ca-file", str(lab.ca_file)])
    assert "TLS 1.3 しか話しません" in ja.output


def test_without_the_flag_no_extra_connections_are_made(lab: LabInfo) -> None:
    d = probe("127.0.0.1", [lab.servers["starttls"].port], ProbeOptions(ca_file=str(lab.ca_file))).ports[0]
    assert d.facts.tls_versions == ()
    assert not any(f.id.startswith("tls.version") for f in d.findings)
