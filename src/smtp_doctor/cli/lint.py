"""``smtp-doctor lint PATH... [--env FILE] [--framework X] [--format text|json|sarif]``

Reads mail settings without running the app (readers), predicts what the framework will do with
them (frameworks) and reports the mistakes (lint). Exit 1 on errors, so it gates CI and pre-commit.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ..errors import ExitCode, UserError
from ..findings import Finding, Severity, worst
from ..frameworks import to_settings
from ..i18n import Term, t
from ..lint import lint
from ..render.inert import escape, json_inert
from ..render.sarif import sarif
from ..render.text import ICON
from ..secrets import redact_json
from ..settings import RawConfig, Settings
from .common import console
from .params import NonEmptyPath

FORMATS = ("text", "json", "sarif")
JSON_SCHEMA_VERSION = 1


def _collect(paths: tuple[Path, ...], env: dict[str, str] | None, framework: str | None) -> list[RawConfig]:
    from ..readers import read_file, read_tree

    configs: list[RawConfig] = []
    for path in paths:
        if not path.exists():
            raise UserError("lint.cli.path_missing", path=str(path))
        if path.is_dir():
            found = read_tree(path, env=env)
            configs += [c for c in found if framework is None or c.framework == framework]
        else:
            configs += read_file(path, framework=framework, env=env)
    return configs


def settings_json(s: Settings) -> dict[str, Any]:
    """The connection plan; the password appears only as a reference (ENV[X] / literal file:line)."""
    out: dict[str, Any] = {}
    for name in ("host", "port", "tls_mode", "verify_peer", "verify_hostname", "ca_file", "ca_path", "client_cert",
                 "auth_mechanism", "username", "password_ref", "open_timeout", "read_timeout", "helo_domain",
                 "sender"):
        setting = getattr(s, name)
        if setting is None:
            out[name] = None
            continue
        value = setting.value.value if name == "tls_mode" else setting.value
        out[name] = {"value": value, "default": setting.default,
                     "location": str(setting.origin) if setting.origin else None}
    out["has_password"] = s.has_password
    return out


def _text(out: Console, results: list[tuple[RawConfig, Settings, list[Finding]]]) -> None:
    for raw, s, findings in results:
        head = t("lint.cli.config_head", file=raw.file, framework=t(f"frameworks.name.{raw.framework}"))
        icon, style = ICON[worst(findings)]
        out.print(f"[{style}]{icon}[/] [bold]{escape(head)}[/]", highlight=False)
        if s.host and s.port and s.tls_mode:
            mode = Term(f"frameworks.tlsmode.{s.tls_mode.value.value}")
            plan = t("lint.cli.plan", host=s.host.value, port=s.port.value, mode=mode)
        else:
            plan = t("lint.cli.plan_unknown")
        out.print(f"  [dim]{escape(plan)}[/]", highlight=False)
        for f in findings:
            icon, style = ICON[f.severity]
            out.print(f"  [{style}]{icon}[/] {escape(f.subject)} [{style}]{f.id}[/] {escape(f.verdict())}",
                      highlight=False)
            if (why := f.explanation()):
                out.print(f"      [dim]{escape(why)}[/]", highlight=False)
            if (fix := f.fix()):
                out.print(f"      [bold]→[/] {escape(fix)}", highlight=False)
            for name, value in f.details:
                if name == "framework_error":
                    label = escape(t("lint.cli.framework_error"))
                    out.print(f"      [dim]{label}:[/] {escape(value)}", highlight=False)


@click.command("lint")
@click.argument("paths", nargs=-1, required=True, type=NonEmptyPath(path_type=Path), metavar="PATH...")
@click.option("--env", "env_file", type=click.Path(path_type=Path), default=None,
              help="Resolve ENV[...] / process.env / os.environ from this dotenv file.")
@click.option("--framework", default=None, help="Read PATH as this framework (default: detect).")
@click.option("--framework-version", default=None, metavar="VERSION",
              help="Version that decides behaviour (mail gem for ActionMailer, Django, GitLab …); default: newest.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def command(paths: tuple[Path, ...], env_file: Path | None, framework: str | None, framework_version: str | None,
            fmt: str, strict: bool) -> None:
    """Find mistakes in an application's SMTP/TLS settings without connecting anywhere."""
    from ..frameworks import model
    from ..readers import load_env_file

    if framework is not None:
        model(framework)  # unknown id → one line, exit 2
    if env_file is not None and not env_file.is_file():
        raise UserError("lint.cli.env_missing", path=str(env_file))
    env = load_env_file(env_file) if env_file is not None else None
    configs = _collect(paths, env, framework)
    if framework_version:
        configs = [replace(c, framework_version=framework_version) for c in configs]
    results = [(c, to_settings(c), lint(c)) for c in configs]
    findings = [f for _, _, fs in results for f in fs]
    if fmt == "sarif":
        base = paths[0] if paths[0].is_dir() else Path.cwd()
        click.echo(json_inert(json.dumps(sarif(findings, base), indent=2, ensure_ascii=False)))
    elif fmt == "json":
        doc = {"schema_version": JSON_SCHEMA_VERSION, "tool": "smtp-doctor", "severity": str(worst(findings)),
               "configs": [{"file": raw.file, "framework": raw.framework, "framework_version": raw.framework_version,
                            "settings": settings_json(s), "findings": [f.to_dict() for f in fs]}
                           for raw, s, fs in results]}
        click.echo(json_inert(json.dumps(redact_json(doc), indent=2, ensure_ascii=False)))
    else:
        out = console()
        if not configs:
            out.print(escape(t("lint.cli.no_configs", path=", ".join(str(p) for p in paths))), highlight=False)
        _text(out, results)
        errors = sum(f.severity.rank >= Severity.ERROR.rank for f in findings)
        warnings = sum(f.severity is Severity.WARNING for f in findings)
        if configs:
            out.print(escape(t("lint.cli.summary", configs=len(configs), errors=errors, warnings=warnings)),
                      highlight=False)
    sev = worst(findings)
    failed = sev.rank >= Severity.ERROR.rank or (strict and sev is Severity.WARNING)
    raise SystemExit(int(ExitCode.PROBLEMS if failed else ExitCode.OK))
