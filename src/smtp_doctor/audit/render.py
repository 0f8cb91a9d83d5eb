"""The audit's text report: per port, worst first, each finding with the server-side fixes and sources."""

from __future__ import annotations

from rich.console import Console

from ..findings import Finding
from ..i18n import t
from ..lab.attack import UNSAFE, AttackReport
from ..render.inert import escape
from ..render.text import ICON
from . import AuditResult, PortAudit

SERVER_NAMES = {"fix.postfix": "Postfix", "fix.exim": "Exim", "fix.dovecot": "Dovecot"}


def _finding(console: Console, f: Finding) -> None:
    icon, style = ICON[f.severity]
    console.print(f"  [{style}]{icon}[/] {escape(f.verdict())}", highlight=False)
    if (why := f.explanation()) and f.severity.rank > 0:
        console.print(f"     [dim]{escape(why)}[/]", highlight=False)
    if (fix := f.fix()) and f.severity.rank > 1:
        console.print(f"     [bold]→[/] {escape(fix)}", highlight=False)
    for name, value in f.details:
        if name in SERVER_NAMES and f.severity.rank > 1:
            console.print(f"       {t('audit.fix_for', server=SERVER_NAMES[name])} {escape(value)}", highlight=False)
        elif name == "source" and f.severity.rank > 1:
            console.print(f"       [dim]{t('audit.source')} {escape(value)}[/]", highlight=False)
        elif not name.startswith(("fix.", "source")):
            console.print(f"       [dim]{escape(name)}: {escape(value)}[/]", highlight=False)


def _port(console: Console, p: PortAudit) -> None:
    f = p.facts
    if f.outcome != "connected" or f.address is None:
        console.print(t("audit.unreachable", port=p.port, detail=escape(f.outcome_detail or f.outcome)))
        return
    head = t("audit.port", port=p.port, role=t(f"audit.role.{p.role}"), mode=f.mode, seconds=p.seconds)
    console.print(f"[bold]{head}[/]")
    for finding in sorted(p.findings, key=lambda x: -x.severity.rank):
        _finding(console, finding)
    untested = sorted({s.category for s in p.suites if s.accepted is None and "OpenSSL" in s.detail})
    if untested:
        console.print(f"  [dim]{t('audit.untested', classes=', '.join(untested))}[/]")


def render_text(result: AuditResult, console: Console) -> None:
    console.print(f"[bold]{t('audit.title', host=escape(result.host))}[/]")
    if result.error:
        console.print(t("audit.resolve_failed", host=escape(result.host), detail=escape(result.error)))
        return
    for p in result.ports:
        _port(console, p)
    console.print(t("audit.summary", count=len(result.findings), worst=t(f"label.{result.worst}")))


def render_client(report: AttackReport, console: Console) -> None:
    """One line per connection the attacker lab saw: the scenario and what the client did."""
    if not report.captures:
        console.print(t("audit.client.none"))
    for cap in report.captures:
        verdict = cap.verdict()
        style = "bold red" if verdict in UNSAFE else "green"
        row = t("audit.client.row", scenario=t(f"audit.client.scenario.{cap.scenario}"),
                verdict=t(f"audit.client.verdict.{verdict}"))
        console.print(f"  [{style}]{row}[/] [dim](:{cap.port})[/]")
