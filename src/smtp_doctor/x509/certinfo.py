"""Turn a DER certificate into the handful of facts a report shows."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from ..facts import CertInfo


def _key(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def key_bits(info: CertInfo) -> int | None:
    """RSA/DSA modulus size, for the weak-key check (None for EC/EdDSA keys)."""
    kind, _, size = info.key.partition(" ")
    return int(size) if kind in ("RSA", "DSA") and size.isdigit() else None


def cert_info(der: bytes) -> CertInfo:
    cert = x509.load_der_x509_certificate(der)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        pass
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ca_issuers = tuple(str(d.access_location.value) for d in aia
                           if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS)
    except x509.ExtensionNotFound:
        ca_issuers = ()
    sig = cert.signature_algorithm_oid._name  # the OpenSSL-style name users search for
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=str(cns[0].value) if cns else None,
        san_dns=dns,
        san_ip=ips,
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        serial=format(cert.serial_number, "x"),
        sha256=hashlib.sha256(der).hexdigest(),
        key=_key(cert),
        signature=sig,
        self_issued=cert.subject == cert.issuer,
        is_ca=bool(is_ca),
        ca_issuers=ca_issuers,
    )
