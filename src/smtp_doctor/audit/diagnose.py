"""From what the audit saw to findings: pure, no I/O.

Ratings and server-side fixes are data (knowledge/audit.toml); this module only decides which check
fired. A severity depends on the port's role: the same flaw on a submission port (users' passwords)
weighs more than on a relay port.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from ..facts import Mode
from ..findings import Finding, Severity
from ..i18n import Term
from ..x509.certinfo import key_bits
from .model import PortAudit, Role, Verdict

SERVERS = ("postfix", "exim", "dovecot")
WEAK_CLASSES = ("null", "anon", "export", "rc4", "3des")


@cache
def knowledge() -> dict[str, dict[str, Any]]:
    text = (resources.files("smtp_doctor") / "knowledge" / "audit.toml").read_text(encoding="utf-8")
    checks: dict[str, dict[str, Any]] = tomllib.loads(text)["check"]
    for key, entry in checks.items():
        if not entry.get("sources") or set(entry["severity"]) != {"submission", "relay"}:
            raise ValueError(f"knowledge/audit.toml: check {key} needs sources and both severities")
    return checks


def finding(check: str, role: Role, subject: str, details: tuple[tuple[str, str], ...] = (), **params: Any
            ) -> Finding:
    """A finding with the knowledge's severity for ``role``, its fixes and sources as details."""
    entry = knowledge()[check]
    fixes = tuple((f"fix.{s}", entry[s]) for s in SERVERS if entry.get(s))
    sources = tuple(("source", s) for s in entry["sources"])
    return Finding(f"audit.{check}", Severity(entry["severity"][role]), params, details + fixes + sources, subject)


def _injection(pa: PortAudit, subject: str) -> list[Finding]:
    inj = pa.injection
    if inj is None:
        return []
    tries = tuple((f"try.{t.payload or 'sanity'}", _show_try(t.unsolicited, t.quit_replies, t.starttls_code, t.error))
                  for t in (inj.sanity, *inj.tries))
    check = {Verdict.VULNERABLE: "starttls_injection", Verdict.INCONCLUSIVE: "starttls_injection_inconclusive",
             Verdict.NOT_VULNERABLE: "starttls_injection_ok"}[inj.verdict]
    hit = next((t for t in inj.tries if t.unsolicited or (t.quit_replies or 0) > 1), None)
    return [finding(check, pa.role, subject, tries, reason=Term(f"audit.reason.{inj.reason}"),
                    payload=hit.payload if hit else "", count=len(inj.tries))]


def _show_try(unsolicited: bytes, quits: int | None, code: int | None, error: str) -> str:
    if error:
        return f"error: {error}"
    got = unsolicited.decode("latin-1").encode("unicode_escape").decode("ascii")[:160]
    return f"STARTTLS {code}; unprompted: {got or '-'}; replies to QUIT: {quits}"


def _starttls(pa: PortAudit, subject: str) -> list[Finding]:
    f, out = pa.facts, []
    if f.mode is Mode.PLAINTEXT and f.ehlo_plain is not None:  # EHLO answered, and without STARTTLS
        out.append(finding("no_starttls", pa.role, subject))
    if f.ehlo_plain is not None and f.ehlo_plain.auth and f.mode in (Mode.PLAINTEXT, Mode.STARTTLS):
        out.append(finding("auth_before_tls", pa.role, subject, mechanisms=" ".join(f.ehlo_plain.auth)))
    leaked = f.bytes_after_starttls or (pa.session.late_bytes_after_220 if pa.session else b"")
    if leaked:
        shown = leaked.decode("latin-1").encode("unicode_escape").decode("ascii")[:200]
        out.append(finding("bytes_after_220", pa.role, subject, (("bytes", shown),), count=len(leaked)))
    s = pa.session
    if s is None:
        return out
    if s.mail_before_tls == 250 and pa.role is Role.SUBMISSION and f.mode in (Mode.PLAINTEXT, Mode.STARTTLS):
        out.append(finding("mail_before_tls", pa.role, subject))
    if s.mail_before_tls == 530 and pa.role is Role.RELAY:
        out.append(finding("relay_requires_tls", pa.role, subject))
    if s.starttls_in_tls_ehlo:
        out.append(finding("starttls_readvertised", pa.role, subject))
    if s.second_starttls == 220:
        out.append(finding("second_starttls", pa.role, subject))
    if s.rcpt_after_tls in (250, 251):  # 503 is the reset RFC 3207 §4.2 asks for; other codes prove nothing
        out.append(finding("session_kept", pa.role, subject, (("rcpt_after_tls", str(s.rcpt_after_tls)),)))
    return out


