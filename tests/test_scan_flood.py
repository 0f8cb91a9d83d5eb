"""probe_many against one real Postfix flooded with 1000 targets: no wrong verdict from our own overload.

Started all at once (the old multi-target path), 1000 probes of one healthy Postfix gave 322 wrong
verdicts: its smtpd process limit (100) queued connections past the greeting timeout ("silent"), and
its per-client limit (anvil, 50 by default) answered 421. Every result here must give exactly the findings a
lone probe of the same port gives, or — if Postfix keeps deferring — be reported as rate-limited,
never as a TLS or certificate failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from realpeers.peers import DOVECOT, POSTCONF, POSTFIX, Daemon, PeerPKI, RealPeer, run, start_postfix
from smtp_doctor.diagnose.port import diagnose_port
from smtp_doctor.facts import Mode
from smtp_doctor.probe import ProbeOptions
from smtp_doctor.probe.many import Politeness, ProbeResult, Target, probe_many

N = 1000
#: Postfix's per-client connection limit for this instance (default 50; lowered so that the flood below
#: provokes 421s for certain: Postfix spawns smtpd processes lazily, so a fast client rarely has 50 open).
CLIENT_LIMIT = 4


@pytest.fixture(scope="module")
def postfix() -> Iterator[RealPeer]:
    if os.geteuid() != 0 or os.environ.get("SMTP_DOCTOR_SKIP_REALPEERS"):
        pytest.skip("needs root to start a private Postfix (tests/realpeers)")
    if not all(shutil.which(p) or Path(p).is_file() for p in (POSTFIX, POSTCONF, DOVECOT)):
        pytest.fail("Postfix/Dovecot not installed; run scripts/install-system-deps.sh", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="smtp-doctor-scanflood-"))
    base.chmod(0o755)
    stack: list[Daemon] = []
    try:
        peer = start_postfix(base / "pf", PeerPKI(base / "tls"), stack)
        assert peer.log_file is not None
        conf = str(peer.log_file.parent / "conf")
        run([POSTCONF, "-c", conf, "-e", f"smtpd_client_connection_count_limit={CLIENT_LIMIT}"])
        run([POSTFIX, "-c", conf, "reload"])
        yield peer
    finally:
        for daemon in reversed(stack):
            daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


def _verdict(result: ProbeResult) -> tuple[str, ...]:
    assert result.facts is not None, result.detail
    return tuple(sorted(f"{f.id}:{f.severity}" for f in diagnose_port(result.facts).findings))


async def _flood(port: int, opts: ProbeOptions, concurrency: int, polite: Politeness, quick: bool
                 ) -> list[ProbeResult]:
    targets = (Target("127.0.0.1", port) for _ in range(N))  # a generator: pulled, never materialised
    return [r async for r in probe_many(targets, concurrency=concurrency, options=opts, politeness=polite,
                                        quick=quick)]


@pytest.mark.timeout(300)
def test_flood_one_postfix_gives_no_wrong_verdict(postfix: RealPeer) -> None:
    quick = False
    port = postfix.ports["submission"]
    opts = ProbeOptions(ca_file=str(postfix.ca_file), timeout=30.0)
    lone = asyncio.run(_flood_one(port, opts, quick))
    assert lone.facts is not None and lone.facts.mode is Mode.STARTTLS and lone.facts.tls is not None
    expected = _verdict(lone)
    assert "cert.trusted:ok" in expected

    # Far more in flight than Postfix's limit per client: it answers 421, and the back-off must absorb it.
    results = asyncio.run(_flood(port, opts, 150, Politeness(per_ip=0, ip_rate=0, retries=6, backoff=0.5), quick))
    assert len(results) == N
    limited = [r for r in results if r.error == "rate_limited"]
    wrong = [r for r in results if r.error != "rate_limited" and _verdict(r) != expected]
    assert not wrong, f"{len(wrong)} wrong verdicts, e.g. {_verdict(wrong[0]) if wrong[0].facts else wrong[0]}"
    assert all(r.facts is not None and r.facts.tls_error is None and r.facts.greeting is not None
               and r.facts.greeting.code == 421 for r in limited)
    assert len(limited) < N // 10  # the back-off worked: nearly all were eventually probed
    assert max(r.attempts for r in results) > 1, "Postfix never deferred: the flood did not test the back-off"


async def _flood_one(port: int, opts: ProbeOptions, quick: bool) -> ProbeResult:
    return [r async for r in probe_many([Target("127.0.0.1", port)], options=opts, quick=quick)][0]


@pytest.mark.timeout(120)
def test_flood_within_postfix_limits_needs_no_retry(postfix: RealPeer) -> None:
    """Kept under Postfix's per-client limit, no probe is deferred at all and every verdict is right."""
    port = postfix.ports["smtp"]
    opts = ProbeOptions(ca_file=str(postfix.ca_file), timeout=30.0)
    results = asyncio.run(_flood(port, opts, 100, Politeness(per_ip=CLIENT_LIMIT // 2, ip_rate=0), True))
    verdicts = {_verdict(r) for r in results}
    assert len(results) == N and len(verdicts) == 1 and all(r.attempts == 1 for r in results)
    assert "mode.starttls:ok" in next(iter(verdicts))
