"""``smtp-doctor check PATH [--env FILE] [--framework X] [--probe-host HOST[:PORT]] [--ca-file FILE] [--json]``

Lint the app's mail settings, probe the server they point at, and say what the app will do there:
deliver, or fail with which error text, why, and what to change. Exit 0 = it will deliver, 1 = it will
fail (or cannot be told), 2 = bad input, 3 = the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..errors import ExitCode, UserError
from ..facts import PortFacts
from ..findings import Finding, Severity
from ..frameworks import model, to_settings
from ..i18n import Term, current_language, has, t
from ..lint import lint
from ..plan import ConnectionPlan, plan
from ..predict import Fix, Prediction, Verdict, fix_for, predict
from ..probe import ProbeOptions, probe_host
from ..render.inert import escape, json_inert
from ..render.text import ICON
from ..secrets import redact_json
from ..settings import RawConfig, Settings
from .common import console, parse_target
from .lint import _collect, settings_json
from .params import NonEmptyPath

JSON_SCHEMA_VERSION = 1
STYLE = {Verdict.DELIVERED: Severity.OK, Verdict.FAILS: Severity.ERROR, Verdict.UNREACHABLE: Severity.CRITICAL,
         Verdict.UNKNOWN: Severity.WARNING}


@dataclass
class Checked:
    raw: RawConfig
    settings: Settings
    plan: ConnectionPlan
    findings: list[Finding]
    target: tuple[str, int] | None = None  #: what was probed (None: not probed)
    facts: PortFacts | None = None
    prediction: Prediction | None = None
    fix: Fix | None = None


def _app_ca(p: ConnectionPlan, ca_file: str | None) -> str | None:
    """The CA file the app verifies with, readable here; --ca-file stands in when the app's is not."""
    own = p.ca_file or p.ca_path
    if own and os.path.exists(own):
        return own
    return ca_file if (own or p.ca_unknown) and ca_file else None


def _with_candidate(facts: PortFacts, ca_file: str | None) -> PortFacts:
    """Add the --ca-file verification as the "candidate" store: the fix may suggest it, the outcome ignores it."""
    from ..x509.verify import user_source, verify_chain

    if not ca_file or facts.tls is None or not facts.tls.chain:
        return facts
    v = replace(verify_chain(facts.tls.chain, user_source(ca_file)), source="candidate")
    return replace(facts, tls=replace(facts.tls, verifications=facts.tls.verifications + (v,)))


async def _probe_all(jobs: dict[tuple[str, int, str | None, str | None], None], timeout: float
                     ) -> dict[tuple[str, int, str | None, str | None], PortFacts]:
    async def one(host: str, port: int, ca: str | None, servername: str | None) -> PortFacts:
        opts = ProbeOptions(timeout=timeout, ca_file=ca, servername=servername,
                            greeting_timeout=min(20.0, timeout), connect_timeout=min(5.0, timeout))
        return (await probe_host(host, [port], opts)).ports[0]

    keys = list(jobs)
    results = await asyncio.gather(*(one(*k) for k in keys))
    return dict(zip(keys, results, strict=True))


def _present(raw: RawConfig) -> dict[str, str]:
    return {k: str(v.origin) if v.origin else raw.file for k, v in raw.values.items()}


def check(configs: list[RawConfig], probe_target: str | None, ca_file: str | None, timeout: float) -> list[Checked]:
    """Plan, probe (each distinct target once, concurrently) and predict every configuration."""
    override = parse_target(probe_target) if probe_target else None
    out: list[Checked] = []
    jobs: dict[tuple[str, int, str | None, str | None], None] = {}
    for raw in configs:
        s = to_settings(raw)
        c = Checked(raw, s, plan(s), lint(raw))
        out.append(c)
        if any(r.at == "startup" for r in c.plan.refusals):
            continue
        host = (override[0] if override else None) or c.plan.host
        port = (override[1] if override and override[1] else None) or c.plan.port
        if not host or not port:
            raise UserError("check.cli.no_target")
        servername = c.plan.host if override and c.plan.host and c.plan.host != host else None
        c.target = (host, port)
        jobs[(host, port, _app_ca(c.plan, ca_file), servername)] = None
    facts = asyncio.run(_probe_all(jobs, timeout)) if jobs else {}
    for c in out:
        if c.target is None:
            c.prediction = predict(c.plan, _unprobed(c))
            continue
        host, port = c.target
        servername = c.plan.host if override and c.plan.host and c.plan.host != host else None
        c.facts = _with_candidate(facts[(host, port, _app_ca(c.plan, ca_file), servername)], ca_file)
        sender = c.settings.sender.value if c.settings.sender else "app@example.com"
        c.prediction = predict(c.plan, c.facts, sender=sender)
        c.fix = fix_for(c.plan, c.prediction, c.facts, _present(c.raw))
    return out


