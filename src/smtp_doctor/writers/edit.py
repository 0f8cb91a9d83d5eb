"""What an edit of a config file's text produces, shared by the line patcher and the DSN editor.

Its own module so that ``patch`` (which dispatches a DSN fix to ``dsn``) and ``dsn`` (which returns these)
do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass


class Unpatchable(Exception):
    """The file cannot be changed line by line; the reason is a catalogue key."""


@dataclass(frozen=True)
class Patched:
    text: str
    removed: tuple[int, ...]  #: 1-based line numbers of the original text
    changed: tuple[int, ...]
    added_after: int | None  #: the line new keys were inserted after
