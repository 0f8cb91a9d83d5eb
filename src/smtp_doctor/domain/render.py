"""The domain report as text (summary per mechanism, then findings worst first) and as JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from ..facts import Mode, Outcome
from ..findings import Severity
from ..i18n import t
from ..render.inert import escape, json_inert
from ..render.text import badge, finding_block
from .model import DomainReport

SCHEMA = "https://smtp-doctor.invalid/schema/domain/1"


def to_json(report: DomainReport, lang: str | None = None) -> str:
    f = report.facts
    mx = []
    for m in f.mx:
        probes = [{"address": p.address, "outcome": str(p.outcome), "mode": str(p.mode),
                   "tls": p.tls.version if p.tls else None, "hostname_ok": p.tls.hostname_ok if p.tls else None,
                   "trusted": any(v.ok for v in p.tls.verifications) if p.tls else None,
                   "certificate_names": list(p.tls.certs[0].san_dns) if p.tls and p.tls.certs else []}
                  for p in m.probes]
        mx.append({"host": m.host, "preference": m.preference, "addresses": list(m.addresses), "probes": probes})
    doc: dict[str, Any] = {
        "schema": SCHEMA, "domain": f.domain, "severity": str(report.severity),
        "resolver": f.resolver, "resolver_validates": f.validating, "dnssec": report.sections.get("dnssec"),
        "implicit_mx": f.implicit_mx, "null_mx": f.null_mx, "mx": mx,
        "mta_sts": report.sections.get("mta_sts"), "dane": report.sections.get("dane"),
        "tlsrpt": report.sections.get("tlsrpt"),
        "findings": [x.to_dict(lang) for x in sorted(report.findings, key=lambda x: -x.severity.rank)],
    }
    return json_inert(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


def _probe_word(p: Any) -> str:
    if p.outcome is not Outcome.CONNECTED or p.mode in (Mode.UNKNOWN, Mode.SILENT, Mode.CLOSED):
        return t("domain.label.unreachable")
    if p.mode is not Mode.STARTTLS or p.tls is None:
        return t("domain.label.no_starttls")
    good = bool(p.tls.hostname_ok) and any(v.ok for v in p.tls.verifications)
    return t("domain.label.starttls_ok") + f" ({p.tls.version})" if good else t("domain.label.starttls_bad")


def render_text(out: Console, report: DomainReport, details: bool = False) -> None:
    f, s = report.facts, report.sections
    out.print(f"[bold]{escape(t('domain.label.title', domain=f.domain))}[/]")
    validates = t("domain.label.validates") if f.validating else t("domain.label.does_not_validate")
    out.print(f"  [dim]{t('domain.label.resolver')}:[/] {escape(f.resolver)} · {validates}")
    out.print(f"  [dim]{t('domain.label.dnssec')}:[/] {escape(s.get('dnssec'))}")
    for m in f.mx:
        out.print(f"  [dim]{t('domain.label.mx')} {m.preference}:[/] {escape(m.host)}")
        if not m.addresses:
            out.print(f"      {t('domain.label.no_address')}")
        for p in m.probes:
            out.print(f"      {escape(p.address)}: {escape(_probe_word(p))}")
    sts = s.get("mta_sts") if isinstance(s.get("mta_sts"), dict) else {}
    assert isinstance(sts, dict)
    mode = sts.get("mode") or (t("domain.label.no_policy") if sts.get("txt") else t("domain.label.none"))
    out.print(f"  [dim]{t('domain.label.mta_sts')}:[/] {escape(mode)}"
              + (f" · id={escape(sts['id'])}" if sts.get("id") else ""))
    rows = s.get("dane") if isinstance(s.get("dane"), list) else []
    assert isinstance(rows, list)
    for row in rows:
        if row.get("tlsa"):
            out.print(f"  [dim]{t('domain.label.dane')} {escape(row['host'])}:[/] {escape(row['state'])} · "
                      + escape("; ".join(str(x) for x in row["tlsa"])[:160]))
    rpt = s.get("tlsrpt") if isinstance(s.get("tlsrpt"), dict) else {}
    assert isinstance(rpt, dict)
    out.print(f"  [dim]{t('domain.label.tlsrpt')}:[/] " + escape("; ".join(rpt.get("txt") or [])
                                                                  or t("domain.label.none")))
    out.print()
    findings = sorted(report.findings, key=lambda x: -x.severity.rank)
    if not any(x.severity.rank > Severity.OK.rank for x in findings):
        out.print(f"[green]✔[/] {escape(t('domain.label.all_good', domain=f.domain))}")
    else:
        out.print(f"[bold]{t('domain.label.findings')}[/]")
        for x in findings:
            finding_block(out, x, details=details)
    out.print()
    out.print(badge(report.severity))
