"""Prove the real peers behave as their fixtures say, using only third-party clients.

Why: later tests compare smtp-doctor's verdicts with these servers; if a server silently ran with a
different configuration (no STARTTLS requirement, a valid certificate where an expired one is meant),
those comparisons would prove nothing. Clients: Python's smtplib/ssl, `openssl s_client`, swaks.
"""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess
import uuid
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from .peers import RealPeer

pytestmark = pytest.mark.realpeers

TIMEOUT = 10.0  # every socket operation
PROC_TIMEOUT = 30.0  # every client process


def verifying(peer: RealPeer) -> ssl.SSLContext:
    """A client context that trusts only the test CA and checks the name (127.0.0.1 is in the SAN)."""
    return ssl.create_default_context(cafile=str(peer.ca_file))


def unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class Observed:
    banner: str
    tls: str
    cert: str
    auth: str
    auth_mechanisms: frozenset[str]


def _cert_status(peer: RealPeer, port: int, implicit: bool) -> str:
    """'valid', or 'expired', or the verifier's own words, from a handshake that trusts the test CA."""
    try:
        if implicit:
            with smtplib.SMTP_SSL(peer.host, port, context=verifying(peer), timeout=TIMEOUT) as s:
                s.ehlo()
        else:
            with smtplib.SMTP(peer.host, port, timeout=TIMEOUT) as s:
                s.ehlo()
                s.starttls(context=verifying(peer))
    except ssl.SSLCertVerificationError as exc:
        return "expired" if exc.verify_message == "certificate has expired" else str(exc.verify_message)
    return "valid"


def _mechanisms(s: smtplib.SMTP) -> frozenset[str]:
    return frozenset(s.esmtp_features.get("auth", "").upper().split())


def _greeting(peer: RealPeer, port: int, implicit: bool) -> str:
    """The first line the server sends (inside TLS for implicit TLS)."""
    with socket.create_connection((peer.host, port), timeout=TIMEOUT) as raw:
        if implicit:
            with unverified().wrap_socket(raw) as tls:
                return tls.recv(512).decode().strip()
        return raw.recv(512).decode().strip()


def observe(peer: RealPeer, role: str) -> Observed:
    """What one listener really does, seen by smtplib: TLS mode, certificate, where AUTH is offered."""
    port = peer.listeners[role].port
    if peer.listeners[role].tls == "implicit":
        # Implicit TLS: no plaintext greeting arrives (the server waits for a ClientHello) ...
        with socket.create_connection((peer.host, port), timeout=TIMEOUT) as raw:
            raw.settimeout(2.0)
            with pytest.raises(TimeoutError):
                raw.recv(512)
        # ... and inside TLS the server speaks ESMTP.
        with smtplib.SMTP_SSL(peer.host, port, context=unverified(), timeout=TIMEOUT) as s:
            s.ehlo()
            mechs = _mechanisms(s)
        return Observed(_greeting(peer, port, True), "implicit", _cert_status(peer, port, True),
                        "after-tls" if mechs else "none", mechs)
    with smtplib.SMTP(peer.host, port, timeout=TIMEOUT) as s:
        s.ehlo()
        offered = s.has_extn("starttls")
        before = _mechanisms(s)
        required = s.mail("probe@example.org")[0] == 530
        s.rset()
        mechs = before
        if offered:
            s.starttls(context=unverified())
            s.ehlo()
            mechs = _mechanisms(s)
    tls = ("starttls-required" if required else "starttls-optional") if offered else "none"
    auth = "before-tls" if before else ("after-tls" if mechs else "none")
    cert = _cert_status(peer, port, False) if offered else "none"
    return Observed(_greeting(peer, port, False), tls, cert, auth, mechs)


PEER_ROLES = [(p, r) for p in ("postfix_peer", "exim_peer") for r in ("submission", "smtps", "smtp")]


