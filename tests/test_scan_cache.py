"""Trust stores built once and chain verdicts cached per chain: the same answers as verifying afresh."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from smtp_doctor.facts import Verification
from smtp_doctor.lab.farm import make_certs
from smtp_doctor.probe.many import TrustCache
from smtp_doctor.trust.anchors import dir_pems, pem_blocks
from smtp_doctor.x509.verify import certifi_source, user_source, verify_chain, verify_known


def _chain(path: Path) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(path.read_bytes()))


def test_cached_verdicts_equal_fresh_ones(tmp_path: Path) -> None:
    ca = make_certs(tmp_path)
    sources = [user_source(str(ca)), certifi_source()]
    valid, expired = _chain(tmp_path / "valid.pem"), _chain(tmp_path / "expired.pem")
    for chain, ok_with_ca, code in ((valid, True, None), (expired, False, 10)):  # 10: X509_V_ERR_CERT_HAS_EXPIRED
        assert verify_known(chain, sources) is None  # nothing cached yet: the probe must use its thread
        first = [verify_chain(chain, s) for s in sources]
        fresh = [verify_chain(chain, s, when=datetime.now(UTC)) for s in sources]  # a pinned time is never cached
        assert first == fresh
        assert first[0].ok is ok_with_ca and first[0].error_code == code and first[0].anchors == 1
        assert not first[1].ok and first[1].anchors and first[1].anchors > 100  # Mozilla's roots do not know it
        known = verify_known(chain, sources)
        assert known is not None and list(known) == first and known[0] is verify_chain(chain, sources[0])


def test_a_changed_ca_file_is_read_again(tmp_path: Path) -> None:
    """The cache is keyed by the store's modification time: replacing --ca-file is never ignored."""
    ca = make_certs(tmp_path / "a")
    valid = _chain(tmp_path / "a" / "valid.pem")
    assert verify_chain(valid, user_source(str(ca))).ok
    other = make_certs(tmp_path / "b")
    ca.write_bytes(other.read_bytes())
    os.utime(ca, (1_000_000_000, 1_000_000_000))  # a different mtime, whatever the clock's resolution
    assert not verify_chain(valid, user_source(str(ca))).ok


def test_a_hashed_ca_directory_is_read_once_per_state(tmp_path: Path) -> None:
    """dir_pems caches per (name, size, mtime) of every entry: same answer, and an edit in place is seen."""
    ca = make_certs(tmp_path / "certs")
    store = tmp_path / "store"
    store.mkdir()
    (store / "0a1b2c3d.0").write_bytes(ca.read_bytes())
    (store / "readme.pem").write_bytes((tmp_path / "certs" / "valid.pem").read_bytes())  # no c_rehash name
    first = dir_pems(str(store))
    assert first == pem_blocks(ca.read_bytes()) and dir_pems(str(store)) == first
    assert len(dir_pems(str(store), all_files=True)) == 2
    (store / "0a1b2c3d.0").write_bytes(make_certs(tmp_path / "other").read_bytes())
    os.utime(store / "0a1b2c3d.0", (1_000_000_000, 1_000_000_000))
    second = dir_pems(str(store))
    assert len(second) == 1 and second != first


def test_a_scans_trust_cache_gives_the_same_verdicts_and_sees_a_replaced_ca(tmp_path: Path) -> None:
    """probe_many's per-run cache (sources resolved once, files re-read at most once a second) answers
    exactly what verifying afresh answers, and a --ca-file replaced mid-scan is noticed."""
    ca = make_certs(tmp_path / "a")
    valid, expired = _chain(tmp_path / "a" / "valid.pem"), _chain(tmp_path / "a" / "expired.pem")
    trust = TrustCache(str(ca))
    assert [s.name for s in trust.sources] == ["system", "certifi", "ca-file"]

    async def both() -> tuple[tuple[Verification, ...], tuple[Verification, ...]]:
        return await trust(valid), await trust(expired)

    got_valid, got_expired = asyncio.run(both())
    now = datetime.now(UTC)
    assert got_valid == tuple(verify_chain(valid, s, when=now) for s in trust.sources)
    assert got_expired == tuple(verify_chain(expired, s, when=now) for s in trust.sources)
    assert got_valid[2].ok and not got_expired[2].ok and got_expired[2].error_code == 10
    assert asyncio.run(trust(valid)) is got_valid  # cached: the same object, no thread, no store lookup
    ca.write_bytes(make_certs(tmp_path / "b").read_bytes())
    os.utime(ca, (1_000_000_000, 1_000_000_000))
    time.sleep(1.1)  # the files are looked at again at most once a second
    again = asyncio.run(trust(valid))
    assert not again[2].ok and again[:2] == got_valid[:2]
