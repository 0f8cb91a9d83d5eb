"""Terminal rendering with rich: one screen per host, worst news first within each port."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text

from ..findings import Finding, Severity
from ..i18n import t
from ..smtp.dialogue import Direction, TranscriptLine
from .inert import escape, inert

if TYPE_CHECKING:  # types only: lint/check/explain render with ICON without loading the probe stack
    from rich.console import Console

    from ..diagnose.host import HostReport
    from ..diagnose.port import PortDiagnosis

ICON = {Severity.OK: ("✔", "green"), Severity.INFO: ("ℹ", "cyan"), Severity.WARNING: ("▲", "yellow"),
        Severity.ERROR: ("✖", "red"), Severity.CRITICAL: ("✖", "bold red")}


def badge(sev: Severity) -> Text:
    icon, style = ICON[sev]
    return Text(f"{icon} {t(f'label.{sev}')}", style=style)


def finding_block(console: Console, f: Finding, indent: str = "  ", details: bool = False) -> None:
    """Verdict, why, fix — internet.nl's shape — for one finding."""
    icon, style = ICON[f.severity]
    console.print(f"{indent}[{style}]{icon}[/] {escape(f.verdict())}", highlight=False)
    if f.severity is not Severity.OK and (why := f.explanation()):  # an OK needs no justification
        console.print(f"{indent}   [dim]{escape(why)}[/]", highlight=False)
    if (fix := f.fix()):  # what to change is shown whatever the severity
        console.print(f"{indent}   [bold]→[/] {escape(fix)}", highlight=False)
    if details and f.details:
        for name, value in f.details:
            console.print(f"{indent}   [dim]{escape(name)}: {escape(value)}[/]", highlight=False)


def _summary_lines(console: Console, d: PortDiagnosis) -> None:
    f = d.facts
    dim = "  [dim]{}:[/] {}"
    if f.greeting is not None:
        console.print(dim.format(t("label.banner"), escape(f.greeting.wire()[0][:120])), highlight=False)
    if f.ehlo_plain is not None:
        console.print(dim.format(t("label.ehlo_plain"), escape(_caps(f.ehlo_plain.keywords))), highlight=False)
    if f.ehlo_tls is not None:
        console.print(dim.format(t("label.ehlo_tls"), escape(_caps(f.ehlo_tls.keywords))), highlight=False)
    if f.tls is not None and f.tls.certs:
        leaf = f.tls.certs[0]
        names = ", ".join(leaf.san_dns + leaf.san_ip) or (leaf.common_name or "-")
        console.print(dim.format(t("label.certificate"), escape(f"{names} · {leaf.issuer} · "
                                                             f"{leaf.not_after[:10]} · {leaf.key}")),
                      highlight=False)
        ok = [v.source for v in f.tls.verifications if v.ok]
        trust = ", ".join(ok) if ok else t("label.trust_none")
        console.print(dim.format(t("label.trust"), escape(trust)), highlight=False)
    if f.detect_seconds is not None and f.outcome == "connected":
        console.print(f"  [dim]{t('label.detected_in', seconds=f'{f.detect_seconds:.3f}')}[/]", highlight=False)


def _caps(keywords: dict[str, str]) -> str:
    return " ".join(f"{k} {v}".strip() for k, v in keywords.items()) or "-"


def render_port(console: Console, d: PortDiagnosis, transcript: bool = False, details: bool = False) -> None:
    f = d.facts
    mode = t(f"modename.{f.mode}")
    head = Text.assemble((inert(d.subject), "bold"), "  ", (mode, "bold cyan"), "  ", badge(d.severity))
    if f.address and f.address != f.host:
        head.append(f"  ({inert(f.address)})", style="dim")
    console.print(head)
    _summary_lines(console, d)
    for finding in sorted(d.findings, key=lambda x: -x.severity.rank):
        finding_block(console, finding, details=details)
    if d.commands:
        console.print(f"  [dim]{t('label.reproduce')}:[/]", highlight=False)
        for cmd in d.commands:
            console.print(f"    [dim]$ {escape(cmd)}[/]", highlight=False)
    if transcript and f.transcript:
        console.print(f"  [dim]{t('label.transcript')}:[/]", highlight=False)
        render_transcript(console, f.transcript)
        for attempt in f.auth_attempts:
            if attempt.transcript:
                console.print(f"  [dim]{t('label.transcript')} (AUTH {escape(attempt.mechanism)}):[/]", highlight=False)
                render_transcript(console, attempt.transcript)
    console.print()


def render_transcript(console: Console, lines: Iterable[TranscriptLine]) -> None:
    arrows = {Direction.CLIENT: "C:", Direction.SERVER: "S:", Direction.NOTE: "* "}
    for line in lines:
        style = {"C": "cyan", "S": "green", "*": "dim"}[line.direction.value]
        console.print(f"    [dim]{line.elapsed:7.3f}[/] [{style}]{arrows[line.direction]} "
                      f"{escape(line.text[:300])}[/]", highlight=False)


def render_host(console: Console, report: HostReport, transcript: bool = False, details: bool = False) -> None:
    for finding in report.findings:
        finding_block(console, finding, indent="", details=details)
    if report.findings:
        console.print()
    for d in report.ports:
        render_port(console, d, transcript, details)
    rec = report.recommendation
    icon, style = ICON[rec.severity]
    console.print(f"[bold]{t('label.configure')}:[/] [{style}]{icon}[/] [bold]{escape(rec.verdict())}[/]",
                  highlight=False)
    if (why := rec.explanation()):
        console.print(f"  [dim]{escape(why)}[/]", highlight=False)