@pytest.mark.parametrize(("fixture", "role"), PEER_ROLES, ids=[f"{p.split('_')[0]}-{r}" for p, r in PEER_ROLES])
def test_listener_behaves_as_declared(request: pytest.FixtureRequest, fixture: str, role: str) -> None:
    peer: RealPeer = request.getfixturevalue(fixture)
    declared = peer.listeners[role]
    seen = observe(peer, role)
    assert seen.banner.startswith("220 "), seen.banner
    assert f"ESMTP {peer.name}" in seen.banner, seen.banner
    assert (seen.tls, seen.cert, seen.auth) == (declared.tls, declared.cert, declared.auth)
    if declared.auth != "none":
        assert {"PLAIN", "LOGIN"} <= seen.auth_mechanisms


# --- Postfix -------------------------------------------------------------------------------------------

def test_postfix_submission_demands_starttls_first(postfix_peer: RealPeer) -> None:
    with smtplib.SMTP(postfix_peer.host, postfix_peer.ports["submission"], timeout=TIMEOUT) as s:
        s.ehlo()
        assert s.has_extn("starttls") and not s.has_extn("auth")
        assert s.mail("someone@example.org") == (530, b"5.7.0 Must issue a STARTTLS command first")


def test_postfix_smtp_port_relays_nothing_without_auth(postfix_peer: RealPeer) -> None:
    with smtplib.SMTP(postfix_peer.host, postfix_peer.ports["smtp"], timeout=TIMEOUT) as s:
        s.ehlo()
        assert s.mail("someone@example.org")[0] == 250
        assert s.rcpt(postfix_peer.address)[0] == 250  # its own domain: accepted, like an MX
        code, text = s.rcpt("victim@elsewhere.example")
        assert code == 454 or code == 554, text
        assert b"Relay access denied" in text


def test_postfix_submission_rejects_unauthenticated_sender_after_tls(postfix_peer: RealPeer) -> None:
    with smtplib.SMTP(postfix_peer.host, postfix_peer.ports["submission"], timeout=TIMEOUT) as s:
        s.starttls(context=verifying(postfix_peer))
        s.ehlo()
        s.mail("someone@example.org")
        code, text = s.rcpt(postfix_peer.address)
        assert code == 554 and b"Client host rejected: Access denied" in text


