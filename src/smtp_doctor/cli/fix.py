"""``smtp-doctor fix PATH``: the corrected config, in the file's own syntax, checked before it is shown.

The repair loop is ``smtp_doctor.repair``; this module parses, calls it, writes the file on ``--write``
and renders. It prints the whole change as a unified diff (``--diff`` prints nothing else).

Exit codes: 0 the config delivers as it is, or ``--write`` made it deliver; 1 changes are needed (the
diff) or no complete fix is known; 2 bad input; 3 the server cannot be reached.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import config_options


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
    from ..api import fix
    from ..i18n import t
    from ..render.fix import fix_doc, render_repair
    from ..render.inert import escape, inert_block, json_inert
    from .common import console

    result = fix(path, env_file=env_file, framework=framework, framework_version=framework_version,
                 probe_host=probe_target, ca_file=ca_file, timeout=timeout, write=write)
    if as_json:
        click.echo(json_inert(json.dumps(fix_doc(result.repairs), indent=2, ensure_ascii=False)))
    elif diff_only:
        text = "".join(r.diff for r in result.repairs)
        # piped into patch: the file's bytes as they are; on a terminal: its escapes shown, not obeyed
        click.echo(inert_block(text) if sys.stdout.isatty() else text, nl=False)
    else:
        out = console()
        for r in result.repairs:
            render_repair(out, r)
            if write and r.delivers and r.changed:
                for written in ((r.path,) if r.fixed != r.text else ()) + tuple(r.others):
                    out.print("[green]" + escape(t("fix.cli.written", file=written)) + "[/]", highlight=False)
    raise SystemExit(int(result.exit_code))
