"""``smtp-doctor explain "TEXT"``, ``explain -`` (stdin), ``explain --log FILE...``

Exit codes (docs/exit-codes.md): 0 the input was explained (log: at least one SMTP/TLS failure found),
1 nothing recognised (log: no failure found), 2 bad input (empty text, unreadable file).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from ..errors import ExitCode, UserError
from ..explain.knowledge import FRAMEWORKS

if TYPE_CHECKING:
    from ..explain.scan import Scanner


def _read_text(parts: tuple[str, ...]) -> str:
    from ..explain.engine import MAX_TEXT

    text = sys.stdin.read(MAX_TEXT + 1) if parts == ("-",) else " ".join(parts)
    if not text.strip():
        raise UserError("explain.error.empty")
    return text


def _scan(paths: tuple[str, ...]) -> Scanner:
    from ..explain.scan import Scanner
    from .streams import BoundedReader, open_regular

    scanner = Scanner()
    for path in paths:
        try:
            if path == "-":
                scanner.feed(BoundedReader(sys.stdin.buffer, "<stdin>"), "<stdin>")  # type: ignore[arg-type]
                continue
            with open_regular(path) as fh:  # a FIFO or /dev/zero would never end
                scanner.feed(fh, path)
        except OSError as exc:
            raise UserError("explain.error.unreadable", path=path, reason=exc.strerror or type(exc).__name__) from None
    return scanner


@click.command("explain")
@click.argument("text", nargs=-1, metavar="TEXT | - | --log FILE...")
@click.option("--log", "log", is_flag=True, help="Treat the arguments as log files to scan ('-' = stdin).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="Output format; markdown is ready to paste into an issue or a forum.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--framework", type=click.Choice(FRAMEWORKS), default=None,
              help="Show the fix for this framework (default: recognised from the text).")
@click.option("--probe", "do_probe", is_flag=True, help="Confirm the diagnosis against the live server.")
@click.option("--target", default=None, metavar="HOST:PORT", help="Server for --probe when the text names none.")
@click.option("--ca-file", type=click.Path(), default=None, help="CA bundle for --probe (private CAs).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=20.0, show_default=True,
              help="Deadline for the --probe of one port, in seconds.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Log groups shown in text output.")
def command(text: tuple[str, ...], log: bool, fmt: str, as_json: bool, framework: str | None, do_probe: bool,
            target: str | None, ca_file: str | None, timeout: float, limit: int) -> None:
    """Explain an SMTP/TLS error message (or the failures in log files): cause, fix, how to confirm."""
    import json

    from ..api import explain
    from ..explain.render import (
        explanation_dict,
        render_markdown,
        render_scan_markdown,
        render_scan_text,
        render_text,
        scan_dict,
    )
    from ..i18n import t
    from ..render.inert import json_inert, shown
    from ..secrets import redact_json
    from .common import console

    fmt = "json" if as_json else fmt
    if not text:
        raise UserError("explain.error.no_input")
    if log:
        if do_probe:
            raise UserError("explain.error.probe_log")
        result = _scan(text).finish()
        if fmt == "json":
            click.echo(json_inert(json.dumps(redact_json(scan_dict(result)), indent=2, ensure_ascii=False)))
        elif fmt == "markdown":
            click.echo(render_scan_markdown(result), nl=False)
        else:
            render_scan_text(console(), result, limit)
        raise SystemExit(int(ExitCode.OK if result.failures else ExitCode.PROBLEMS))

    def probing(target: str) -> None:
        if fmt == "text":
            click.echo(shown(t("explain.probe.probing", target=target)), err=True)  # host: from the text

    res = explain(_read_text(text), probe=do_probe, target=target, ca_file=ca_file, timeout=timeout,
                  on_probe=probing)
    if fmt == "json":
        doc = redact_json(explanation_dict(res.explanation, framework, res.probe))
        click.echo(json_inert(json.dumps(doc, indent=2, ensure_ascii=False)))
    elif fmt == "markdown":
        click.echo(render_markdown(res.explanation, framework, res.probe), nl=False)
    else:
        render_text(console(), res.explanation, framework, res.probe)
    raise SystemExit(int(res.exit_code))
