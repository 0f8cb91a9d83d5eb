"""Small pieces the subcommands share: target parsing, the console, exit-code policy."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from typing import IO, Any, TextIO

import click
from rich.console import Console

from ..address import parse_port, parse_target
from ..api import exit_code_for as exit_code  # the policy lives in the library
from ..credentials import Credentials, load_password
from ..errors import UserError
from ..render.inert import InertConsole

__all__ = ["build_credentials", "console", "credential_options", "exit_code", "parse_port", "parse_target"]


class _Redacting(io.TextIOBase):
    """A text stream that masks secrets before they reach the real stream."""

    def __init__(self, stream: TextIO, redact: Callable[[str], str]) -> None:
        self._stream, self._redact = stream, redact

    def write(self, text: str) -> int:
        self._stream.write(self._redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()


def console(stderr: bool = False, redact: Callable[[str], str] | None = None) -> Console:
    """A console for the terminal; piped into a file or a CI log, lines are not wrapped, so that
    commands stay copy-pastable, and no colour codes are written (rich detects that).
    With ``redact``, every byte written passes through it (credentials never reach the screen)."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    file: IO[str] = _Redacting(stream, redact) if redact else stream  # type: ignore[assignment]
    width = None if tty else int(os.environ.get("COLUMNS", "0") or 0) or 120  # tables in logs: room to breathe
    return InertConsole(file=file, highlight=False, soft_wrap=not tty, force_terminal=tty, width=width)


def credential_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--user and where its secret comes from: never a plain command-line argument."""
    options = [
        click.option("--user", "-u", default=None, help="Log in as USER and try every AUTH mechanism offered."),
        click.option("--password-env", metavar="VAR", default=None, help="Read the password from $VAR."),
        click.option("--password-file", type=click.Path(dir_okay=False), default=None,
                     help="Read the password from the first line of FILE."),
        click.option("--oauth-token-env", metavar="VAR", default=None,
                     help="Read an OAuth2 access token for XOAUTH2/OAUTHBEARER from $VAR."),
        click.option("--allow-cleartext-credentials", is_flag=True,
                     help="DANGEROUS: also send credentials over an unencrypted connection."),
        click.option("--allow-unverified-tls-credentials", is_flag=True,
                     help="DANGEROUS: also send credentials over TLS whose certificate failed verification."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_credentials(host: str, user: str | None, password_env: str | None, password_file: str | None,
                      oauth_token_env: str | None) -> Credentials | None:
    if not user:
        return None
    token = None
    if oauth_token_env:
        token = os.environ.get(oauth_token_env)
        if token is None:
            raise UserError("auth.token_env_missing", var=oauth_token_env)
    password = load_password(env=password_env, file=password_file, host=host, user=user,
                             prompt=token is None and sys.stdin.isatty())
    if password is None and token is None:
        raise UserError("auth.no_secret")
    return Credentials(user, password, token)
