"""The click group behind ``smtp-doctor``: subcommands imported when they run, errors as one line.

Why lazy: importing all subcommands (and through them the probe stack, TLS, rich) cost every run
~0.5 s before it did anything, ``--help`` and ``explain`` included (issue 16).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from .. import i18n
from ..errors import ExitCode, UserError


class LazyGroup(click.Group):
    """``lazy`` names the subcommand modules of ``package`` (each exposes ``command``); ``summary`` holds
    their help lines, so that ``--help`` imports none of them."""

    def __init__(self, *args: Any, lazy: Sequence[str] = (), summary: Mapping[str, str] | None = None,
                 package: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy, self.summary, self.package = tuple(lazy), dict(summary or {}), package

    def load_command(self, name: str) -> click.Command:
        """The subcommand ``name``, its module imported now (and only now)."""
        command: click.Command = importlib.import_module(f"{self.package}.{name}").command
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.lazy) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return self.load_command(cmd_name) if cmd_name in self.lazy else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own layout, from ``SUMMARY`` instead of from every imported command."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.summary and name not in self.commands:
                rows.append((name, click.Command(name, help=self.summary[name]).get_short_help_str(limit)))
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
