"""What an edit of a config file's text produces, shared by the line patcher and the DSN editor.

Its own module so that ``patch`` (which dispatches a DSN fix to ``dsn``) and ``dsn`` (which returns these)
do not import each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """The file's lines as the readers number them: a line ends at "\n" only. ``str.splitlines`` also ends
    one at \r, \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029, which a (hostile) value may hold inside quotes:
    every line number after it would then point one line too far, and a fix would replace the wrong line."""
    parts = text.split("\n")
    last = [parts[-1]] if parts[-1] else []
    if keepends:
        return [p + "\n" for p in parts[:-1]] + last
    return [p.removesuffix("\r") for p in parts[:-1]] + [x.removesuffix("\r") for x in last]


class Unpatchable(Exception):
    """The file cannot be changed line by line; the reason is a catalogue key."""


@dataclass(frozen=True)
class Patched:
    text: str
    removed: tuple[int, ...]  #: 1-based line numbers of the original text
    changed: tuple[int, ...]
    added_after: int | None  #: the line new keys were inserted after


def renamed_word(line: str, old: str, new: str) -> str | None:
    """``line`` with ``new`` where it had ``old`` (a whole word, once: a variable's name); None when not there."""
    pattern = re.compile(rf"(?<![\w]){re.escape(old)}(?![\w])")
    return pattern.sub(new, line, count=1) if pattern.search(line) else None