def _message(peer: RealPeer, token: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"sender@{peer.domain}"
    msg["To"] = peer.address
    msg["Subject"] = f"real-peer smoke {token}"
    msg.set_content(f"token {token}\n")
    return msg


def test_postfix_delivers_over_starttls_and_auth(postfix_peer: RealPeer) -> None:
    token = uuid.uuid4().hex
    with smtplib.SMTP(postfix_peer.host, postfix_peer.ports["submission"], timeout=TIMEOUT) as s:
        s.starttls(context=verifying(postfix_peer))
        s.ehlo()
        assert s.login(postfix_peer.user, postfix_peer.password)[0] == 235
        assert s.send_message(_message(postfix_peer, token)) == {}
    delivered = postfix_peer.wait_for_delivery(token).read_text()
    assert "with ESMTPSA" in delivered  # Postfix's own record: ESMTP + TLS + AUTH


def test_postfix_delivers_over_implicit_tls(postfix_peer: RealPeer) -> None:
    token = uuid.uuid4().hex
    with smtplib.SMTP_SSL(postfix_peer.host, postfix_peer.ports["smtps"], context=verifying(postfix_peer),
                          timeout=TIMEOUT) as s:
        s.login(postfix_peer.user, postfix_peer.password)
        s.send_message(_message(postfix_peer, token))
    assert "with ESMTPSA" in postfix_peer.wait_for_delivery(token).read_text()


@pytest.mark.parametrize("role", ["submission", "smtps"])
def test_postfix_bad_password_gets_535(postfix_peer: RealPeer, role: str) -> None:
    port = postfix_peer.ports[role]
    s = (smtplib.SMTP_SSL(postfix_peer.host, port, context=verifying(postfix_peer), timeout=TIMEOUT)
         if role == "smtps" else smtplib.SMTP(postfix_peer.host, port, timeout=TIMEOUT))
    with s:
        if role == "submission":
            s.starttls(context=verifying(postfix_peer))
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login(postfix_peer.user, "not-" + postfix_peer.password)
    assert err.value.smtp_code == 535
    assert err.value.smtp_error == b"5.7.8 Error: authentication failed: (reason unavailable)"


def _s_client(peer: RealPeer, port: int, starttls: bool, lines: str) -> subprocess.CompletedProcess[str]:
    argv = ["openssl", "s_client", "-connect", f"{peer.host}:{port}", "-CAfile", str(peer.ca_file),
            "-verify_return_error", "-verify_ip", peer.host, "-crlf", "-ign_eof"]
    if starttls:
        argv += ["-starttls", "smtp"]
    return subprocess.run(argv, input=lines, capture_output=True, text=True, timeout=PROC_TIMEOUT, check=False)


def test_openssl_sees_postfix_starttls_then_auth(postfix_peer: RealPeer) -> None:
    done = _s_client(postfix_peer, postfix_peer.ports["submission"], True, "EHLO client.test\nQUIT\n")
    assert done.returncode == 0, done.stderr
    assert "Verify return code: 0 (ok)" in done.stdout
    assert "250-AUTH PLAIN LOGIN" in done.stdout
    assert "221 2.0.0 Bye" in done.stdout


def test_openssl_sees_postfix_implicit_tls(postfix_peer: RealPeer) -> None:
    done = _s_client(postfix_peer, postfix_peer.ports["smtps"], False, "EHLO client.test\nQUIT\n")
    assert done.returncode == 0, done.stderr
    assert "Verify return code: 0 (ok)" in done.stdout
    assert f"220 {postfix_peer.server_name} ESMTP Postfix" in done.stdout
    assert "250-AUTH PLAIN LOGIN" in done.stdout


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed (scripts/install-system-deps.sh)")
def test_swaks_delivers_to_postfix(postfix_peer: RealPeer) -> None:
    token = uuid.uuid4().hex
    done = subprocess.run(
        ["swaks", "--server", f"{postfix_peer.host}:{postfix_peer.ports['submission']}",
         "--to", postfix_peer.address, "--from", f"sender@{postfix_peer.domain}", "--header",
         f"Subject: swaks {token}", "-tls", "--tls-verify", "--tls-ca-path", str(postfix_peer.ca_file),
         "--auth", "LOGIN", "--auth-user", postfix_peer.user, "--auth-password", postfix_peer.password,
         "--timeout", "10"],
        capture_output=True, text=True, timeout=PROC_TIMEOUT, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "235 2.7.0 Authentication successful" in done.stdout
    postfix_peer.wait_for_delivery(token)


# --- Exim ----------------------------------------------------------------------------------------------

def test_exim_accepts_auth_and_mail_in_clear(exim_peer: RealPeer) -> None:
    token = uuid.uuid4().hex
    with smtplib.SMTP(exim_peer.host, exim_peer.ports["submission"], timeout=TIMEOUT) as s:
        s.ehlo()
        assert s.sock is not None and not isinstance(s.sock, ssl.SSLSocket)
        assert s.login(exim_peer.user, exim_peer.password)[0] == 235
        s.send_message(_message(exim_peer, token))
    assert "with esmtpa" in exim_peer.wait_for_delivery(token).read_text()  # Exim: AUTH, no TLS


def test_exim_bad_password_gets_535(exim_peer: RealPeer) -> None:
    with smtplib.SMTP(exim_peer.host, exim_peer.ports["submission"], timeout=TIMEOUT) as s:
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login(exim_peer.user, "not-" + exim_peer.password)
    assert (err.value.smtp_code, err.value.smtp_error) == (535, b"Incorrect authentication data")


@pytest.mark.parametrize(("role", "starttls"), [("smtps", False), ("smtp", True)])
def test_openssl_rejects_exim_expired_certificate(exim_peer: RealPeer, role: str, starttls: bool) -> None:
    done = _s_client(exim_peer, exim_peer.ports[role], starttls, "QUIT\n")
    assert done.returncode != 0
    assert "certificate has expired" in done.stdout + done.stderr


def test_openssl_accepts_exim_valid_certificate(exim_peer: RealPeer) -> None:
    done = _s_client(exim_peer, exim_peer.ports["submission"], True, "EHLO client.test\nQUIT\n")
    assert done.returncode == 0, done.stderr
    assert "Verify return code: 0 (ok)" in done.stdout
    assert "250-AUTH PLAIN LOGIN" in done.stdout
