"""``smtp-doctor check PATH [--env FILE] [--probe-host HOST[:PORT]] [--ca-file FILE] [--no-login] [--envelope FROM,TO]``

Lint the app's mail settings, probe the server they point at, and say what the app will do there:
deliver, or fail with which error text, why, and what to change. Exit 0 = it will deliver, 1 = it will
fail (or cannot be told), 2 = bad input, 3 = the server cannot be reached.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import config_options


@click.command("check")
@config_options
@click.option("--framework-version", default=None, metavar="VERSION",
              help="Version that decides behaviour (mail gem for ActionMailer, Django …); default: newest.")
@click.option("--fix", "with_fix", is_flag=True,
              help="After the prediction, the whole corrected config as a diff (what `smtp-doctor fix` prints).")
@click.option("--no-login", "no_login", is_flag=True,
              help="Do not log in with the app's password (by default: only over TLS whose certificate verified).")
@click.option("--envelope", default=None, metavar="FROM,TO",
              help="Ask the server MAIL FROM / RCPT TO as the app would (then RSET; never DATA).")
@click.option("--envelope-from", default=None, metavar="ADDRESS", help="The sender of --envelope.")
@click.option("--envelope-to", default=None, metavar="ADDRESS", help="The recipient of --envelope.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Markdown, ready to paste into an issue or a forum post.")
def command(path: Path, env_file: Path | None, framework: str | None, framework_version: str | None,
            probe_target: str | None, ca_file: str | None, timeout: float, with_fix: bool, no_login: bool,
            envelope: str | None, envelope_from: str | None, envelope_to: str | None, as_json: bool,
            as_markdown: bool) -> None:
    """Predict what the app will do with its mail settings against the live server, and how to fix it."""
    from ..api import check
    from ..i18n import t
    from ..login import envelope_pair
    from ..render.check import check_json, render_check, render_summary
    from ..render.fix import render_corrected, repair_json
    from ..render.inert import escape, json_inert
    from ..secrets import redact_json
    from .common import console

    if as_json and as_markdown:
        from ..errors import ExitCode, UserError

        raise UserError("check.cli.json_or_markdown", ExitCode.USAGE)
    result = check(path, env_file=env_file, framework=framework, framework_version=framework_version,
                   probe_host=probe_target, ca_file=ca_file, timeout=timeout, with_fix=with_fix,
                   login=not no_login, envelope=envelope_pair(envelope, envelope_from, envelope_to))
    if as_json:
        doc = check_json(result.configs)
        doc["exit_code"] = int(result.exit_code)
        if with_fix:
            for entry, r in zip(doc["configs"], result.repairs, strict=True):
                entry["corrected"] = repair_json(r) if r is not None else None
        click.echo(json_inert(json.dumps(redact_json(doc), indent=2, ensure_ascii=False)))
    elif as_markdown:
        from ..render.check_markdown import check_markdown

        diffs = [(r.path, r.diff) for r in result.repairs if r is not None]
        click.echo(check_markdown(result.configs, diffs), nl=False)
    else:
        out = console()
        render_check(out, result.configs)
        for r in result.repairs:
            if r is not None:
                out.print(f"[bold]{escape(t('fix.cli.corrected', file=r.raw.file))}[/]", highlight=False)
                render_corrected(out, r)
        render_summary(out, result.configs)
    raise SystemExit(int(result.exit_code))
