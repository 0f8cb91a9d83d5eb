"""Facts → findings for a mail domain. Pure: no I/O; severities and sources from knowledge/domain.toml."""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from importlib import resources
from typing import Any

from ..facts import Mode, Outcome, PortFacts
from ..findings import Finding, Severity
from ..i18n import Term
from . import dane, mtasts, tlsrpt
from .dns import txt_strings
from .model import DnsAnswer, DomainFacts, MXHost


@cache
def causes() -> dict[str, dict[str, str]]:
    text = (resources.files("smtp_doctor") / "knowledge" / "domain.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["cause"])


def _f(code: str, subject: str = "", testing: bool = False, details: tuple[tuple[str, str], ...] = (),
       **params: Any) -> Finding:
    entry = causes()[code]
    sev = entry.get("severity_testing", entry["severity"]) if testing else entry["severity"]
    return Finding(code, Severity(sev), params, details + (("source", entry["source"]),), subject)


def _txts(answer: DnsAnswer | None) -> tuple[str, ...]:
    return tuple(txt_strings(r) for r in answer.records) if answer else ()


def _pkix_ok(p: PortFacts) -> bool:
    return p.tls is not None and bool(p.tls.hostname_ok) and any(v.ok for v in p.tls.verifications)


def _connected(p: PortFacts) -> bool:
    return p.outcome is Outcome.CONNECTED and p.mode not in (Mode.UNKNOWN, Mode.SILENT, Mode.CLOSED)


def _bogus(answer: DnsAnswer) -> Finding:
    expired = any(c == 7 for c, _ in answer.ede) or answer.rrsig_expired is not None
    code = "dnssec_signature_expired" if expired else "dnssec_bogus"
    reasons = [f"EDE {c}: {t}" if t else f"EDE {c}" for c, t in answer.ede]
    if answer.rrsig_expired:
        reasons.append(f"RRSIG expired {answer.rrsig_expired}")
    reason = "; ".join(reasons) or "SERVFAIL only with validation"
    return _f(code, f"{answer.name} {answer.rdtype}", name=answer.name, rdtype=answer.rdtype, reason=reason)


def _mx_findings(facts: DomainFacts, out: list[Finding]) -> None:
    if facts.null_mx:
        out.append(_f("mx_null", facts.domain, domain=facts.domain))
    if facts.implicit_mx:
        out.append(_f("mx_implicit", facts.domain, domain=facts.domain))
    for mx in facts.mx:
        if not mx.addresses:
            out.append(_f("mx_no_address", mx.host, host=mx.host))
        for p in mx.probes:
            if not _connected(p):
                out.append(_f("mx_unreachable", mx.host, host=mx.host, address=p.address or "-",
                              details=(("outcome", str(p.outcome)), ("detail", p.outcome_detail or str(p.mode)))))


def _sts(facts: DomainFacts, out: list[Finding], sections: dict[str, object]) -> str | None:
    """MTA-STS; returns the effective mode (None when no usable policy)."""
    d = facts.domain
    records = mtasts.sts_records(_txts(facts.sts_txt))
    fetched = facts.policy
    policy_served = fetched is not None and fetched.status == 200 and fetched.error is None
    section: dict[str, object] = {"txt": records}
    sections["mta_sts"] = section
    if not records:
        if policy_served:
            out.append(_f("sts_txt_missing", f"_mta-sts.{d}", domain=d))
        else:
            out.append(_f("sts_not_deployed", d, domain=d))
        return None
    if len(records) > 1:
        out.append(_f("sts_txt_multiple", f"_mta-sts.{d}", domain=d, count=len(records),
                      details=tuple(("TXT", r) for r in records)))
        return None
    txt = mtasts.parse_txt(records[0])
    section["id"] = txt.id
    if txt.error:
        out.append(_f("sts_txt_syntax", f"_mta-sts.{d}", domain=d, problem=txt.error, details=(("TXT", txt.text),)))
        return None
    if fetched is None:
        out.append(_f("sts_fetch_failed", f"mta-sts.{d}", url=f"https://mta-sts.{d}/.well-known/mta-sts.txt",
                      reason=f"mta-sts.{d}: no address ({facts.policy_host.rcode if facts.policy_host else '-'})"))
        return None
    section["url"], section["status"] = fetched.url, fetched.status
    if fetched.error is not None:
        code = "sts_policy_cert" if fetched.cert_error else "sts_fetch_failed"
        out.append(_f(code, f"mta-sts.{d}", url=fetched.url, reason=fetched.error))
        return None
    if fetched.status is not None and 300 <= fetched.status < 400:
        out.append(_f("sts_policy_redirect", fetched.url, url=fetched.url, status=fetched.status,
                      location=fetched.location or "-"))
        return None
    if fetched.status != 200:
        out.append(_f("sts_policy_status", fetched.url, url=fetched.url, status=fetched.status))
        return None
    media = (fetched.content_type or "").split(";")[0].strip().lower()
    if media != "text/plain":
        out.append(_f("sts_policy_content_type", fetched.url, url=fetched.url, content_type=media or "-"))
        return None
    if fetched.too_large:
        out.append(_f("sts_policy_too_large", fetched.url, url=fetched.url, limit="64 KiB"))
        return None
    policy = mtasts.parse_policy(fetched.body)
    section.update(mode=policy.mode, max_age=policy.max_age, mx=policy.mx)
    digest = hashlib.sha256(fetched.body).hexdigest()
    section["sha256"] = digest
    if facts.remembered and txt.id:
        if facts.remembered.get("id") == txt.id and facts.remembered.get("sha256") != digest:
            out.append(_f("sts_policy_changed_same_id", f"_mta-sts.{d}", id=txt.id))
        elif facts.remembered.get("id") not in (None, txt.id) and facts.remembered.get("sha256") == digest:
            out.append(_f("sts_id_changed_same_policy", f"_mta-sts.{d}", id=txt.id,
                          old_id=facts.remembered.get("id", "")))
    bad = False
    if policy.errors:
        out.append(_f("sts_policy_syntax", fetched.url, problems="; ".join(policy.errors)))
        bad = True
    if policy.mode is not None and not policy.mode_ok:
        out.append(_f("sts_policy_mode", fetched.url, mode=policy.mode))
        bad = True
    if policy.max_age is not None and not policy.max_age_ok:
        out.append(_f("sts_policy_max_age", fetched.url, max_age=policy.max_age, limit=mtasts.MAX_AGE_LIMIT))
        bad = True
    if bad or policy.mode is None:
        return None
    if policy.mode == "none":
        out.append(_f("sts_mode_none", d, domain=d))
        return None
    testing = policy.mode == "testing"
    if testing:
        out.append(_f("sts_testing", d, domain=d))
    outcome = Term("domain.outcome.report_only" if testing else "domain.outcome.defer")
    for mx in facts.mx:
        if not any(mtasts.mx_matches(mx.host, pat) for pat in policy.mx):
            out.append(_f("sts_mx_mismatch", mx.host, testing, host=mx.host, mode=policy.mode,
                          patterns=", ".join(policy.mx), outcome=outcome))
            continue
        for p in mx.probes:
            if not _connected(p):
                continue
            if p.mode is not Mode.STARTTLS or p.tls is None:
                out.append(_f("mx_no_starttls", mx.host, testing, host=mx.host, address=p.address or "-",
                              outcome=outcome))
            elif not _pkix_ok(p):
                out.append(_f("sts_mx_cert_invalid", mx.host, testing, host=mx.host, mode=policy.mode,
                              reason=_cert_reason(p), outcome=outcome))
                break
    return policy.mode


def _cert_reason(p: PortFacts) -> str:
    assert p.tls is not None
    if not p.tls.hostname_ok:
        names = ", ".join(p.tls.certs[0].san_dns) if p.tls.certs else "-"
        return f"names {names}"
    errors = [v.error for v in p.tls.verifications if not v.ok and v.error]
    return errors[0] if errors else "not trusted"


def _dane(facts: DomainFacts, out: list[Finding], sections: dict[str, object]) -> bool:
    """DANE per MX; returns whether any MX publishes TLSA."""
    rows: list[dict[str, object]] = []
    sections["dane"] = rows
    published = False
    for mx in facts.mx:
        answer = mx.tlsa
        if answer is None or not mx.addresses:
            continue
        records = [r for r in (dane.parse_tlsa(x) for x in answer.records) if r is not None]
        row: dict[str, object] = {"host": mx.host, "state": answer.state, "tlsa": answer.records,
                                  "ede": [list(e) for e in answer.ede]}
        rows.append(row)
        if records:
            published = True
        if answer.state == "bogus":
            if not (facts.mx_answer and facts.mx_answer.state == "bogus"):  # else already said for the zone
                out.append(_bogus(answer))
            continue
        if not records or not facts.validating:
            continue
        if answer.state != "secure":
            out.append(_f("dane_insecure", f"_25._tcp.{mx.host}", host=mx.host))
            continue
        usable = [r for r in records if r.usable]
        if not usable:
            out.append(_f("dane_tlsa_unusable", f"_25._tcp.{mx.host}", host=mx.host,
                          records=", ".join(r.short() for r in records)))
            continue
        plain = [p for p in mx.probes if _connected(p) and p.tls is None]
        if plain:  # RFC 7672 §2.2: usable TLSA and no TLS is a delivery failure, not a key mismatch
            out.append(_f("dane_no_starttls", mx.host, host=mx.host, address=plain[0].address or "-"))
            continue
        matched = _match_all(mx, usable, row)
        if matched is False:
            out.append(_f("dane_tlsa_mismatch", mx.host, host=mx.host,
                          records=", ".join(r.short() for r in usable)))
        elif matched and len(usable) == 1:
            out.append(_f("dane_rollover", f"_25._tcp.{mx.host}", host=mx.host, record=usable[0].short()))
    return published


def _match_all(mx: MXHost, usable: list[dane.Tlsa], row: dict[str, object]) -> bool | None:
    """True: every reachable address matched; False: one did not; None: none reachable."""
    results = []
    for p in mx.probes:
        if not _connected(p):
            continue
        m = dane.match(usable, p.tls.chain, p.tls.hostname_ok) if p.tls is not None else None
        results.append(m is not None)
        matches: list[dict[str, object]] = row.setdefault("matches", [])  # type: ignore[assignment]
        matches.append({"address": p.address, "match": m.record.short() if m else None,
                        "depth": m.depth if m else None})
    return None if not results else all(results)


def _tlsrpt(facts: DomainFacts, out: list[Finding], sections: dict[str, object], policy_present: bool) -> None:
    d = facts.domain
    records = tlsrpt.tlsrpt_records(_txts(facts.tlsrpt_txt))
    sections["tlsrpt"] = {"txt": records}
    if not records:
        if policy_present:
            out.append(_f("tlsrpt_missing", f"_smtp._tls.{d}", domain=d))
        return
    if len(records) > 1:
        out.append(_f("tlsrpt_syntax", f"_smtp._tls.{d}", problem=f"{len(records)} records (one allowed)"))
        return
    parsed = tlsrpt.parse(records[0])
    if parsed.error:
        out.append(_f("tlsrpt_syntax", f"_smtp._tls.{d}", problem=parsed.error, details=(("TXT", parsed.text),)))
    elif parsed.bad_schemes:
        out.append(_f("tlsrpt_rua_scheme", f"_smtp._tls.{d}", uris=", ".join(parsed.bad_schemes)))


def diagnose(facts: DomainFacts) -> tuple[list[Finding], dict[str, object]]:
    out: list[Finding] = []
    sections: dict[str, object] = {"resolver": facts.resolver, "validating": facts.validating}
    if not facts.validating:
        out.append(_f("resolver_not_validating", facts.resolver, resolver=facts.resolver))
    mx_answer = facts.mx_answer
    domain_state = mx_answer.state if mx_answer else "error"
    sections["dnssec"] = domain_state if facts.validating else "unknown"
    if facts.validating and mx_answer is not None and domain_state == "bogus":
        out.append(_bogus(mx_answer))
    _mx_findings(facts, out)
    sections["mx"] = [{"host": m.host, "preference": m.preference, "addresses": list(m.addresses)} for m in facts.mx]
    mode = _sts(facts, out, sections)
    published = _dane(facts, out, sections) if facts.validating else False
    if facts.validating and domain_state == "insecure" and not published:
        out.append(_f("dnssec_insecure", facts.domain, domain=facts.domain))
    if facts.validating and not published:
        out.append(_f("dane_not_deployed", facts.domain, domain=facts.domain))
    _opportunistic_certs(facts, out, mode)
    _tlsrpt(facts, out, sections, policy_present=mode is not None or published)
    # dedupe (an expired zone makes every lookup bogus with the same reason)
    seen: set[tuple[str, str]] = set()
    unique = []
    for f in out:
        if (f.id, f.subject) not in seen:
            seen.add((f.id, f.subject))
            unique.append(f)
    return unique, sections


def _opportunistic_certs(facts: DomainFacts, out: list[Finding], mode: str | None) -> None:
    """Without an MTA-STS policy a bad MX certificate costs nothing today: senders do not check it."""
    if mode is not None:
        return
    for mx in facts.mx:
        for p in mx.probes:
            if _connected(p) and p.tls is not None and not _pkix_ok(p):
                out.append(_f("mx_cert_invalid", mx.host, host=mx.host, reason=_cert_reason(p)))
                break
