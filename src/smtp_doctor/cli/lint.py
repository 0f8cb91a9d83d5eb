"""``smtp-doctor lint PATH... [--env FILE] [--framework X] [--format text|json|sarif]``

Reads mail settings without running the app (readers), predicts what the framework will do with
them (frameworks) and reports the mistakes (lint). Exit 1 on errors, so it gates CI and pre-commit.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from .params import NonEmptyPath

FORMATS = ("text", "json", "sarif")


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
    from ..configs import collect
    from ..errors import ExitCode, UserError
    from ..findings import Severity, worst
    from ..frameworks import model, to_settings
    from ..i18n import t
    from ..lint import lint
    from ..readers import load_env_file
    from ..render.inert import escape, json_inert
    from ..render.lint import lint_json, render_lint
    from ..render.sarif import sarif
    from ..secrets import redact_json
    from .common import console

    if framework is not None:
        model(framework)  # unknown id → one line, exit 2
    if env_file is not None and not env_file.is_file():
        raise UserError("lint.cli.env_missing", path=str(env_file))
    env = load_env_file(env_file) if env_file is not None else None
    configs = collect(paths, env, framework)
    if framework_version:
        configs = [replace(c, framework_version=framework_version) for c in configs]
    results = [(c, to_settings(c), lint(c)) for c in configs]
    findings = [f for _, _, fs in results for f in fs]
    if fmt == "sarif":
        base = paths[0] if paths[0].is_dir() else Path.cwd()
        click.echo(json_inert(json.dumps(sarif(findings, base), indent=2, ensure_ascii=False)))
    elif fmt == "json":
        click.echo(json_inert(json.dumps(redact_json(lint_json(results)), indent=2, ensure_ascii=False)))
    else:
        out = console()
        if not configs:
            out.print(escape(t("lint.cli.no_configs", path=", ".join(str(p) for p in paths))), highlight=False)
        render_lint(out, results)
        errors = sum(f.severity.rank >= Severity.ERROR.rank for f in findings)
        warnings = sum(f.severity is Severity.WARNING for f in findings)
        if configs:
            out.print(escape(t("lint.cli.summary", configs=len(configs), errors=errors, warnings=warnings)),
                      highlight=False)
    sev = worst(findings)
    failed = sev.rank >= Severity.ERROR.rank or (strict and sev is Severity.WARNING)
    raise SystemExit(int(ExitCode.PROBLEMS if failed else ExitCode.OK))