def _unprobed(c: Checked) -> PortFacts:
    return PortFacts(c.plan.host or "", c.plan.port or 0)


# -- output -----------------------------------------------------------------------------------------------------


def _stores(p: ConnectionPlan) -> str:
    names = []
    for store in p.trust:
        if store == "system":
            names.append(t("check.cli.stores_system"))
        elif p.ca_unknown:
            names.append(t("check.cli.stores_ca_unknown"))
        else:
            names.append(t("check.cli.stores_ca_file", path=p.ca_file or p.ca_path or "-"))
    return ", ".join(names)


def _why_params(pred: Prediction) -> dict[str, Any]:
    params = dict(pred.params)
    params["app_mode"] = Term(f"frameworks.tlsmode.{params.get('app_mode', 'unknown')}")
    params["port_mode"] = Term(f"modename.{params.get('port_mode', 'unknown')}")
    for key in ("store", "location", "error", "names", "offered", "wanted", "timeout", "detail", "where", "ca_file"):
        params.setdefault(key, "-")
    return params


def _failure_title(failure: str | None) -> str:
    key = f"explain.mode.{failure}.verdict"
    return t(key) if has(key) else str(failure)


def _verdict_line(pred: Prediction) -> str:
    if pred.verdict is Verdict.DELIVERED:
        return t("check.cli.delivered")
    if pred.verdict is Verdict.UNREACHABLE:
        return t("check.cli.unreachable", failure=_failure_title(pred.failure))
    if pred.verdict is Verdict.UNKNOWN:
        return t("check.cli.unknown")
    key = "check.cli.fails" if pred.certain else "check.cli.fails_likely"
    return t(key, failure=_failure_title(pred.failure))


def _text(out: Console, results: list[Checked]) -> None:
    for c in results:
        p, pred = c.plan, c.prediction
        assert pred is not None
        icon, style = ICON[STYLE[pred.verdict]]
        head = t("check.cli.head", file=c.raw.file, framework=t(f"frameworks.name.{c.raw.framework}"))
        errors = sum(f.severity.rank >= Severity.ERROR.rank for f in c.findings)
        warnings = sum(f.severity is Severity.WARNING for f in c.findings)
        summary = t("check.cli.lint", errors=errors, warnings=warnings)
        out.print(f"[{style}]{icon}[/] [bold]{escape(head)}[/]  [dim]{escape(summary)}[/]", highlight=False)
        for f in c.findings:
            if f.severity.rank >= Severity.WARNING.rank:
                ficon, fstyle = ICON[f.severity]
                out.print(f"  [{fstyle}]{ficon} {f.id}[/] {escape(f.subject)} {escape(f.verdict())}", highlight=False)
        mode = Term(f"frameworks.tlsmode.{p.mode.value if p.mode else 'unknown'}")
        lines = [t("check.cli.app_will", host=p.host or "?", port=p.port or "?", mode=mode)]
        if p.mode is not None and p.mode.value != "none":
            lines.append(t("check.cli.app_verify", stores=_stores(p)) if p.verify_peer is not False
                         else t("check.cli.app_noverify"))
        lines.append(t("check.cli.app_auth", mechanism=p.auth_mechanism) if p.auth_mechanism
                     else t("check.cli.app_noauth"))
        out.print("  " + escape(("" if current_language() == "ja" else " ").join(lines)), highlight=False)
        if c.target is None or c.facts is None:
            out.print("  [dim]" + escape(t("check.cli.not_probed")) + "[/]", highlight=False)
        else:
            target = f"{c.target[0]}:{c.target[1]}"
            port_mode = Term(f"modename.{c.facts.mode.value}")
            line = t("check.cli.probed", target=target, port_mode=port_mode) if target == p.target else t(
                "check.cli.probed_as", target=target, host=p.host, port=p.port, port_mode=port_mode)
            out.print("  [dim]" + escape(line) + "[/]", highlight=False)
        out.print(f"  [{style}]{icon} {escape(_verdict_line(pred))}[/]", highlight=False)
        if pred.verdict in (Verdict.FAILS, Verdict.UNREACHABLE):
            said = pred.text or t("check.cli.no_text")
            out.print(f"    [bold]{escape(t('check.cli.prints'))}:[/] {escape(said)}", highlight=False)
        if pred.why:
            out.print(f"    [bold]{escape(t('check.cli.why'))}:[/] {escape(t(pred.why, **_why_params(pred)))}",
                      highlight=False)
        for risk in pred.risks:
            out.print(f"    [yellow]{escape(t('check.cli.risk'))}:[/] {escape(t(f'check.risk.{risk}'))}",
                      highlight=False)
        _print_fix(out, c.fix)


