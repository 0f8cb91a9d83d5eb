"""audit against real, unmodified Postfix (+ Dovecot SASL) and Exim: 0 false positives.

The servers are started by tests/realpeers/peers.py exactly as the real-peer tier runs them, on
ephemeral loopback ports. Neither is vulnerable to STARTTLS command injection nor writes after its
220, so any such finding here is a false positive of the audit. What they really do wrong (the tier's
Exim advertises AUTH before TLS on purpose) must be found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from realpeers.peers import DOVECOT, EXIM_BIN, POSTCONF, POSTFIX, Daemon, PeerPKI, RealPeer, start_exim, start_postfix
from smtp_doctor.audit import AuditOptions, PortAudit, Role, Verdict, audit
from smtp_doctor.facts import Mode
from smtp_doctor.probe.options import ProbeOptions

pytestmark = pytest.mark.realpeers

FALSE_POSITIVES = {"audit.starttls_injection", "audit.starttls_injection_inconclusive", "audit.bytes_after_220",
                   "audit.starttls_readvertised", "audit.second_starttls", "audit.session_kept"}
ROLES = {"submission": Role.SUBMISSION, "smtps": Role.SUBMISSION, "smtp": Role.RELAY}


@pytest.fixture(scope="module")
def peers() -> Iterator[dict[str, RealPeer]]:
    if os.geteuid() != 0 or os.environ.get("SMTP_DOCTOR_SKIP_REALPEERS"):
        pytest.skip("needs root to start a private Postfix and Exim (tests/realpeers)")
    missing = [p for p in (POSTFIX, POSTCONF, DOVECOT, str(EXIM_BIN)) if not (shutil.which(p) or Path(p).is_file())]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; run scripts/install-system-deps.sh", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="smtp-doctor-audit-peers-"))
    base.chmod(0o755)
    stack: list[Daemon] = []
    try:
        pki = PeerPKI(base / "tls")
        yield {"postfix": start_postfix(base / "pf", pki, stack), "exim": start_exim(base / "ex", pki, stack)}
    finally:
        for daemon in reversed(stack):
            daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


def _audit(peer: RealPeer, role: str) -> PortAudit:
    opts = AuditOptions(ProbeOptions(ca_file=str(peer.ca_file), timeout=30.0), ROLES[role])
    return audit(peer.host, [peer.ports[role]], opts).ports[0]


@pytest.mark.parametrize("server", ["postfix", "exim"])
@pytest.mark.parametrize("role", ["submission", "smtps", "smtp"])
def test_no_injection_or_exposure_finding(server: str, role: str, peers: dict[str, RealPeer]) -> None:
    pa = _audit(peers[server], role)
    found = {f.id for f in pa.findings}
    assert pa.facts.mode in (Mode.STARTTLS, Mode.IMPLICIT_TLS), pa.facts.mode
    assert not found & FALSE_POSITIVES, (server, role, sorted(found))
    if pa.facts.mode is Mode.STARTTLS:
        assert pa.injection is not None and pa.injection.verdict is Verdict.NOT_VULNERABLE, pa.injection
        assert pa.session is not None and pa.session.second_starttls not in (None, 220), pa.session
        assert pa.session.rcpt_after_tls in (None, 503), pa.session  # None: MAIL or STARTTLS refused first


def test_postfix_submission_is_clean_where_it_should_be(peers: dict[str, RealPeer]) -> None:
    pa = _audit(peers["postfix"], "submission")
    found = {f.id for f in pa.findings}
    assert pa.session is not None and pa.session.mail_before_tls == 530  # smtpd_tls_security_level=encrypt
    assert not found & {"audit.auth_before_tls", "audit.mail_before_tls", "audit.weak_key",
                        "audit.sha1_signature", "audit.revoked", "audit.chain_order"}, sorted(found)


@pytest.mark.parametrize("category,spec", [("anon", "aNULL"), ("no_fs", "kRSA"), ("null", "eNULL")])
def test_suite_verdicts_agree_with_openssl_s_client(category: str, spec: str, peers: dict[str, RealPeer]) -> None:
    """Postfix 3.7 with the tier's (default) cipher settings: each class accepted or refused, as
    `openssl s_client -starttls smtp` independently sees it (Postfix enables aNULL for opportunistic TLS)."""
    peer = peers["postfix"]
    pa = _audit(peer, "submission")
    ours = next(s for s in pa.suites if s.category == category and s.version == "TLSv1.2")
    target = f"{peer.host}:{peer.ports['submission']}"
    argv = ["openssl", "s_client", "-starttls", "smtp", "-connect", target, "-tls1_2", "-cipher", f"{spec}:@SECLEVEL=0"]
    done = subprocess.run(argv, input="", capture_output=True, text=True, timeout=30, check=False)
    theirs = done.returncode == 0 and "Cipher is (NONE)" not in done.stdout
    assert ours.accepted is theirs, (ours, done.stdout[-400:])
    assert (category in {s.category for s in pa.suites if s.accepted}) is theirs


def test_exim_auth_before_tls_is_found(peers: dict[str, RealPeer]) -> None:
    """The tier's Exim advertises AUTH PLAIN LOGIN before TLS on its submission port (peers.py says so)."""
    pa = _audit(peers["exim"], "submission")
    got = {f.id: f.severity for f in pa.findings}
    assert "audit.auth_before_tls" in got and str(got["audit.auth_before_tls"]) == "critical", got


@pytest.mark.parametrize("server,role", [("postfix", "smtp"), ("exim", "submission"), ("exim", "smtp")])
def test_real_servers_reset_the_transaction_at_starttls(server: str, role: str, peers: dict[str, RealPeer]) -> None:
    """Where MAIL is accepted in clear, the session-fixation probe really runs: both servers answer the RCPT
    inside TLS with 503 (no transaction), the reset RFC 3207 §4.2 asks for."""
    pa = _audit(peers[server], role)
    assert pa.session is not None and pa.session.mail_before_tls == 250
    assert pa.session.rcpt_after_tls == 503, pa.session
