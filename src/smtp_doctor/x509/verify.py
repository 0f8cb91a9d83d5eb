"""Verify a chain exactly as the server sent it against a trust source, the way clients do.

OpenSSL's own verifier (through pyOpenSSL) is used on purpose: its error codes and wording
("unable to get local issuer certificate", "certificate has expired") are what Ruby, Python, PHP and
curl users see in their logs, so the report speaks their language. Only the certificates the server
sent are used as intermediates; nothing is fetched (no AIA), which is how MTAs and MUAs behave.
"""

from __future__ import annotations

import os
import re
import ssl
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from OpenSSL import crypto

from ..facts import CertInfo, Verification
from .certinfo import cert_info


@dataclass(frozen=True)
class TrustSource:
    """Where trust anchors come from: a PEM bundle (file), a hashed directory, or both."""

    name: str
    cafile: str | None = None
    capath: str | None = None

    @property
    def location(self) -> str:
        return " + ".join(p for p in (self.cafile, self.capath) if p) or "(none)"


def system_source() -> TrustSource:
    """The store OpenSSL-based clients on this machine use by default (honours SSL_CERT_FILE/DIR)."""
    paths = ssl.get_default_verify_paths()
    cafile = paths.cafile or (paths.openssl_cafile if os.path.isfile(paths.openssl_cafile) else None)
    capath = paths.capath or (paths.openssl_capath if os.path.isdir(paths.openssl_capath) else None)
    return TrustSource("system", cafile, capath)


def certifi_source() -> TrustSource:
    return TrustSource("certifi", certifi.where(), None)


def user_source(path: str) -> TrustSource:
    """``--ca-file``: a PEM file (one or many roots) or a c_rehash-style directory."""
    return TrustSource("ca-file", None, path) if os.path.isdir(path) else TrustSource("ca-file", path, None)


def _count_pem(path: str) -> int:
    try:
        with open(path, "rb") as fh:
            return fh.read().count(b"-----BEGIN CERTIFICATE-----")
    except OSError:
        return 0


_HASHED = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")


@lru_cache(maxsize=16)
def _anchors(cafile: str | None, capath: str | None, mtime: float) -> tuple[list[crypto.X509], int]:
    certs: list[crypto.X509] = []
    seen: set[bytes] = set()
    files = [cafile] if cafile else []
    if capath and os.path.isdir(capath):
        # OpenSSL looks a CA directory up by subject-hash file names only (c_rehash layout), so a
        # directory of plain *.pem files trusts nothing until `openssl rehash`: count what it would.
        files += [str(p) for p in sorted(Path(capath).iterdir()) if _HASHED.match(p.name) and p.is_file()]
    for path in files:
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        if b"-----BEGIN CERTIFICATE-----" not in data:
            continue
        try:
            with warnings.catch_warnings():  # old roots with negative serials still verify in OpenSSL
                warnings.simplefilter("ignore")
                loaded = x509.load_pem_x509_certificates(data)
        except ValueError:
            continue  # a damaged or non-certificate file in the directory: skip, like OpenSSL does
        for c in loaded:
            fingerprint = c.fingerprint(hashes.SHA256())
            if fingerprint not in seen:  # the bundle and the hashed directory hold the same roots
                seen.add(fingerprint)
                certs.append(crypto.X509.from_cryptography(c))
    return certs, len(certs)


def _mtime(*paths: str | None) -> float:
    return sum(os.path.getmtime(p) for p in paths if p and os.path.exists(p))


def _store(cafile: str | None, capath: str | None, mtime: float) -> tuple[crypto.X509Store, int]:
    """One X509Store per trust source, built once: filling it with 140 roots costs more than a handshake.

    Under a lock: a scan starts hundreds of probes at once, and they must not all build the same store.
    """
    with _BUILDING:
        return _store_once(cafile, capath, mtime)


_BUILDING = threading.Lock()


@lru_cache(maxsize=16)
def _store_once(cafile: str | None, capath: str | None, mtime: float) -> tuple[crypto.X509Store, int]:
    anchors, count = _anchors(cafile, capath, mtime)
    store = crypto.X509Store()
    for anchor in anchors:
        store.add_cert(anchor)
    return store, count


def verify_chain(chain: Sequence[bytes], source: TrustSource, when: datetime | None = None) -> Verification:
    """Verify ``chain`` (DER, leaf first, as sent) against ``source``; hostname is checked elsewhere.

    A fleet sees the same few chains thousands of times (one provider's certificate on every MX), so
    the verdict is cached per (chain, source, minute): same chain, same store, same answer (validity
    dates move the verdict at most a minute late).
    """
    if when is not None:  # a pinned time mutates the store: never share one
        return _verify(tuple(chain), source, when, _mtime(source.cafile, source.capath))
    key = _key(chain, source)
    known = _VERDICTS.get(key)
    if known is None:
        known = _verify(tuple(chain), source, None, key[2])
        if len(_VERDICTS) >= _VERDICTS_MAX:
            _VERDICTS.clear()  # bounded: a scan of a million distinct chains keeps at most this many
        _VERDICTS[key] = known
    return known


def verify_known(chain: Sequence[bytes], sources: Sequence[TrustSource]) -> tuple[Verification, ...] | None:
    """The verdicts already cached for ``chain`` against every source, else None: no thread needed for them."""
    out = []
    for source in sources:
        known = _VERDICTS.get(_key(chain, source))
        if known is None:
            return None
        out.append(known)
    return tuple(out)


_VERDICTS: dict[tuple[tuple[bytes, ...], TrustSource, float, int], Verification] = {}
_VERDICTS_MAX = 4096


def _key(chain: Sequence[bytes], source: TrustSource) -> tuple[tuple[bytes, ...], TrustSource, float, int]:
    return tuple(chain), source, _mtime(source.cafile, source.capath), int(datetime.now(UTC).timestamp() // 60)


def _verify(chain: tuple[bytes, ...], source: TrustSource, when: datetime | None, mtime: float) -> Verification:
    if when is None:
        store, count = _store(source.cafile, source.capath, mtime)
    else:
        with _BUILDING:
            anchors, count = _anchors(source.cafile, source.capath, mtime)
        store = crypto.X509Store()
        for anchor in anchors:
            store.add_cert(anchor)
        store.set_time(when)
    leaf = crypto.X509.from_cryptography(x509.load_der_x509_certificate(chain[0]))
    rest = [crypto.X509.from_cryptography(x509.load_der_x509_certificate(d)) for d in chain[1:]]
    ctx = crypto.X509StoreContext(store, leaf, rest)
    try:
        verified = ctx.get_verified_chain()
    except crypto.X509StoreContextError as exc:
        code, depth, message = (exc.errors + [None, None, None])[:3] if isinstance(exc.errors, list) else (
            None, None, str(exc))
        return Verification(source.name, source.location, False, code, str(message), depth, (), count)
    subjects = tuple(c.to_cryptography().subject.rfc4514_string() for c in verified)
    return Verification(source.name, source.location, True, None, None, None, subjects, count)


@lru_cache(maxsize=4096)
def cert_info_cached(der: bytes) -> CertInfo:
    """``cert_info`` once per certificate: a fleet shows the same few thousand certificates again and again."""
    return cert_info(der)