def _print_fix(out: Console, fix: Fix | None) -> None:
    if fix is None or not (fix.lines or fix.remove or fix.env or fix.text_key):
        return
    out.print(f"    [bold]{escape(t('check.cli.fix'))}:[/]", highlight=False)
    for key, where in fix.remove:
        out.print("      [red]- " + escape(t("check.cli.remove", key=key, where=where)) + "[/]", highlight=False)
    for line in fix.lines:
        out.print("      [green]+ " + escape(line) + "[/]", highlight=False)
    if fix.env:
        out.print("      " + escape(t("check.cli.env")), highlight=False)
        for line in fix.env:
            out.print("      [green]+ " + escape(line) + "[/]", highlight=False)
    if not (fix.lines or fix.env) and fix.text_key:
        out.print("      " + escape(t(fix.text_key)), highlight=False)


def _plan_json(p: ConnectionPlan) -> dict[str, Any]:
    return {"host": p.host, "port": p.port, "mode": p.mode.value if p.mode else None, "verify_peer": p.verify_peer,
            "verify_hostname": p.verify_hostname, "ca_file": p.ca_file, "ca_path": p.ca_path,
            "ca_unknown": p.ca_unknown, "trust": list(p.trust), "auth_mechanism": p.auth_mechanism,
            "credentials": p.credentials, "read_timeout": p.read_timeout, "runtime": p.runtime,
            "refusals": [{"mode": r.mode, "at": r.at, "text": r.text, "location": str(r.origin) if r.origin else None}
                         for r in p.refusals]}


def _prediction_json(pred: Prediction) -> dict[str, Any]:
    return {"verdict": str(pred.verdict), "failure": pred.failure, "stage": pred.stage, "channel": pred.channel,
            "certain": pred.certain, "error_text": pred.text, "error_text_source": pred.text_source,
            "why": t(pred.why, **_why_params(pred)) if pred.why else None, "risks": list(pred.risks),
            "verification": {"store": pred.verification.source, "ok": pred.verification.ok,
                             "error": pred.verification.error, "code": pred.verification.error_code}
            if pred.verification else None}


def _fix_json(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {"group": fix.group, "set": list(fix.lines), "env": list(fix.env),
            "remove": [{"key": k, "location": w} for k, w in fix.remove],
            "text": t(fix.text_key) if fix.text_key else None}


def _json(results: list[Checked]) -> dict[str, Any]:
    return {"schema_version": JSON_SCHEMA_VERSION, "tool": "smtp-doctor", "command": "check", "configs": [
        {"file": c.raw.file, "framework": c.raw.framework, "framework_version": c.raw.framework_version,
         "settings": settings_json(c.settings), "plan": _plan_json(c.plan),
         "probed": {"host": c.target[0], "port": c.target[1], "mode": c.facts.mode.value if c.facts else None,
                    "address": c.facts.address if c.facts else None} if c.target else None,
         "lint": [f.to_dict() for f in c.findings],
         "prediction": _prediction_json(c.prediction) if c.prediction else None, "fix": _fix_json(c.fix)}
        for c in results]}


def exit_code(results: list[Checked]) -> ExitCode:
    verdicts = {c.prediction.verdict for c in results if c.prediction}
    if Verdict.FAILS in verdicts or Verdict.UNKNOWN in verdicts:
        return ExitCode.PROBLEMS
    if Verdict.UNREACHABLE in verdicts:
        return ExitCode.UNREACHABLE
    return ExitCode.OK


def config_options(command: Callable[..., None]) -> Callable[..., None]:
    """PATH and the options check and fix share: where the config is, how to read it, which server to ask."""
    for option in reversed((
        click.argument("path", type=NonEmptyPath(path_type=Path)),
        click.option("--env", "env_file", type=click.Path(path_type=Path), default=None,
                     help="Resolve ENV[...] / process.env / os.environ from this dotenv file."),
        click.option("--framework", default=None, help="Read PATH as this framework (default: detect)."),
        click.option("--probe-host", "probe_target", default=None, metavar="HOST[:PORT]",
                     help="Probe this server instead of the one the config names (a staging copy, the lab)."),
        click.option("--ca-file", type=click.Path(), default=None,
                     help="A CA bundle to suggest when it verifies the server; stands in for the app's own CA "
                          "file when that one is not readable here."),
        click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
                     help="Deadline for probing one port, in seconds."),
    )):
        command = option(command)
    return command


