"""Is the server's certificate revoked? CRL first, then OCSP where the certificate names a responder.

Why CRL first: Let's Encrypt stopped OCSP in 2025 (its certificates carry only a CRL URL), so a
revocation check that only speaks OCSP says nothing about most mail servers. Parsing, signature
checks and request building are ``cryptography``'s, never hand-written DER. The only addresses ever
fetched are the ``http://`` URLs written in the certificate itself, without following redirects,
bounded in size and time; a fetch that fails is reported as unreachable, never as "good".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

#: A CRL of a large CA runs to megabytes; 8 MiB bounds memory and still fits the sharded CRLs of 2025.
MAX_BYTES = 8 * 1024 * 1024
TIMEOUT = 8.0

Fetch = Callable[[str, bytes | None], bytes]


@dataclass(frozen=True)
class RevocationCheck:
    method: str  #: "crl" or "ocsp"
    url: str
    status: str  #: "good", "revoked", "unreachable", "invalid" (answer failed its checks), "unknown"
    detail: str = ""
    revoked_at: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "url": self.url, "status": self.status, "detail": self.detail or None,
                "revoked_at": self.revoked_at, "reason": self.reason}


class FetchError(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is reported as the HTTP error it is, never followed


def http_fetch(url: str, body: bytes | None) -> bytes:
    """GET (or POST an OCSP request to) ``url``: http only, no redirects, bounded."""
    if not url.lower().startswith("http://"):
        raise FetchError(f"not fetched: only http:// URLs are used ({url.split(':', 1)[0]})")
    headers = {"Content-Type": "application/ocsp-request"} if body is not None else {}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            data: bytes = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(str(getattr(exc, "reason", exc))[:200]) from None
    if len(data) > MAX_BYTES:
        raise FetchError(f"larger than {MAX_BYTES} bytes")
    return data


def urls(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(CRL distribution point URLs, OCSP responder URLs) the certificate names."""
    crls: list[str] = []
    responders: list[str] = []
    try:
        for point in cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value:
            crls += [n.value for n in point.full_name or () if isinstance(n, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    try:
        for desc in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value:
            if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
                    desc.access_location, x509.UniformResourceIdentifier):
                responders.append(desc.access_location.value)
    except x509.ExtensionNotFound:
        pass
    return tuple(crls), tuple(responders)


def _signed_by(issuer: x509.Certificate, signature: bytes, data: bytes,
               algorithm: hashes.HashAlgorithm | None) -> bool:
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def check_crl(leaf: x509.Certificate, issuer: x509.Certificate | None, url: str, fetch: Fetch) -> RevocationCheck:
    try:
        data = fetch(url, None)
    except FetchError as exc:
        return RevocationCheck("crl", url, "unreachable", str(exc))
    try:
        crl = x509.load_der_x509_crl(data)
    except ValueError:
        try:
            crl = x509.load_pem_x509_crl(data)
        except ValueError:
            return RevocationCheck("crl", url, "invalid", "not a CRL (neither DER nor PEM)")
    if issuer is None:
        return RevocationCheck("crl", url, "unknown", "the issuer certificate was not sent: the CRL's "
                                                       "signature cannot be checked")
    if crl.issuer != leaf.issuer or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return RevocationCheck("crl", url, "invalid", "the CRL is not signed by the certificate's issuer")
    stale = crl.next_update_utc is not None and crl.next_update_utc < dt.datetime.now(dt.UTC)
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is not None:
        reason = None
        with contextlib.suppress(x509.ExtensionNotFound):
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
        return RevocationCheck("crl", url, "revoked", "", entry.revocation_date_utc.isoformat(), reason)
    if stale:
        return RevocationCheck("crl", url, "invalid", f"the CRL expired at {crl.next_update_utc}")
    return RevocationCheck("crl", url, "good", f"{len(crl)} entries, next update {crl.next_update_utc}")


def check_ocsp(leaf: x509.Certificate, issuer: x509.Certificate | None, url: str, fetch: Fetch
               ) -> RevocationCheck:
    if issuer is None:
        return RevocationCheck("ocsp", url, "unknown", "the issuer certificate was not sent: no OCSP request "
                                                        "can be built")
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    try:
        data = fetch(url, request.public_bytes(serialization.Encoding.DER))
    except FetchError as exc:
        return RevocationCheck("ocsp", url, "unreachable", str(exc))
    return judge_ocsp_response(leaf, issuer, data, "ocsp", url)


def judge_ocsp_response(leaf: x509.Certificate, issuer: x509.Certificate, data: bytes, method: str, url: str
                        ) -> RevocationCheck:
    """An OCSP response (fetched, or stapled in the handshake) checked against ``leaf`` and ``issuer``."""
    try:
        resp = ocsp.load_der_ocsp_response(data)
    except ValueError:
        return RevocationCheck(method, url, "invalid", "not an OCSP response")
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return RevocationCheck(method, url, "invalid", f"responder answered {resp.response_status.name}")
    signer = issuer
    for delegated in resp.certificates:  # RFC 6960 §4.2.2.2: a responder certificate issued by the CA
        if delegated.issuer == issuer.subject and _signed_by(issuer, delegated.signature,
                                                             delegated.tbs_certificate_bytes,
                                                             delegated.signature_hash_algorithm):
            signer = delegated
    if not _signed_by(signer, resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm):
        return RevocationCheck(method, url, "invalid", "the response is not signed by the issuer or its responder")
    if resp.serial_number != leaf.serial_number:
        return RevocationCheck(method, url, "invalid", "the response is about another certificate")
    status = resp.certificate_status
    if status == ocsp.OCSPCertStatus.REVOKED:
        when = resp.revocation_time_utc
        return RevocationCheck(method, url, "revoked", "", when.isoformat() if when else None,
                               resp.revocation_reason.name if resp.revocation_reason else None)
    if status == ocsp.OCSPCertStatus.GOOD:
        return RevocationCheck(method, url, "good", f"this update {resp.this_update_utc}")
    return RevocationCheck(method, url, "unknown", "the responder does not know this certificate")


def issuer_of(leaf: x509.Certificate, candidates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for cand in candidates:
        if cand.subject == leaf.issuer and _signed_by(cand, leaf.signature, leaf.tbs_certificate_bytes,
                                                      leaf.signature_hash_algorithm):
            return cand
    return None


def check_revocation(chain: Sequence[bytes], extra_issuers: Sequence[x509.Certificate] = (),
                     fetch: Fetch = http_fetch) -> tuple[RevocationCheck, ...]:
    """Every CRL URL, then every OCSP responder of the leaf; ``()`` when it names neither."""
    if not chain:
        return ()
    leaf = x509.load_der_x509_certificate(chain[0])
    issuer = issuer_of(leaf, [x509.load_der_x509_certificate(d) for d in chain[1:]] + list(extra_issuers))
    crl_urls, ocsp_urls = urls(leaf)
    return (tuple(check_crl(leaf, issuer, u, fetch) for u in crl_urls[:3])
            + tuple(check_ocsp(leaf, issuer, u, fetch) for u in ocsp_urls[:2]))
