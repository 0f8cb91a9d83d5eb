"""smtp-doctor's probe, probe --user and send against real Postfix and Exim.

Why: the lab servers are ours; these are not. Each listener's configured intent (peers.Listener, itself
checked by test_servers_smoke.py with third-party clients) is what probe must report: the mode, the
certificate verdict against the test CA, where AUTH is offered, which mechanisms work with the real
password, and where credentials must not be sent at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

import smtp_doctor
from smtp_doctor import AuthPolicy, Credentials, Mode, ProbeOptions
from smtp_doctor.diagnose.port import PortDiagnosis
from smtp_doctor.facts import AuthOutcome

from .peers import RealPeer

PEERS = ("postfix_peer", "exim_peer", "exim_plain_peer")
ROLES = ("submission", "smtps", "smtp")
MODE = {"starttls-required": Mode.STARTTLS, "starttls-optional": Mode.STARTTLS, "implicit": Mode.IMPLICIT_TLS,
        "none": Mode.PLAINTEXT}


@pytest.fixture(params=PEERS)
def peer(request: pytest.FixtureRequest) -> RealPeer:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def _probe(peer: RealPeer, creds: Credentials | None = None, policy: AuthPolicy | None = None
           ) -> dict[str, PortDiagnosis]:
    opts = ProbeOptions(timeout=20.0, greeting_timeout=10.0, ca_file=str(peer.ca_file))
    report = smtp_doctor.probe(peer.host, list(peer.ports.values()), opts, credentials=creds, policy=policy)
    by_port = {d.facts.port: d for d in report.ports}
    return {role: by_port[port] for role, port in peer.ports.items()}


def _ids(d: PortDiagnosis) -> set[str]:
    return {f.id for f in d.findings}


def test_probe_classifies_every_port(peer: RealPeer) -> None:
    """Mode, certificate verdict and where AUTH is offered, per listener, as configured."""
    seen = _probe(peer)
    for role, lst in peer.listeners.items():
        d, where = seen[role], f"{peer.label} {role} ({lst})"
        ids = _ids(d)
        assert d.facts.mode is MODE[lst.tls], f"{where}: mode {d.facts.mode}"
        if lst.tls == "none":
            assert d.facts.tls is None and "mode.plaintext" in ids, where
        else:
            assert d.facts.tls is not None, where
            assert d.facts.tls.hostname_ok is True, where  # 127.0.0.1 is in the certificate
            if lst.cert == "valid":
                assert "cert.trusted" in ids and "cert.expired" not in ids, f"{where}: {sorted(ids)}"
            else:
                assert "cert.expired" in ids and "cert.trusted" not in ids, f"{where}: {sorted(ids)}"
        plain_auth = set(d.facts.ehlo_plain.auth) if d.facts.ehlo_plain else set()
        tls_auth = set(d.facts.ehlo_tls.auth) if d.facts.ehlo_tls else set()
        if lst.auth == "none":
            assert not plain_auth and not tls_auth, where
            assert "auth.before_tls" not in ids, where
        elif lst.tls == "implicit":
            assert tls_auth == {"PLAIN", "LOGIN"}, where
        elif lst.auth == "after-tls":
            assert not plain_auth and tls_auth == {"PLAIN", "LOGIN"}, where
            assert "auth.before_tls" not in ids, where
        else:  # AUTH offered in clear: on a STARTTLS port before it, on a plaintext port at all
            assert plain_auth == {"PLAIN", "LOGIN"}, where
            assert "auth.before_tls" in ids if lst.tls != "none" else "auth.plaintext_only" in ids, \
                f"{where}: {sorted(ids)}"


def _attempts(d: PortDiagnosis) -> dict[str, AuthOutcome]:
    return {a.mechanism: a.outcome for a in d.facts.auth_attempts}


def test_probe_user_finds_working_mechanisms_and_refuses_unsafe_ports(peer: RealPeer) -> None:
    """With the real password: PLAIN and LOGIN work over verified TLS; never sent to an expired
    certificate or in clear (not attempted, with the reason), unless the user allows it."""
    seen = _probe(peer, Credentials(peer.user, peer.password))
    for role, lst in peer.listeners.items():
        d, where = seen[role], f"{peer.label} {role}"
        got = _attempts(d)
        if lst.auth == "none":
            assert got == {}, where
        elif lst.tls == "none":
            assert got == {"PLAIN": AuthOutcome.NOT_ATTEMPTED, "LOGIN": AuthOutcome.NOT_ATTEMPTED}, where
            assert {a.reason for a in d.facts.auth_attempts} == {"auth.reason.cleartext"}, where
            assert all(not a.transcript for a in d.facts.auth_attempts), where
        elif lst.cert == "expired":
            assert got == {"PLAIN": AuthOutcome.NOT_ATTEMPTED, "LOGIN": AuthOutcome.NOT_ATTEMPTED}, where
            assert {a.reason for a in d.facts.auth_attempts} == {"auth.reason.unverified"}, where
        else:
            assert got == {"PLAIN": AuthOutcome.OK, "LOGIN": AuthOutcome.OK}, f"{where}: {got}"
            assert "auth.works" in _ids(d) and "auth.recommend" in _ids(d), where


def test_probe_user_where_allowed(exim_peer: RealPeer, exim_plain_peer: RealPeer) -> None:
    """The loudly named flags do send: to the expired certificate, and in clear (both accepted by Exim)."""
    creds = Credentials(exim_peer.user, exim_peer.password)
    expired = _probe(exim_peer, creds, AuthPolicy(allow_unverified=True))
    for role in ("smtps", "smtp"):
        assert _attempts(expired[role]) == {"PLAIN": AuthOutcome.OK, "LOGIN": AuthOutcome.OK}, role
    clear = _probe(exim_plain_peer, Credentials(exim_plain_peer.user, exim_plain_peer.password),
                   AuthPolicy(allow_cleartext=True))
    assert _attempts(clear["submission"]) == {"PLAIN": AuthOutcome.OK, "LOGIN": AuthOutcome.OK}


def test_probe_user_bad_password(postfix_peer: RealPeer, exim_peer: RealPeer) -> None:
    """A wrong password is rejected with the server's 535 on every mechanism; nothing 'works'."""
    for peer in (postfix_peer, exim_peer):
        seen = _probe(peer, Credentials(peer.user, "not-the-password"))
        d = seen["submission"]
        assert _attempts(d) == {"PLAIN": AuthOutcome.REJECTED, "LOGIN": AuthOutcome.REJECTED}, peer.label
        assert {a.reply.code for a in d.facts.auth_attempts if a.reply} == {535}, peer.label
        assert "auth.none_works" in _ids(d) and "auth.works" not in _ids(d), peer.label


