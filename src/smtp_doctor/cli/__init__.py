"""The ``smtp-doctor`` command: a click group whose subcommands live one per module.

Each subcommand module exposes ``command`` (a click command). ``COMMANDS`` lists them; adding a
subcommand is adding its module name here. The group owns the cross-cutting parts: ``--lang``,
turning ``UserError`` into one translated line with its exit code, and never showing a traceback
(``--debug`` shows it, for bug reports).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from .. import i18n
from ..errors import ExitCode, UserError
from ..render.inert import shown

COMMANDS = ("probe", "send", "lab", "demo", "explain", "trust", "lint", "check", "fix", "config", "scan", "domain")


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"smtp-doctor: {shown(exc.message())}", err=True)  # argv/file text made inert
            ctx.exit(int(exc.exit_code))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # `smtp-doctor … | head`: the reader left; not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            ctx.exit(int(ExitCode.OK))
        except OSError as exc:  # the file system said no (read-only, full, not permitted): the user's to fix
            if ctx.obj and ctx.obj.get("debug"):
                raise
            reason = exc.strerror or type(exc).__name__
            msg = i18n.t("input.os_error_file", path=exc.filename, reason=reason) if exc.filename else i18n.t(
                "input.os_error", reason=reason)
            click.echo(f"smtp-doctor: {shown(msg)}", err=True)
            ctx.exit(int(ExitCode.USAGE))
        except Exception as exc:  # a bug: one line, exit 70, traceback only on request
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(
                "smtp-doctor: " + shown(i18n.t("cli.internal_error", error=f"{type(exc).__name__}: {exc}")),
                err=True,
            )
            ctx.exit(int(ExitCode.INTERNAL))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lang", type=click.Choice(i18n.LANGUAGES), default=None,
              help="Output language (default: from LANG).")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="smtp-doctor")
@click.pass_context
def cli(ctx: click.Context, lang: str | None, debug: bool) -> None:
    """Find out why an application cannot send mail over SMTP, and what to change."""
    i18n.set_language(lang)
    ctx.obj = {"debug": debug}


for _name in COMMANDS:
    cli.add_command(importlib.import_module(f"{__name__}.{_name}").command)


def main() -> None:
    """Console-script entry point."""
    from .streams import harden_std_streams

    harden_std_streams()
    cli(prog_name="smtp-doctor")


if __name__ == "__main__":
    main()
