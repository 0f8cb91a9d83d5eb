"""DANE for SMTP (RFC 7672): TLSA records matched against the chain the MX really served.

Only DANE-TA(2) and DANE-EE(3) are usable on port 25 (RFC 7672 §3.1.3); PKIX usages 0/1 are not.
DANE-EE ignores names and dates (§3.1.1); DANE-TA needs the chain from the leaf up to the matched
certificate to verify and the leaf to name the MX host (§3.1.2, §3.2.2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

USABLE_USAGES = (2, 3)
SELECTORS = (0, 1)
MTYPES = (0, 1, 2)


@dataclass(frozen=True)
class Tlsa:
    usage: int
    selector: int
    mtype: int
    data: bytes

    @property
    def usable(self) -> bool:
        return self.usage in USABLE_USAGES and self.selector in SELECTORS and self.mtype in MTYPES

    def short(self) -> str:
        return f"{self.usage} {self.selector} {self.mtype} {self.data.hex()[:16]}…"


def parse_tlsa(text: str) -> Tlsa | None:
    parts = text.split(None, 3)
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    try:
        data = bytes.fromhex(parts[3].replace(" ", ""))
    except ValueError:
        return None
    return Tlsa(int(parts[0]), int(parts[1]), int(parts[2]), data)


def _selected(cert: x509.Certificate, selector: int) -> bytes:
    if selector == 0:
        return cert.public_bytes(serialization.Encoding.DER)
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def association(cert: x509.Certificate, selector: int, mtype: int) -> bytes:
    blob = _selected(cert, selector)
    if mtype == 1:
        return hashlib.sha256(blob).digest()
    if mtype == 2:
        return hashlib.sha512(blob).digest()
    return blob


def _chain_verifies(chain: list[x509.Certificate], top: int) -> bool:
    """Each certificate from the leaf up to ``chain[top]`` is signed by the next one."""
    try:
        for i in range(top):
            chain[i].verify_directly_issued_by(chain[i + 1])
    except (ValueError, TypeError, Exception):  # InvalidSignature, unsupported key types
        return False
    return True


@dataclass(frozen=True)
class Match:
    record: Tlsa
    depth: int  #: which certificate of the served chain matched (0 = leaf)


def match(records: list[Tlsa], chain_der: tuple[bytes, ...], name_ok: bool | None) -> Match | None:
    """The first usable record the served chain satisfies, or None."""
    chain = []
    for der in chain_der[:10]:
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError:
            break
    if not chain:
        return None
    for rec in records:
        if not rec.usable:
            continue
        if rec.usage == 3 and association(chain[0], rec.selector, rec.mtype) == rec.data:
            return Match(rec, 0)
        if rec.usage == 2 and name_ok:
            for depth in range(1, len(chain)):
                if association(chain[depth], rec.selector, rec.mtype) == rec.data and _chain_verifies(chain, depth):
                    return Match(rec, depth)
    return None
