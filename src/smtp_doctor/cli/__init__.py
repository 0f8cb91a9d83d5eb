"""The ``smtp-doctor`` command: a click group whose subcommands live one per module.

Each subcommand module exposes ``command`` (a click command). ``COMMANDS`` lists them; adding a
subcommand is adding its module name here. A subcommand's module is imported only when it runs
(``--help`` reads the one-line summaries from ``SUMMARY``; a name missing there is imported for its
summary), so ``smtp-doctor --help`` or ``explain`` never pays for the probe stack, rich or TLS.
The group owns the cross-cutting parts: ``--lang``, turning ``UserError`` into one translated line
with its exit code, and never showing a traceback (``--debug`` shows it, for bug reports).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from .. import i18n
from ..errors import ExitCode, UserError

COMMANDS = ("probe", "send", "lab", "demo", "explain", "trust", "lint", "check", "fix", "config", "scan", "domain",
            "audit")


#: The first paragraph of each command's help, for ``--help`` without importing the command
#: (tests/test_api.py checks each against the command itself).
SUMMARY = {
    "probe": "Work out what each SMTP port really speaks, and check its TLS, certificate and AUTH.",
    "send": "Send one small test message through HOST, stopping at the first phase that fails.",
    "lab": "Start local SMTP servers on 127.0.0.1 showing every failure mode (offline test bed).",
    "demo": "Start the embedded lab and probe each of its servers.",
    "explain": "Explain an SMTP/TLS error message (or the failures in log files): cause, fix, how to confirm.",
    "trust": "Which CA store does each runtime here use, and does it trust HOST's certificate chain?",
    "lint": "Find mistakes in an application's SMTP/TLS settings without connecting anywhere.",
    "check": "Predict what the app will do with its mail settings against the live server, and how to fix it.",
    "fix": "Print the corrected config in the file's own syntax (a diff), checked against the live server.",
    "config": "Probe HOST and print a correct mail config for FRAMEWORK, in its own syntax.",
    "scan": "Scan many mail servers; one JSON line per target, exit code by the worst finding.",
    "domain": "Check MX, MTA-STS, DANE (with DNSSEC) and TLS-RPT for DOMAIN, as sending servers see them.",
    "audit": "Is this mail server safe? STARTTLS injection, AUTH/mail before TLS, TLS, certificate, revocation.",
}


def load_command(name: str) -> click.Command:
    """The subcommand ``name``, its module imported now (and only now)."""
    command: click.Command = importlib.import_module(f"{__name__}.{name}").command
    return command


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own layout, from ``SUMMARY`` instead of from every imported command."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in SUMMARY and name not in self.commands:
                rows.append((name, click.Command(name, help=SUMMARY[name]).get_short_help_str(limit)))
            elif (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            from ..render.inert import shown

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
            from ..render.inert import shown

            reason = exc.strerror or type(exc).__name__
            msg = i18n.t("input.os_error_file", path=exc.filename, reason=reason) if exc.filename else i18n.t(
                "input.os_error", reason=reason)
            click.echo(f"smtp-doctor: {shown(msg)}", err=True)
            ctx.exit(int(ExitCode.USAGE))
        except Exception as exc:  # a bug: one line, exit 70, traceback only on request
            if ctx.obj and ctx.obj.get("debug"):
                raise
            from ..render.inert import shown

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


def main() -> None:
    """Console-script entry point."""
    from .streams import harden_std_streams

    harden_std_streams()
    cli(prog_name="smtp-doctor")


if __name__ == "__main__":
    main()
