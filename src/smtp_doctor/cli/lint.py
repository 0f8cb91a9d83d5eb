"""``smtp-doctor lint PATH... [--env FILE] [--framework X] [--format text|json|sarif]``

Reads mail settings without running the app (readers), predicts what the framework will do with
them (frameworks) and reports the mistakes (lint). Exit 1 on errors, so it gates CI and pre-commit.
"""

from __future__ import annotations

import json
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
    from ..api import lint
    from ..findings import Severity
    from ..i18n import t
    from ..render.inert import escape, json_inert
    from ..render.lint import lint_json, render_lint
    from ..render.sarif import sarif
    from ..secrets import redact_json
    from .common import console

    result = lint(paths, env_file=env_file, framework=framework, framework_version=framework_version, strict=strict)
    rows = [(c.raw, c.settings, c.findings) for c in result.configs]
    findings = result.findings
    if fmt == "sarif":
        base = paths[0] if paths[0].is_dir() else Path.cwd()
        click.echo(json_inert(json.dumps(sarif(findings, base), indent=2, ensure_ascii=False)))
    elif fmt == "json":
        click.echo(json_inert(json.dumps(redact_json(lint_json(rows)), indent=2, ensure_ascii=False)))
    else:
        out = console()
        if not rows:
            out.print(escape(t("lint.cli.no_configs", path=", ".join(str(p) for p in paths))), highlight=False)
        render_lint(out, rows)
        errors = sum(f.severity.rank >= Severity.ERROR.rank for f in findings)
        warnings = sum(f.severity is Severity.WARNING for f in findings)
        if rows:
            out.print(escape(t("lint.cli.summary", configs=len(rows), errors=errors, warnings=warnings)),
                      highlight=False)
    raise SystemExit(int(result.exit_code))
