"""Session fixtures for the real-peer tier: real Postfix (+ Dovecot SASL) and Exim on 127.0.0.1.

Each fixture starts its server once per session on ephemeral loopback ports and yields a RealPeer
(peers.py) describing host, ports per role, CA file, test user and mail directory. See
docs/dev/realpeers.md for how the tier works and what it costs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .peers import DOVECOT, EXIM_BIN, POSTCONF, POSTFIX, Daemon, PeerPKI, RealPeer, start_exim, start_postfix

HERE = Path(__file__).parent
_STARTUPS: list[str] = []  # "Postfix 3.7.11: 2.0 s", shown in the terminal summary


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/realpeers is in the tier, whether or not its module says so."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.realpeers)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _STARTUPS:
        terminalreporter.write_line("real peers start-up: " + "; ".join(_STARTUPS))


def _require(*programs: str) -> None:
    """Skips where the tier cannot run by design (not root); fails where it should run but cannot."""
    if os.environ.get("SMTP_DOCTOR_SKIP_REALPEERS"):
        pytest.skip("real-peer tier disabled by SMTP_DOCTOR_SKIP_REALPEERS")
    if os.geteuid() != 0:
        pytest.skip("real-peer tier needs root (Postfix's master and Dovecot start as root and drop "
                    "privileges); run `make test` as root, where scripts/install-system-deps.sh also installs them")
    missing = [p for p in programs if not (shutil.which(p) or Path(p).is_file())]
    if missing:
        pytest.fail(f"real-peer tier: {', '.join(missing)} not installed; run scripts/install-system-deps.sh",
                    pytrace=False)


@pytest.fixture(scope="session")
def realpeers_dir() -> Iterator[Path]:
    """The tier's private directory, removed at the end (kept if SMTP_DOCTOR_KEEP_PEERS is set).

    Not under pytest's tmp dir on purpose: that tree is root-only (0700), and the servers' unprivileged
    processes (postfix, dovecot, nobody, Debian-exim) must reach their sockets, keys and maildirs.
    """
    base = Path(tempfile.mkdtemp(prefix="smtp-doctor-realpeers-"))
    base.chmod(0o755)
    yield base
    if not os.environ.get("SMTP_DOCTOR_KEEP_PEERS"):
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def realpeers_pki(realpeers_dir: Path) -> PeerPKI:
    """One test CA (trustme) for every real peer; its PEM is at ``.ca_file``."""
    return PeerPKI(realpeers_dir / "tls")


def _serve(starter: Callable[[Path, PeerPKI, list[Daemon]], RealPeer], root: Path, pki: PeerPKI,
           name: str) -> Iterator[RealPeer]:
    """Starts a peer (again, on new ports, if a port picked was taken meanwhile) and stops it at the end."""
    stack: list[Daemon] = []
    try:
        for attempt in range(1, 4):
            base = root / f"{name}-{attempt}"
            base.mkdir()
            t0 = time.monotonic()
            try:
                peer = starter(base, pki, stack)
                break
            except (RuntimeError, TimeoutError) as exc:
                for daemon in reversed(stack):
                    daemon.stop()
                stack.clear()
                if "Address already in use" not in str(exc) or attempt == 3:
                    raise
        _STARTUPS.append(f"{peer.label}: {time.monotonic() - t0:.1f} s")
        yield peer
    finally:
        for daemon in reversed(stack):
            daemon.stop()


@pytest.fixture(scope="session")
def postfix_peer(realpeers_dir: Path, realpeers_pki: PeerPKI) -> Iterator[RealPeer]:
    """Postfix as a submission server with Dovecot SASL.

    Roles: "submission" (STARTTLS required, AUTH only after it), "smtps" (implicit TLS, AUTH),
    "smtp" (plain, STARTTLS optional, no AUTH). Valid certificate from the test CA. Accepts mail for
    ``peer.address`` (and postmaster@) and delivers it into ``peer.mail_dir``; sends nothing elsewhere.
    """
    _require(POSTFIX, POSTCONF, DOVECOT)
    yield from _serve(start_postfix, realpeers_dir, realpeers_pki, "postfix")


@pytest.fixture(scope="session")
def exim_peer(realpeers_dir: Path, realpeers_pki: PeerPKI) -> Iterator[RealPeer]:
    """Exim misconfigured: AUTH (PLAIN, LOGIN) advertised and accepted before TLS, expired certificates.

    Roles: "submission" (STARTTLS optional, valid certificate, AUTH before TLS), "smtps" (implicit TLS,
    expired certificate), "smtp" (STARTTLS optional, expired certificate, AUTH before TLS).
    """
    _require(str(EXIM_BIN))
    yield from _serve(start_exim, realpeers_dir, realpeers_pki, "exim")


@pytest.fixture(scope="session")
def exim_plain_peer(realpeers_dir: Path, realpeers_pki: PeerPKI) -> Iterator[RealPeer]:
    """Exim offering no STARTTLS at all (``tls_advertise_hosts`` empty), AUTH in clear.

    Roles: "submission" and "smtp" plaintext only (Listener.tls "none"), "smtps" implicit TLS (expired
    certificate). For the "client requires STARTTLS, port has none" cases (capture.start_exim_plain).
    """
    from .capture import start_exim_plain

    _require(str(EXIM_BIN))
    yield from _serve(start_exim_plain, realpeers_dir, realpeers_pki, "exim-plain")
