"""`explain --probe`: the diagnosis of a pasted error, confirmed (or not) by the live lab server."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo

RUBY_WRONG_VERSION = ("OpenSSL::SSL::SSLError (SSL_connect returned=1 errno=0 peeraddr={addr} state=error: "
                      "wrong version number)")
RUBY_TIMEOUT = "Net::ReadTimeout (Net::ReadTimeout with #<TCPSocket:(closed)>)"
PY_EXPIRED = ("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
              "certificate has expired (_ssl.c:992)")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", "explain", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def probe_json(lab: LabInfo, text: str, *extra: str) -> dict[str, object]:
    code, out = run(text, "--probe", "--json", "--ca-file", str(lab.ca_file), "--timeout", "10", *extra)
    assert code == 0, out
    doc = json.loads(out)
    assert isinstance(doc["probe"], dict)
    return doc


def test_wrong_version_number_is_confirmed_by_a_starttls_port(lab: LabInfo) -> None:
    server = lab.servers["starttls"]
    doc = probe_json(lab, RUBY_WRONG_VERSION.format(addr=server.address))
    probe = doc["probe"]
    assert isinstance(probe, dict)
    assert probe["target"] == server.address  # host and port taken from the error text itself
    assert probe["status"] == "confirmed"
    assert "mode.starttls" in {f["id"] for f in probe["findings"]}
    # without the lab CA the certificate is also untrusted: the sentence still leads with what confirmed it
    code, out = run(RUBY_WRONG_VERSION.format(addr=server.address), "--probe", "--timeout", "10")
    assert code == 0
    assert f"live server {server.address} confirms it: Port {server.port} speaks plaintext SMTP and offers " \
           "STARTTLS" in out


def test_the_same_text_against_an_implicit_tls_port_is_not_confirmed(lab: LabInfo) -> None:
    """The text says "implicit TLS against a plaintext port"; this server speaks implicit TLS: say so."""
    server = lab.servers["implicit"]
    doc = probe_json(lab, RUBY_WRONG_VERSION.format(addr=server.address))
    probe = doc["probe"]
    assert isinstance(probe, dict)
    assert probe["status"] == "not_confirmed"
    assert "mode.implicit_tls" in {f["id"] for f in probe["findings"]}


def test_a_read_timeout_with_target_is_reranked_by_an_implicit_tls_port(lab: LabInfo) -> None:
    """The text alone is a greeting timeout with two causes; the live server speaks implicit TLS, so the
    answer becomes "plaintext client on an implicit-TLS port" and says the live server showed it."""
    server = lab.servers["implicit"]
    doc = probe_json(lab, RUBY_TIMEOUT, "--target", server.address)
    probe = doc["probe"]
    assert isinstance(probe, dict)
    assert probe["status"] == "reranked" and doc["best"] == "plain_on_implicit_port"
    assert "mode.implicit_tls" in {f["id"] for f in probe["findings"]}
    assert probe["target"] == server.address


def test_a_read_timeout_against_a_silent_server_is_not_called_use_465(lab: LabInfo) -> None:
    """A silent server: the live check shows no implicit TLS, so "use 465" is never confirmed."""
    server = lab.hostile["silent"]
    doc = probe_json(lab, RUBY_TIMEOUT, "--target", server.address)
    probe = doc["probe"]
    assert isinstance(probe, dict)
    assert doc["best"] != "plain_on_implicit_port"
    assert not (probe["status"] == "confirmed" and doc["best"] == "plain_on_implicit_port")


def test_probe_takes_host_and_port_from_a_pasted_command_line(lab: LabInfo) -> None:
    server = lab.servers["implicit"]
    text = (f"$ swaks --server {server.host} --port {server.port} --tls\n=== Trying {server.host}:{server.port}...\n"
            f"=== Connected to {server.host}.\n<** Timeout (5 secs) waiting for server response")
    doc = probe_json(lab, text)
    probe = doc["probe"]
    assert isinstance(probe, dict) and probe["target"] == server.address
    assert doc["best"] == "plain_on_implicit_port" and probe["status"] in ("confirmed", "reranked")


def test_an_expired_certificate_is_confirmed_in_text_and_markdown(lab: LabInfo) -> None:
    server = lab.servers["expired"]
    args = [PY_EXPIRED, "--probe", "--target", server.address, "--ca-file", str(lab.ca_file), "--timeout", "10"]
    code, out = run(*args)
    assert code == 0
    assert f"live server {server.address} confirms it" in out and "expired on 2021-01-01" in out
    code, md = run(*args, "--format", "markdown")
    assert code == 0 and f"smtp-doctor probe {server.address}" in md and "live server" in md


def test_a_closed_port_is_a_finding_not_a_traceback(lab: LabInfo) -> None:
    with socket.socket() as s:  # a port nobody listens on: bind, note it, close
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    doc = probe_json(lab, RUBY_WRONG_VERSION.format(addr=f"127.0.0.1:{port}"))
    probe = doc["probe"]
    assert isinstance(probe, dict)
    assert probe["status"] == "not_confirmed"
    assert {f["id"] for f in probe["findings"]} & {"conn.refused", "mode.closed"}


@pytest.mark.parametrize("args", [
    [RUBY_TIMEOUT, "--probe"],  # the text names no server and no --target
    ["--log", "some.log", "--probe"],  # a log names many servers: probe them one by one
])
def test_probe_refusals_are_one_line_and_exit_2(args: list[str]) -> None:
    code, out = run(*args)
    assert code == 2
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out


@pytest.mark.parametrize(("server", "confirming"),
                         [("tls13-only", "tls.tls13_only"), ("legacy-tls", "tls.old_version")])
def test_a_tls_version_mismatch_is_confirmed_by_trying_each_version(lab: LabInfo, server: str,
                                                                  confirming: str) -> None:
    text = "ssl.SSLError: [SSL: UNSUPPORTED_PROTOCOL] unsupported protocol (_ssl.c:1006)"
    doc = probe_json(lab, text, "--target", lab.servers[server].address)
    probe = doc["probe"]
    assert isinstance(probe, dict)
    assert probe["status"] == "confirmed" and confirming in {f["id"] for f in probe["findings"]}
