"""``smtp-doctor fix PATH``: the corrected config, in the file's own syntax, checked before it is shown.

``check`` names the first thing that will fail and its fix. A config can be wrong twice (implicit TLS on
587 *and* no CA for a private server), so ``fix`` repeats: apply the fix to the file's text, read the
result with the same reader, check it against the same server, until the prediction is a delivery, the
fix is only words, or a failure comes back (never more than MAX_ROUNDS). What it prints is the whole
change as a unified diff (``--write`` applies it, ``--diff`` prints nothing else) and why each part is there.

Exit codes: 0 the config delivers as it is, or ``--write`` made it deliver; 1 changes are needed (the
diff) or no complete fix is known; 2 bad input; 3 the server cannot be reached.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..errors import ExitCode, UserError
from ..i18n import has, t
from ..plan import framework_facts
from ..predict import Fix, Prediction, Verdict
from ..readers import read_file, read_text
from ..remedy import harden, provider_fixes, risks
from ..render.inert import escape, escape_block
from ..settings import RawConfig
from ..writers.patch import Unpatchable, apply_fix, secret_lines, unified_diff
from .check import (
    Checked,
    _failure_title,
    _fix_json,
    _present,
    _print_fix,
    _verdict_line,
    check,
    config_options,
    load_configs,
)
from .common import console

MAX_ROUNDS = 4


@dataclass
class Step:
    prediction: Prediction
    fix: Fix
    risk: str | None = None  #: a risk of a config that delivers (remedy.py), not a failure
    convention: tuple[str, dict[str, Any]] | None = None  #: a provider's documented convention (catalogue key)


@dataclass
class Repair:
    raw: RawConfig
    first: Checked
    final: Checked
    steps: list[Step] = field(default_factory=list)
    text: str = ""  #: the original file
    fixed: str = ""  #: the file with every step applied
    stopped: str | None = None  #: catalogue key: why it could not go on
    env: tuple[str, ...] = ()  #: the last part of the fix goes into the app's environment (SSL_CERT_FILE=…)
    kept_risks: list[str] = field(default_factory=list)  #: risks no change here removes without breaking it

    @property
    def diff(self) -> str:
        if self.fixed == self.text:
            return ""
        return unified_diff(self.text, self.fixed, self.raw.file, secret_lines(self.text, self.raw))

    @property
    def delivers(self) -> bool:
        """Predicted to deliver: by the file alone, or with the environment lines (a CA file the probe
        verified this server's chain with; fix_for offers none other)."""
        return bool(self.env) or (self.final.prediction is not None
                                  and self.final.prediction.verdict is Verdict.DELIVERED)


def _reread(tmp: Path, raw: RawConfig, text: str, env: dict[str, str] | None) -> RawConfig:
    """The patched text, read by the same reader: under the same file name, so the same syntax applies."""
    path = tmp / Path(raw.file).name
    path.write_text(text, encoding="utf-8")
    for again in read_file(path, framework=raw.framework, env=env):
        if again.framework == raw.framework:  # the user's file name in every location, not the temporary one
            values = {k: replace(v, origin=replace(v.origin, file=raw.file))
                      if v.origin is not None and v.origin.file == again.file else v for k, v in again.values.items()}
            return replace(again, file=raw.file, values=values, framework_version=raw.framework_version)
    raise UserError("fix.error.reread", file=raw.file)


def repair(raw: RawConfig, env: dict[str, str] | None, probe_target: str | None, ca_file: str | None,
           timeout: float) -> Repair:
    """Fix, re-read, re-check until it delivers: the printed change is one the prediction engine has seen
    deliver, not a list of independent suggestions that might contradict each other."""
    text = read_text(Path(raw.file))
    ca_file = os.path.abspath(ca_file) if ca_file else None  # written into the config: relative to nothing
    [first] = check([raw], probe_target, ca_file, timeout)
    result = Repair(raw, first, first, text=text, fixed=text)
    syntax = framework_facts(raw.framework).get("syntax", "dotenv")
    seen: set[str | None] = set()
    current, c = raw, first
    with tempfile.TemporaryDirectory(prefix="smtp-doctor-fix-") as tmp:
        for key, params, pfix in provider_fixes(raw, first.settings, _present(raw)):
            try:  # the provider's documentation, not the probe, says these: they come first
                patched = apply_fix(result.fixed, current, pfix, syntax)
            except Unpatchable as exc:
                result.stopped = str(exc)
                continue
            assert first.prediction is not None
            result.steps.append(Step(first.prediction, pfix, convention=(key, params)))
            result.fixed = patched.text
            current = _reread(Path(tmp), current, result.fixed, env)
        if current is not raw:
            [c] = check([current], probe_target, ca_file, timeout)
            result.final = c
        for _ in range(MAX_ROUNDS):
            pred, fix = c.prediction, c.fix
            if pred is None or pred.verdict is not Verdict.FAILS:
                break
            if fix is not None and fix.env and not (fix.lines or fix.remove):
                result.steps.append(Step(pred, fix))
                result.env = fix.env
                break
            if fix is None or not (fix.lines or fix.remove):
                result.stopped = "fix.stopped.words_only"
                break
            if pred.failure in seen:
                result.stopped = "fix.stopped.repeats"
                break
            if fix.group == "hostname" and c.target and c.target[0] != c.plan.host:
                result.stopped = "fix.stopped.stand_in_name"  # never point the app at the stand-in's name
                break
            seen.add(pred.failure)
            try:
                patched = apply_fix(result.fixed, current, fix, syntax)
            except Unpatchable as exc:
                result.stopped = str(exc)
                result.steps.append(Step(pred, fix))
                break
            result.steps.append(Step(pred, fix))
            result.fixed = patched.text
            current = _reread(Path(tmp), current, result.fixed, env)
            [c] = check([current], probe_target, ca_file, timeout)
            result.final = c
        _harden(result, current, Path(tmp), env, probe_target, ca_file, timeout, syntax)
    return result


def _harden(result: Repair, current: RawConfig, tmp: Path, env: dict[str, str] | None, probe_target: str | None,
            ca_file: str | None, timeout: float, syntax: str) -> None:
    """A config that delivers with verification off or opportunistic STARTTLS: each remedy is applied,
    re-read and re-checked, and kept only when the config still delivers and the risk is gone."""
    c = result.final
    tried: set[str] = set()
    for _ in range(MAX_ROUNDS):
        if c.prediction is None or c.prediction.verdict is not Verdict.DELIVERED or c.facts is None:
            break
        found = risks(c.plan, c.prediction, c.facts)
        todo = [(risk, fix) for risk, fix in harden(c.plan, c.prediction, c.facts, _present(current))
                if risk not in tried]
        result.kept_risks = [r for r in found if r not in {r for r, _ in todo}]
        if not todo:
            break
        risk, fix = todo[0]
        tried.add(risk)
        try:
            patched = apply_fix(result.fixed, current, fix, syntax)
        except Unpatchable:
            continue
        again = _reread(tmp, current, patched.text, env)
        [c2] = check([again], probe_target, ca_file, timeout)
        if (c2.prediction is None or c2.prediction.verdict is not Verdict.DELIVERED or c2.facts is None
                or risk in risks(c2.plan, c2.prediction, c2.facts)):
            continue  # the change would break delivery or not remove the risk: not offered
        result.steps.append(Step(c.prediction, fix, risk))
        result.fixed, current, c = patched.text, again, c2
        result.final = c
    if c.prediction is not None and c.prediction.verdict is Verdict.DELIVERED and c.facts is not None:
        result.kept_risks = list(risks(c.plan, c.prediction, c.facts))


def render_repair(out: Console, r: Repair) -> None:
    head = t("check.cli.head", file=r.raw.file, framework=t(f"frameworks.name.{r.raw.framework}"))
    out.print(f"[bold]{escape(head)}[/]", highlight=False)
    first = r.first.prediction
    assert first is not None
    if first.verdict is Verdict.UNREACHABLE or (first.verdict is not Verdict.FAILS and not r.steps):
        out.print("  " + escape(_verdict_line(first)), highlight=False)
    for n, step in enumerate(r.steps, start=1):
        if step.convention:
            line = t("fix.cli.convention_step", n=n, text=t(step.convention[0], **step.convention[1]))
            out.print(f"  [yellow]▲[/] {escape(line)}", highlight=False)
        elif step.risk:
            line = t("fix.cli.risk_step", n=n, risk=_risk_text(step.risk))
            out.print(f"  [yellow]▲[/] {escape(line)}", highlight=False)
        else:
            line = t("fix.cli.step", n=n, failure=_failure_title(step.prediction.failure))
            out.print(f"  [red]✖[/] {escape(line)}", highlight=False)
        _print_fix(out, step.fix)
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
    if r.steps and r.fixed != r.text and final.verdict is not Verdict.UNREACHABLE:
        target = f"{r.final.target[0]}:{r.final.target[1]}" if r.final.target else "-"
        key = ("fix.cli.after_env" if r.env else "fix.cli.after_delivers") if r.delivers else "fix.cli.after_fails"
        style = "green" if r.delivers else "yellow"
        out.print(f"  [{style}]{escape(t(key, target=target, failure=_failure_title(final.failure)))}[/]",
                  highlight=False)
    if r.diff:
        out.print()
        out.print(escape_block(r.diff), highlight=False, end="")


def repair_json(r: Repair) -> dict[str, Any]:
    return {"file": r.raw.file, "framework": r.raw.framework,
            "before": r.first.prediction.verdict.value if r.first.prediction else None,
            "steps": [{"failure": None if s.risk or s.convention else s.prediction.failure, "risk": s.risk,
                       "convention": t(s.convention[0], **s.convention[1]) if s.convention else None,
                       "fix": _fix_json(s.fix)} for s in r.steps],
            "after": r.final.prediction.verdict.value if r.final.prediction else None,
            "after_failure": r.final.prediction.failure if r.final.prediction else None,
            "env": list(r.env), "delivers": r.delivers, "risks_kept": r.kept_risks,
            "stopped": t(r.stopped) if r.stopped else None, "diff": r.diff}


def _json(results: list[Repair]) -> dict[str, Any]:
    return {"schema_version": 1, "tool": "smtp-doctor", "command": "fix",
            "configs": [repair_json(r) for r in results]}


def exit_code(results: list[Repair], written: bool) -> ExitCode:
    if any(r.first.prediction and r.first.prediction.verdict is Verdict.UNREACHABLE for r in results):
        return ExitCode.UNREACHABLE
    if all(r.first.prediction and r.first.prediction.verdict is Verdict.DELIVERED and not r.steps
           for r in results):
        return ExitCode.OK
    if written and all(r.delivers for r in results):
        return ExitCode.OK
    return ExitCode.PROBLEMS


@click.command("fix")
@config_options
@click.option("--write", is_flag=True, help="Apply the change to the file (after checking it delivers).")
@click.option("--framework-version", default=None, metavar="VERSION",
              help="Version that decides behaviour (mail gem for ActionMailer, Django …); default: newest.")
@click.option("--diff", "diff_only", is_flag=True,
              help="Print only the unified diff (for `| patch -p1`), nothing else.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(path: Path, env_file: Path | None, framework: str | None, probe_target: str | None,
            ca_file: str | None, timeout: float, write: bool, framework_version: str | None, diff_only: bool,
            as_json: bool) -> None:
    """Print the corrected config in the file's own syntax (a diff), checked against the live server."""
    configs, env = load_configs(path, env_file, framework, probe_target, ca_file)
    if framework_version:
        configs = [replace(c, framework_version=framework_version) for c in configs]
    results = [repair(raw, env, probe_target, ca_file, timeout) for raw in configs]
    written = False
    if write:
        for r in results:
            if r.delivers and r.fixed != r.text:
                Path(r.raw.file).write_text(r.fixed, encoding="utf-8")
                written = True
    if as_json:
        click.echo(json.dumps(_json(results), indent=2, ensure_ascii=False))
    elif diff_only:
        click.echo("".join(r.diff for r in results), nl=False)
    else:
        out = console()
        for r in results:
            render_repair(out, r)
            if write and r.delivers and r.fixed != r.text:
                out.print("[green]" + escape(t("fix.cli.written", file=r.raw.file)) + "[/]", highlight=False)
    raise SystemExit(int(exit_code(results, written)))
