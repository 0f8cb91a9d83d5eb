"""Small pieces the subcommands share: target parsing, the console, exit-code policy."""

from __future__ import annotations

import os
import re

from rich.console import Console

from ..errors import ExitCode, UserError
from ..findings import Severity

_BRACKETED = re.compile(r"^\[([0-9A-Fa-f:.%a-zA-Z]+)\](?::(\d+))?$")


def parse_port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UserError("probe.bad_port", port=text)
    return int(text)


def parse_target(target: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port or None)."""
    target = target.strip()
    if not target or any(c.isspace() for c in target) or "/" in target:
        raise UserError("probe.bad_target", target=target)
    if (m := _BRACKETED.match(target)):
        return m.group(1), parse_port(m.group(2)) if m.group(2) else None
    if target.count(":") == 1:
        host, port = target.split(":")
        if not host:
            raise UserError("probe.bad_target", target=target)
        return host, parse_port(port)
    return target, None


def console(stderr: bool = False) -> Console:
    """A console for the terminal; piped into a file or a CI log, lines are not wrapped, so that
    commands stay copy-pastable, and no colour codes are written (rich detects that)."""
    tty = os.isatty(2 if stderr else 1)
    return Console(stderr=stderr, highlight=False, soft_wrap=not tty)


def exit_code(severity: Severity, reachable: bool, strict: bool = False) -> ExitCode:
    if not reachable:
        return ExitCode.UNREACHABLE
    if severity.rank >= Severity.ERROR.rank or (strict and severity is Severity.WARNING):
        return ExitCode.PROBLEMS
    return ExitCode.OK