def load_configs(path: Path, env_file: Path | None, framework: str | None, probe_target: str | None,
                 ca_file: str | None) -> tuple[list[RawConfig], dict[str, str] | None]:
    """Every bad argument is one line and exit 2 before anything is read or probed."""
    from ..readers import load_env_file

    if framework is not None:
        model(framework)
    if env_file is not None and not env_file.is_file():
        raise UserError("lint.cli.env_missing", path=str(env_file))
    if ca_file is not None and not os.path.exists(ca_file):
        raise UserError("check.cli.ca_file_missing", path=ca_file)
    if probe_target is not None:
        parse_target(probe_target)
    env = load_env_file(env_file) if env_file is not None else None
    configs = _collect((path,), env, framework)
    if not configs:
        raise UserError("check.cli.no_configs", path=str(path))
    return configs, env


@click.command("check")
@config_options
@click.option("--framework-version", default=None, metavar="VERSION",
              help="Version that decides behaviour (mail gem for ActionMailer, Django …); default: newest.")
@click.option("--fix", "with_fix", is_flag=True,
              help="After the prediction, the whole corrected config as a diff (what `smtp-doctor fix` prints).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(path: Path, env_file: Path | None, framework: str | None, framework_version: str | None,
            probe_target: str | None, ca_file: str | None, timeout: float, with_fix: bool, as_json: bool) -> None:
    """Predict what the app will do with its mail settings against the live server, and how to fix it."""
    from ..remedy import risks
    from .fix import Repair, render_corrected, repair, repair_json  # fix builds on check

    configs, env = load_configs(path, env_file, framework, probe_target, ca_file)
    if framework_version:
        configs = [replace(c, framework_version=framework_version) for c in configs]
    results = check(configs, probe_target, ca_file, timeout)
    repairs: list[Repair | None] = [
        repair(c.raw, env, probe_target, ca_file, timeout) if with_fix and c.prediction is not None and (
            c.prediction.verdict is Verdict.FAILS or c.facts is not None and risks(c.plan, c.prediction, c.facts))
        else None for c in results]
    if as_json:
        doc = _json(results)
        doc["exit_code"] = int(exit_code(results))
        if with_fix:
            for entry, r in zip(doc["configs"], repairs, strict=True):
                entry["corrected"] = repair_json(r) if r is not None else None
        click.echo(json_inert(json.dumps(redact_json(doc), indent=2, ensure_ascii=False)))
    else:
        out = console()
        _text(out, results)
        for r in repairs:
            if r is not None:
                out.print(f"[bold]{escape(t('fix.cli.corrected', file=r.raw.file))}[/]", highlight=False)
                render_corrected(out, r)
        counts = {v: sum(c.prediction is not None and c.prediction.verdict is v for c in results) for v in Verdict}
        out.print(escape(t("check.cli.summary", configs=len(results), delivered=counts[Verdict.DELIVERED],
                           failing=counts[Verdict.FAILS], unreachable=counts[Verdict.UNREACHABLE],
                           unknown=counts[Verdict.UNKNOWN])), highlight=False)
    raise SystemExit(int(exit_code(results)))
