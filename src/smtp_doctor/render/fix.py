"""What ``fix`` (the repair loop) found, as text for a terminal or as the JSON document (schema_version 1)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from ..i18n import has, t
from ..predict import Verdict
from ..repair import Repair
from .check import failure_title, fix_json, print_fix, verdict_line
from .inert import escape, escape_block


def render_repair(out: Console, r: Repair) -> None:
    head = t("check.cli.head", file=r.raw.file, framework=t(f"frameworks.name.{r.raw.framework}"))
    out.print(f"[bold]{escape(head)}[/]", highlight=False)
    first = r.first.prediction
    assert first is not None
    if first.verdict is not Verdict.FAILS and not r.steps:
        out.print("  " + escape(verdict_line(first)), highlight=False)
    for n, step in enumerate(r.steps, start=1):
        if step.convention:
            line = t("fix.cli.convention_step", n=n, text=t(step.convention[0], **step.convention[1]))
            out.print(f"  [yellow]▲[/] {escape(line)}", highlight=False)
        elif step.risk:
            line = t("fix.cli.risk_step", n=n, risk=_risk_text(step.risk))
            out.print(f"  [yellow]▲[/] {escape(line)}", highlight=False)
        else:
            key = "fix.cli.step_unreachable" if step.prediction.verdict is Verdict.UNREACHABLE else "fix.cli.step"
            line = t(key, n=n, failure=failure_title(step.prediction.failure))
            out.print(f"  [red]✖[/] {escape(line)}", highlight=False)
        print_fix(out, step.fix)
    render_corrected(out, r)


def _risk_text(risk: str) -> str:
    return t(f"check.risk.{risk}") if has(f"check.risk.{risk}") else t(f"fix.risk.{risk}")


def render_corrected(out: Console, r: Repair) -> None:
    """Why it stopped, the prediction for the corrected file, and the diff (shared with ``check --fix``)."""
    final = r.final.prediction
    assert final is not None
    if r.stopped:
        out.print("  [yellow]▲[/] " + escape(t(r.stopped)), highlight=False)
    for risk in r.kept_risks:
        out.print("  [yellow]▲[/] " + escape(t("fix.cli.risk_kept", risk=_risk_text(risk))), highlight=False)
    if r.steps and (r.changed or r.env or r.unset) and final.verdict is not Verdict.UNREACHABLE:
        target = f"{r.final.target[0]}:{r.final.target[1]}" if r.final.target else "-"
        trust = any(s.fix.group == "trust_ca" for s in r.steps)  # its line names the CA file that verified the chain
        key = ("fix.cli.after_unset" if r.unset else ("fix.cli.after_env" if trust else "fix.cli.after_env_line")
               if r.env else "fix.cli.after_delivers") if r.delivers else \
            "fix.cli.after_unknown" if final.verdict is Verdict.UNKNOWN else "fix.cli.after_fails"
        style = "green" if r.delivers else "yellow"
        out.print(f"  [{style}]{escape(t(key, target=target, failure=failure_title(final.failure)))}[/]",
                  highlight=False)
    for path in r.deleted:
        out.print("  [yellow]▲[/] " + escape(t("fix.cli.deleted", file=path)), highlight=False)
    if r.diff:
        out.print()
        out.print(escape_block(r.diff), highlight=False, end="")
    elif r.no_diff:
        out.print("  [yellow]▲[/] " + escape(t("fix.cli.no_diff")), highlight=False)


def repair_json(r: Repair) -> dict[str, Any]:
    return {"file": r.raw.file, "framework": r.raw.framework, "patched_file": r.path,
            "before": r.first.prediction.verdict.value if r.first.prediction else None,
            "steps": [{"failure": None if s.risk or s.convention else s.prediction.failure, "risk": s.risk,
                       "convention": t(s.convention[0], **s.convention[1]) if s.convention else None,
                       "fix": fix_json(s.fix)} for s in r.steps],
            "after": r.final.prediction.verdict.value if r.final.prediction else None,
            "after_failure": r.final.prediction.failure if r.final.prediction else None,
            "env": list(r.env), "unset": list(r.unset), "deleted": list(r.deleted),
            "delivers": r.delivers, "risks_kept": r.kept_risks,
            "stopped": t(r.stopped) if r.stopped else None, "diff": r.diff}


def fix_doc(results: list[Repair]) -> dict[str, Any]:
    return {"schema_version": 1, "tool": "smtp-doctor", "command": "fix",
            "configs": [repair_json(r) for r in results]}
