"""Errors a user can cause (bad input, unreachable host …) and the documented exit codes.

Every command maps its outcome onto these codes; docs/exit-codes.md lists them. A ``UserError``
carries a catalogue key, so the CLI prints one translated line and never a traceback.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from . import i18n


class ExitCode(IntEnum):
    OK = 0  #: nothing wrong found
    PROBLEMS = 1  #: the check ran and found problems (warnings count only with --strict)
    USAGE = 2  #: bad arguments, unreadable or malformed input
    UNREACHABLE = 3  #: could not resolve or connect to any port asked for
    INTERNAL = 70  #: a bug in smtp-doctor (EX_SOFTWARE)


class UserError(Exception):
    """A problem with the user's input or environment, reported as one translated line."""

    def __init__(self, key: str, exit_code: ExitCode = ExitCode.USAGE, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.exit_code = exit_code
        self.params = params

    def message(self) -> str:
        return i18n.t(self.key, **self.params)
