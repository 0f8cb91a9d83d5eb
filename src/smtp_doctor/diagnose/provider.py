"""Provider-aware findings: expected vs observed, login conventions, what a reply means there."""

from __future__ import annotations

from ..facts import HostFacts, Mode, Outcome
from ..findings import Finding, Severity
from ..i18n import Localized, Term
from ..providers import clouds_blocking, identify, reply_meaning, username_mismatch
from .port import PortDiagnosis

_OBSERVED = {Mode.IMPLICIT_TLS: "implicit", Mode.STARTTLS: "starttls"}


def _expected(ports: dict[int, str]) -> str:
    return ", ".join(f"{p} {m}" for p, m in sorted(ports.items()))


def provider_findings(facts: HostFacts, ports: list[PortDiagnosis]) -> list[Finding]:
    """Add per-port provider findings to ``ports``; return the host-level ones."""
    host_level: list[Finding] = []
    seen: set[str] = set()
    for d in ports:
        f = d.facts
        if f.outcome is Outcome.TIMEOUT and (clouds := clouds_blocking(f.port)):
            d.findings.append(Finding("conn.cloud_block", Severity.INFO, {
                "port": f.port, "clouds": "; ".join(f"{c.name}: {c.note['en']}" for c in clouds)},
                tuple((c.name, c.source) for c in clouds), d.subject))
        provider = identify(facts.host, f.port)
        if provider is None:
            continue
        params = {"host": facts.host, "name": provider.name, "expected": _expected(provider.ports)}
        if provider.id not in seen:
            seen.add(provider.id)
            host_level.append(Finding("provider.identified", Severity.INFO,
                                      {**params, "note": Localized(provider.note)},
                                      (("source", provider.source), ("confidence", provider.confidence)), facts.host))
            if facts.username and username_mismatch(provider, facts.username) and provider.username_hint:
                host_level.append(Finding("provider.username", Severity.WARNING, {
                    **params, "user": facts.username, "hint": Localized(provider.username_hint)},
                    subject=facts.host))
        expected = provider.mode_for(f.port)
        observed = _OBSERVED.get(f.mode)
        if expected is None and f.outcome is Outcome.CONNECTED:
            d.findings.append(Finding("provider.port_unlisted", Severity.INFO, {**params, "port": f.port},
                                      subject=d.subject))
        elif expected and observed and expected != observed:
            d.findings.append(Finding("provider.mode_mismatch", Severity.WARNING, {
                **params, "port": f.port, "observed": Term(f"provider.mode.{observed}"),
                "expected": Term(f"provider.mode.{expected}")}, subject=d.subject))
        for attempt in f.auth_attempts:
            text = " ".join(attempt.reply.wire()) if attempt.reply else ""
            if text and (meaning := reply_meaning(provider, text)):
                d.findings.append(Finding("provider.reply", Severity.INFO, {
                    "name": provider.name, "meaning": Localized(meaning)}, (("reply", text[:200]),), d.subject))
    return host_level
