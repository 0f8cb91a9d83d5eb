"""The lab's private PKI: one root CA (trustme) and a certificate for every failure mode.

Every lab certificate names ``localhost``, ``127.0.0.1`` and ``::1`` unless it is the wrong-name
one, so a probe of ``127.0.0.1:PORT`` with ``--ca-file <lab CA>`` passes exactly where it should.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAMES = ("localhost", "127.0.0.1", "::1")
WRONG_NAME = "mail.wrong-name.example"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtp-doctor lab (self-signed)")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "self-signed.pem", directory / "self-signed.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class LabPKI:
    """Writes the CA and every server certificate under ``directory``; builds server contexts."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="smtp-doctor lab CA")
        self.ca_file = self.directory / "lab-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._intermediate = self.ca.create_child_ca()
        self._files: dict[str, tuple[Path, Path]] = {}

    def _write(self, kind: str, leaf: trustme.LeafCert, chain: bool = True) -> tuple[Path, Path]:
        cert_path, key_path = self.directory / f"{kind}.pem", self.directory / f"{kind}.key"
        pems = leaf.cert_chain_pems if chain else leaf.cert_chain_pems[:1]
        cert_path.write_bytes(b"".join(p.bytes() for p in pems))
        leaf.private_key_pem.write_to_path(str(key_path))
        return cert_path, key_path

    def files(self, kind: str) -> tuple[Path, Path]:
        """(certificate chain PEM, key PEM) for ``kind``."""
        if kind not in self._files:
            if kind == "good":
                pair = self._write(kind, self.ca.issue_cert(*NAMES))
            elif kind == "expired":
                pair = self._write(kind, self.ca.issue_cert(
                    *NAMES, not_before=dt.datetime(2020, 1, 1), not_after=dt.datetime(2021, 1, 1)))
            elif kind == "wrong-name":
                pair = self._write(kind, self.ca.issue_cert(WRONG_NAME))
            elif kind == "missing-intermediate":
                pair = self._write(kind, self._intermediate.issue_cert(*NAMES), chain=False)
            elif kind == "self-signed":
                pair = _self_signed(self.directory)
            else:
                raise ValueError(f"unknown certificate kind {kind!r}")
            self._files[kind] = pair
        return self._files[kind]

    def server_context(self, kind: str, versions: tuple[str, str] | None = None) -> ssl.SSLContext:
        """``versions`` pins (min, max): TLS 1.0/1.1 need security level 0 in OpenSSL 3, as on the
        old appliances this imitates."""
        cert, key = self.files(kind)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if versions is not None:
            with warnings.catch_warnings():  # imitating a legacy server is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version, ctx.maximum_version = (ssl.TLSVersion[v.replace(".", "_")] for v in versions)
            if ctx.minimum_version < ssl.TLSVersion.TLSv1_2:
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.load_cert_chain(str(cert), str(key))
        return ctx