def _send(peer: RealPeer, port: int, subject: str, *extra: str, password: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SMTP_DOCTOR_TEST_PW": password if password is not None else peer.password}
    return subprocess.run([sys.executable, "-m", "smtp_doctor", "send", f"{peer.host}:{port}", "--from", peer.address,
                           "--to", peer.address, "--user", peer.user, "--password-env", "SMTP_DOCTOR_TEST_PW",
                           "--ca-file", str(peer.ca_file), "--subject", subject, "--timeout", "20", *extra],
                          env=env, capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.parametrize("role", ["submission", "smtps"])
def test_send_delivers_into_postfix(postfix_peer: RealPeer, role: str) -> None:
    """`smtp-doctor send` logs in and the message lands in the Postfix user's maildir."""
    subject = f"smtp-doctor send {role} {uuid.uuid4().hex}"
    done = _send(postfix_peer, postfix_peer.ports[role], subject)
    assert done.returncode == 0, done.stdout + done.stderr
    landed = postfix_peer.wait_for_delivery(subject).read_text(errors="replace")
    assert "with ESMTPSA" in landed  # Postfix's own record of an authenticated TLS submission
    assert postfix_peer.password not in done.stdout + done.stderr


def test_send_refuses_expired_certificate(exim_peer: RealPeer) -> None:
    """No credentials to Exim's expired certificate: send stops before AUTH, nothing is delivered."""
    subject = f"smtp-doctor send expired {uuid.uuid4().hex}"
    before = len(exim_peer.delivered())
    done = _send(exim_peer, exim_peer.ports["smtps"], subject)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    assert len(exim_peer.delivered()) == before


def test_send_bad_password_is_refused(postfix_peer: RealPeer) -> None:
    subject = f"smtp-doctor send badpw {uuid.uuid4().hex}"
    done = _send(postfix_peer, postfix_peer.ports["submission"], subject, password="not-the-password")
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr and "not-the-password" not in done.stdout + done.stderr
    assert not any(subject in p.read_text(errors="replace") for p in postfix_peer.delivered())
