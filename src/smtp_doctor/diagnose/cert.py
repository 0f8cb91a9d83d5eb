"""Certificate findings from TLS facts: validity dates, trust per source, name, key and hash."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..facts import TLSFacts, Verification
from ..findings import Finding, Severity
from ..x509.certinfo import key_bits

#: OpenSSL X509_V_ERR_* codes the diagnosis tells apart.
CERT_NOT_YET_VALID, CERT_HAS_EXPIRED = 9, 10
SELF_SIGNED_LEAF, SELF_SIGNED_IN_CHAIN = 18, 19
UNABLE_TO_GET_ISSUER_LOCALLY, UNABLE_TO_GET_ISSUER = 20, 2
EXPIRY_WARNING = timedelta(days=30)


def _pick(verifications: tuple[Verification, ...]) -> Verification | None:
    """The failure that speaks for the user: their own --ca-file first, then the system store."""
    order = {"ca-file": 0, "system": 1, "certifi": 2}
    failed = sorted((v for v in verifications if not v.ok), key=lambda v: order.get(v.source, 9))
    return failed[0] if failed else None


def cert_findings(tls: TLSFacts, subject: str, now: datetime) -> list[Finding]:
    out: list[Finding] = []
    if not tls.certs:
        return [Finding("cert.none", Severity.ERROR, {}, subject=subject)]
    leaf = tls.certs[0]
    details = (("subject", leaf.subject), ("issuer", leaf.issuer),
               ("names", ", ".join(leaf.san_dns + leaf.san_ip) or "-"),
               ("valid", f"{leaf.not_before} … {leaf.not_after}"), ("key", leaf.key),
               ("signature", leaf.signature), ("sha256", leaf.sha256), ("chain length", str(len(tls.certs))))
    not_after, not_before = datetime.fromisoformat(leaf.not_after), datetime.fromisoformat(leaf.not_before)
    if now > not_after:
        out.append(Finding("cert.expired", Severity.ERROR, {"date": leaf.not_after[:10],
                                                            "days": (now - not_after).days}, details, subject))
    elif now < not_before:
        out.append(Finding("cert.not_yet_valid", Severity.ERROR, {"date": leaf.not_before[:10]}, details, subject))
    elif not_after - now < EXPIRY_WARNING:
        out.append(Finding("cert.expiring", Severity.WARNING, {"date": leaf.not_after[:10],
                                                               "days": (not_after - now).days}, details, subject))

    for v in tls.verifications:
        if v.source == "ca-file" and not v.anchors:
            out.append(Finding("cert.ca_file_empty", Severity.WARNING, {"path": v.location}, subject=subject))
    trusted = [v for v in tls.verifications if v.ok]
    if trusted:
        out.append(Finding("cert.trusted", Severity.OK, {"sources": ", ".join(v.source for v in trusted)},
                           details, subject))
        failing = [v for v in tls.verifications if not v.ok and v.source not in ("system", "certifi", "ca-file")]
        if failing:  # runtimes whose own store fails while another source succeeds
            out.append(Finding("cert.runtime_untrusted", Severity.WARNING,
                               {"runtimes": ", ".join(f"{v.source} ({v.error})" for v in failing),
                                "names": ",".join(v.source for v in failing), "target": subject,
                                "flags": " ".join(f"--runtime {v.source}" for v in failing)},
                               tuple((v.source, f"{v.error} — {v.location}") for v in failing), subject))
        if not any(v.source in ("system", "certifi") for v in trusted):
            out.append(Finding("cert.private_ca", Severity.INFO, {}, subject=subject))
    else:
        failure = _pick(tls.verifications)
        if failure is not None and failure.error_code not in (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID):
            out.append(_trust_failure(tls, failure, details, subject))

    if tls.hostname_ok is False:
        out.append(Finding("cert.hostname_mismatch", Severity.ERROR,
                           {"host": tls.hostname, "names": ", ".join(leaf.san_dns + leaf.san_ip)
                            or (leaf.common_name or "-")}, details, subject))
    elif tls.hostname_used_cn:
        out.append(Finding("cert.cn_only", Severity.WARNING, {"host": tls.hostname}, subject=subject))

    for position, cert in enumerate(tls.certs):
        bits = key_bits(cert)
        if bits is not None and bits < 2048:
            out.append(Finding("cert.weak_key", Severity.ERROR, {"key": cert.key, "position": position},
                               subject=subject))
        if not cert.self_issued and ("sha1" in cert.signature.lower() or "md5" in cert.signature.lower()):
            out.append(Finding("cert.weak_signature", Severity.ERROR,
                               {"signature": cert.signature, "position": position}, subject=subject))
    return out


def _trust_failure(tls: TLSFacts, failure: Verification, details: tuple[tuple[str, str], ...],
                   subject: str) -> Finding:
    leaf = tls.certs[0]
    params = {"error": failure.error or "", "code": failure.error_code, "source": failure.source,
              "issuer": leaf.issuer}
    details = details + (("openssl", f"{failure.error} (X509_V_ERR {failure.error_code}, depth "
                                     f"{failure.error_depth}) against {failure.source}: {failure.location}"),)
    if failure.error_code == SELF_SIGNED_LEAF or (leaf.self_issued and len(tls.certs) == 1):
        return Finding("cert.self_signed", Severity.ERROR, params, details, subject)
    if failure.error_code == UNABLE_TO_GET_ISSUER_LOCALLY and len(tls.certs) == 1 and failure.error_depth == 0 and (
            leaf.ca_issuers or (failure.source == "ca-file" and failure.anchors)):
        # Only the leaf was sent and its issuer is unknown. That is a missing intermediate when the leaf
        # says where its issuer lives (AIA, as every public CA's leaf does), or when even the CA file the
        # user named for this server cannot reach it; otherwise it may just as well be a private root.
        return Finding("cert.incomplete_chain", Severity.ERROR, params, details, subject)
    if failure.error_code in (UNABLE_TO_GET_ISSUER_LOCALLY, UNABLE_TO_GET_ISSUER, SELF_SIGNED_IN_CHAIN):
        return Finding("cert.untrusted", Severity.ERROR, params, details, subject)
    return Finding("cert.verify_failed", Severity.ERROR, params, details, subject)
