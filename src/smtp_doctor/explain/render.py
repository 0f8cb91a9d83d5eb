"""Explanations and log scans as rich text, JSON-ready dicts and Markdown, in internet.nl's order:
verdict, why, technical details, fix, how to confirm live. All sentences come from the catalogue;
every piece of the user's input echoed back goes through ``redact``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..i18n import has, t
from ..render.inert import escape, md_code, md_inline
from .engine import Explanation, Match
from .knowledge import FRAMEWORKS
from .live import ProbeCheck
from .redact import redact

if TYPE_CHECKING:  # types only: explaining one text does not load the log scanner (issue 16)
    from .scan import Group, ScanResult

MAX_FIX_FRAMEWORKS = 3


def _p(**extra: Any) -> dict[str, Any]:
    """Templates are always formatted (so doubled braces in config snippets come out single)."""
    return {"_": "", **extra}


def level(m: Match) -> str:
    return t(f"explain.level.{m.level}", confidence=m.confidence)


def mode_text(mode_id: str, part: str) -> str:
    return t(f"explain.mode.{mode_id}.{part}", **_p())


def fixes(m: Match, frameworks: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """The generic fix and up to three framework-specific ones (those the catalogue has)."""
    group = m.mode.fix
    generic = t(f"explain.fix.{group}.generic", **_p())
    specific = [(fw, t(f"explain.fix.{group}.{fw}", **_p())) for fw in frameworks
                if has(f"explain.fix.{group}.{fw}")][:MAX_FIX_FRAMEWORKS]
    return generic, specific


def has_framework_fixes(m: Match) -> bool:
    return any(has(f"explain.fix.{m.mode.fix}.{fw}") for fw in FRAMEWORKS)


def next_command(m: Match, host: str | None, port: int | None) -> str | None:
    if m.mode.next != "probe":
        return None
    if host and port:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    elif host:
        target = host
    else:
        target = f"HOST:{port}" if port else "HOST:PORT"
    return t("explain.text.next_probe", target=target)


_REPRODUCED = re.compile(r"(?<![\w/#.-])R\b(?![\w/#.-])")


def source_text(source: str) -> str:
    """errors.toml writes "R" for "reproduced against a loopback server": spell that out for people."""
    return _REPRODUCED.sub(t("explain.label.reproduced"), source)


def _frameworks(exp: Explanation, framework: str | None) -> list[str]:
    return [framework] if framework else exp.fields.frameworks


# ---------------------------------------------------------------------------------------------- dicts

def match_dict(m: Match, exp: Explanation, framework: str | None, lang: str | None = None) -> dict[str, Any]:
    generic, specific = fixes(m, _frameworks(exp, framework))
    return {
        "id": m.mode.id,
        "category": m.mode.category,
        "confidence": m.confidence,
        "level": m.level,
        "alternative": m.alternative,
        "verdict": mode_text(m.mode.id, "verdict"),
        "explanation": mode_text(m.mode.id, "explanation"),
        "check": mode_text(m.mode.id, "check"),
        "evidence": [{"text": redact(e.text), "span": list(e.span), "pattern": e.pattern, "client": e.client,
                      "library": e.lib or None, "openssl": e.openssl or None, "source": e.source}
                     for e in m.evidence],
        "fix": {"generic": generic, "frameworks": dict(specific)},
        "next": next_command(m, exp.fields.host, exp.fields.port),
    }


def explanation_dict(exp: Explanation, framework: str | None = None, probe: ProbeCheck | None = None
                     ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "recognised": exp.recognised,
        "best": exp.best.mode.id if exp.best else None,
        "message": None if exp.recognised else t("explain.text.not_recognised" if not exp.matches
                                                  else "explain.text.not_recognised_weak"),
        "fields": exp.fields.to_dict(),
        "matches": [match_dict(m, exp, framework) for m in exp.matches],
        # "failure", "unsafe_success" (it worked, unsafely: a security warning), "succeeded", "unrecognised"
        "outcome": outcome(exp),
        "security_warning": exp.best is not None and exp.best.mode.category == "unsafe",
        "client_setting": exp.reading.tls_setting,
    }
    if exp.succeeded:
        out["message"] = t("explain.outcome.succeeded")
    if probe is not None:
        out["probe"] = probe.to_dict()
    return out


def outcome(exp: Explanation) -> str:
    if exp.best is not None:
        return "unsafe_success" if exp.best.mode.category == "unsafe" else "failure"
    return "succeeded" if exp.succeeded else "unrecognised"


def group_dict(g: Group) -> dict[str, Any]:
    return {"mode": g.mode, "verdict": mode_text(g.mode, "verdict"), "confidence": g.confidence,
            "host": g.host, "port": g.port, "count": g.count, "first_seen": g.first_ts, "last_seen": g.last_ts,
            "first_line": g.first_where, "last_line": g.last_where, "sample": redact(g.sample),
            "fix": t(f"explain.fix.{g.explanation.best.mode.fix}.generic", **_p())
            if g.explanation and g.explanation.best else None}


def scan_dict(r: ScanResult) -> dict[str, Any]:
    return {"files": r.files, "lines": r.lines, "bytes": r.bytes, "failures": r.failures,
            "groups": [group_dict(g) for g in r.groups], "groups_truncated": r.groups_truncated,
            "unclassified": {"count": r.unclassified, "samples": [redact(s) for s in r.unclassified_samples]}}


# ----------------------------------------------------------------------------------------------- text

def _print(console: Console, text: str, style: str = "") -> None:
    console.print(f"[{style}]{escape(text)}[/]" if style else escape(text), highlight=False)


def _heading(console: Console, key: str) -> None:
    console.print(f"\n[bold]{escape(t(key))}[/]", highlight=False)


def render_text(console: Console, exp: Explanation, framework: str | None = None,
                probe: ProbeCheck | None = None) -> None:
    best = exp.best
    if best is None and exp.succeeded:
        _heading(console, "explain.heading.verdict")
        console.print(f"[bold green]✔[/] {escape(t('explain.outcome.succeeded'))}", highlight=False)
        return
    if best is None:
        _render_unrecognised(console, exp)
        return
    _heading(console, "explain.heading.verdict")
    mark = f"[bold yellow]⚠ {escape(t('explain.outcome.warning'))}:[/]" if best.mode.category == "unsafe" \
        else "[bold red]✖[/]"
    console.print(f"{mark} [bold]{escape(mode_text(best.mode.id, 'verdict'))}[/]  "
                  f"[dim]— {escape(level(best))}[/]", highlight=False)
    _heading(console, "explain.heading.explanation")
    _print(console, mode_text(best.mode.id, "explanation"))
    _print(console, "→ " + mode_text(best.mode.id, "check"), "dim")
    _heading(console, "explain.heading.details")
    _details(console, exp, best)
    _heading(console, "explain.heading.fix")
    _render_fix(console, exp, best, framework)
    _heading(console, "explain.heading.next")
    cmd = next_command(best, exp.fields.host, exp.fields.port)
    if cmd:
        _print(console, "$ " + cmd, "cyan")
        if not exp.fields.host:
            _print(console, t("explain.text.next_probe_hint"), "dim")
    else:
        _print(console, t("explain.text.next_none"), "dim")
    others = [m for m in exp.matches[1:]]
    if others:
        _heading(console, "explain.heading.alternatives")
        for m in others:
            _print(console, "• " + t("explain.text.alternative_line", verdict=mode_text(m.mode.id, "verdict"),
                                     level=level(m)))
    if probe is not None:
        _heading(console, "explain.heading.probe")
        _print(console, probe.sentence(), "green" if probe.status == "confirmed" else "yellow")


def _details(console: Console, exp: Explanation, best: Match) -> None:
    for ev in best.evidence:
        console.print(f"  [dim]{escape(t('explain.label.evidence'))}:[/] [yellow]{escape(redact(ev.text))}[/]",
                      highlight=False)
        console.print(f"  [dim]{escape(t('explain.label.pattern'))}: {escape(ev.pattern)} · "
                      f"{escape(t('explain.label.seen_in'))}: {escape(source_text(ev.source))}[/]", highlight=False)
        if ev.lib:
            console.print(f"  [dim]{escape(t('explain.label.library'))}: {escape(ev.lib)}[/]", highlight=False)
    for name, value in exp.fields.as_pairs():
        console.print(f"  [dim]{escape(t(f'explain.label.{name}'))}:[/] {escape(value)}", highlight=False)


def _render_fix(console: Console, exp: Explanation, best: Match, framework: str | None) -> None:
    generic, specific = fixes(best, _frameworks(exp, framework))
    _print(console, generic)
    for fw, text in specific:
        console.print(f"  [bold]{escape(t('explain.text.fix_for', framework=t(f'explain.framework.{fw}')))}[/] "
                      f"{escape(text)}", highlight=False)
    if not specific and has_framework_fixes(best):
        _print(console, t("explain.text.fix_choose", names=", ".join(FRAMEWORKS)), "dim")


def _render_unrecognised(console: Console, exp: Explanation) -> None:
    _heading(console, "explain.heading.verdict")
    if not exp.matches:
        console.print(f"[yellow]?[/] {escape(t('explain.text.not_recognised'))}", highlight=False)
        if not exp.near_misses:
            _print(console, t("explain.text.not_smtp"), "dim")
        return
    console.print(f"[yellow]?[/] {escape(t('explain.text.not_recognised_weak'))}", highlight=False)
    _heading(console, "explain.heading.candidates")
    for m in exp.matches:
        _print(console, "• " + t("explain.text.alternative_line", verdict=mode_text(m.mode.id, "verdict"),
                                 level=level(m)))
        for ev in m.evidence[:1]:
            console.print(f"    [dim]{escape(t('explain.label.evidence'))}: {escape(redact(ev.text))}[/]",
                          highlight=False)
    if exp.fields.as_pairs():
        _heading(console, "explain.heading.details")
        for name, value in exp.fields.as_pairs():
            console.print(f"  [dim]{escape(t(f'explain.label.{name}'))}:[/] {escape(value)}", highlight=False)


def render_scan_text(console: Console, r: ScanResult, limit: int = 20) -> None:
    _print(console, t("explain.log.summary", lines=r.lines, files=len(r.files), failures=r.failures,
                      groups=len(r.groups)), "bold")
    if not r.groups:
        _print(console, t("explain.log.nothing"))
    for g in r.groups[:limit]:
        title = t("explain.log.group_title", count=g.count, verdict=mode_text(g.mode, "verdict"))
        console.print(f"\n[bold red]✖[/] [bold]{escape(title)}[/]", highlight=False)
        where = f"{g.host}:{g.port}" if g.host and g.port else g.host or (f"port {g.port}" if g.port else "")
        if where:
            console.print(f"  [dim]{escape(t('explain.label.host'))}:[/] {escape(where)}", highlight=False)
        if g.first_ts:
            console.print(f"  [dim]{escape(t('explain.label.first'))}:[/] {escape(g.first_ts)}  "
                          f"[dim]{escape(t('explain.label.last'))}:[/] {escape(g.last_ts or '')}", highlight=False)
        else:
            _print(console, "  " + t("explain.log.no_timestamps"), "dim")
        console.print(f"  [dim]{escape(t('explain.label.where'))}:[/] {escape(g.first_where)} … "
                      f"{escape(g.last_where)}", highlight=False)
        console.print(f"  [dim]{escape(t('explain.label.sample'))}:[/] {escape(redact(g.sample)[:240])}",
                      highlight=False)
        if g.explanation and g.explanation.best:
            generic, specific = fixes(g.explanation.best, g.explanation.fields.frameworks)
            console.print(f"  [bold]→[/] {escape(generic)}", highlight=False)
            for fw, text in specific[:1]:
                console.print(f"    [bold]{escape(t('explain.text.fix_for', framework=t(f'explain.framework.{fw}')))}"
                              f"[/] {escape(text)}", highlight=False)
    if r.unclassified:
        console.print("")
        _print(console, t("explain.log.unclassified", count=r.unclassified), "dim")
        for s in r.unclassified_samples:
            _print(console, "  " + redact(s)[:200], "dim")


# ------------------------------------------------------------------------------------------- markdown

def _md(text: str) -> str:
    return md_inline(text)  # outside text (hosts, timestamps from logs) made inert, '|' escaped


def render_markdown(exp: Explanation, framework: str | None = None, probe: ProbeCheck | None = None) -> str:
    best = exp.best
    lines: list[str] = []
    if best is None and exp.succeeded:
        return f"**{t('explain.heading.verdict')}:** {t('explain.outcome.succeeded')}\n"
    if best is None:
        lines.append(f"**{t('explain.heading.verdict')}:** "
                     f"{t('explain.text.not_recognised' if not exp.matches else 'explain.text.not_recognised_weak')}")
        if exp.matches:
            lines += ["", f"**{t('explain.heading.candidates')}:**", ""]
            lines += [f"- {mode_text(m.mode.id, 'verdict')} ({level(m)})" for m in exp.matches]
        return "\n".join(lines) + "\n"
    if best.mode.category == "unsafe":
        lines += [f"> ⚠ **{t('explain.outcome.warning')}**", ""]
    lines += [f"### {mode_text(best.mode.id, 'verdict')}", "", f"*{level(best)}*", "",
              f"**{t('explain.heading.explanation')}:** {mode_text(best.mode.id, 'explanation')}", "",
              f"**{t('explain.heading.check')}:** {mode_text(best.mode.id, 'check')}", "",
              f"**{t('explain.heading.details')}:**", ""]
    for ev in best.evidence:
        lines.append(f"- {t('explain.label.evidence')}: {md_code(ev.text)} ({source_text(ev.source)})")
    for name, value in exp.fields.as_pairs():
        lines.append(f"- {t(f'explain.label.{name}')}: {md_code(value)}")
    generic, specific = fixes(best, _frameworks(exp, framework))
    lines += ["", f"**{t('explain.heading.fix')}:** {generic}", ""]
    for fw, text in specific:
        lines.append(f"- **{t(f'explain.framework.{fw}')}:** {text}")
    cmd = next_command(best, exp.fields.host, exp.fields.port)
    if cmd:
        lines += ["", f"**{t('explain.heading.next')}:**", "", "```", cmd, "```"]
    alts = exp.matches[1:]
    if alts:
        lines += ["", f"**{t('explain.heading.alternatives')}:**", ""]
        lines += [f"- {mode_text(m.mode.id, 'verdict')} ({level(m)})" for m in alts]
    if probe is not None:
        lines += ["", f"**{t('explain.heading.probe')}:** {md_inline(probe.sentence())}"]
    return "\n".join(lines) + "\n"


def render_scan_markdown(r: ScanResult) -> str:
    lines = [t("explain.log.summary", lines=r.lines, files=len(r.files), failures=r.failures, groups=len(r.groups)),
             ""]
    if not r.groups:
        return "\n".join(lines + [t("explain.log.nothing")]) + "\n"
    lines += [f"| {t('explain.label.count')} | {t('explain.heading.verdict')} | {t('explain.label.host')} | "
              f"{t('explain.label.first')} | {t('explain.label.last')} |", "|---:|---|---|---|---|"]
    for g in r.groups:
        where = f"{g.host or ''}{':' + str(g.port) if g.port else ''}"
        lines.append(f"| {g.count} | {_md(mode_text(g.mode, 'verdict'))} | {_md(where)} | {_md(g.first_ts or '')} | "
                     f"{_md(g.last_ts or '')} |")
    return "\n".join(lines) + "\n"