def _tls(pa: PortAudit, subject: str) -> list[Finding]:
    f, out = pa.facts, []
    accepted = [v.version for v in f.tls_versions if v.accepted]
    legacy = [v for v in accepted if v in ("TLSv1", "TLSv1.1")]
    if legacy and len(legacy) == len(accepted):
        out.append(finding("legacy_tls_only", pa.role, subject, versions=", ".join(legacy)))
    elif legacy:
        out.append(finding("legacy_tls", pa.role, subject, versions=", ".join(legacy)))
    weak = [s for s in pa.suites if s.accepted and s.category in WEAK_CLASSES]
    if weak:
        out.append(finding("weak_suites", pa.role, subject,
                           tuple((f"{s.version}", f"{s.category}: {s.cipher}") for s in weak),
                           suites=", ".join(sorted({s.category for s in weak}))))
    static = [s for s in pa.suites if s.accepted and s.category == "no_fs"]
    if static:
        out.append(finding("no_forward_secrecy", pa.role, subject,
                           tuple((s.version, s.cipher) for s in static), versions=", ".join(s.version for s in static)))
    if f.tls is None or not f.tls.certs:
        return out
    leaf = f.tls.certs[0]
    bits = key_bits(leaf)
    if bits is not None and bits < 2048:
        out.append(finding("weak_key", pa.role, subject, key=leaf.key))
    sha1 = [c for c in f.tls.certs if not c.self_issued and ("sha1" in c.signature.lower()
                                                             or "md5" in c.signature.lower())]
    if sha1:
        out.append(finding("sha1_signature", pa.role, subject, tuple(("certificate", c.subject) for c in sha1),
                           signature=sha1[0].signature))
    certs = f.tls.certs
    if any(certs[i].issuer != certs[i + 1].subject for i in range(len(certs) - 1)):
        out.append(finding("chain_order", pa.role, subject,
                           tuple((f"#{i}", f"{c.subject} <- {c.issuer}") for i, c in enumerate(certs))))
    if pa.staple is not None and pa.staple.stapled is False:
        out.append(finding("no_ocsp_staple", pa.role, subject))
    return out


def _revocation(pa: PortAudit, subject: str) -> list[Finding]:
    if pa.facts.tls is None or not pa.facts.tls.certs:
        return []
    if not pa.revocation_checked and not pa.revocation:  # (a stapled answer is judged even so)
        return [finding("revocation_skipped", pa.role, subject, tuple(("url", u) for u in pa.revocation_urls),
                        count=len(pa.revocation_urls))] if pa.revocation_urls else []
    checks = pa.revocation
    details = tuple((f"{c.method} {c.url}", f"{c.status}{': ' + c.detail if c.detail else ''}") for c in checks)
    revoked = next((c for c in checks if c.status == "revoked"), None)
    if revoked is not None:
        return [finding("revoked", pa.role, subject, details, method=revoked.method.upper(),
                        when=revoked.revoked_at or "?", reason=revoked.reason or "-")]
    if checks and all(c.status == "good" for c in checks):
        return [finding("not_revoked", pa.role, subject, details, methods=", ".join(c.method.upper() for c in checks))]
    if not checks:
        return [finding("revocation_unchecked", pa.role, subject, why="none")]
    good = [c for c in checks if c.status == "good"]
    return [finding("not_revoked" if good else "revocation_unchecked", pa.role, subject, details,
                    methods=", ".join(c.method.upper() for c in good), why="failed")]


def diagnose(pa: PortAudit) -> list[Finding]:
    subject = f"{pa.facts.host}:{pa.port}"
    return _injection(pa, subject) + _starttls(pa, subject) + _tls(pa, subject) + _revocation(pa, subject)
