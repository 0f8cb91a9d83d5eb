"""Shared plumbing for readers: bounded file reading, positions, secret masking, value collection.

Every reader builds its ``RawValue``s through :func:`raw`, so the secret rule (never keep a
password's text or value) is enforced in one place rather than trusted to each parser.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..settings import Origin, RawConfig, RawValue, ValueKind

MAX_BYTES = 1024 * 1024  #: config files are small; anything larger is not one (and would slow the walk)
MASK = "••••"
KNOWN = frozenset({ValueKind.BOOL, ValueKind.INT, ValueKind.FLOAT, ValueKind.STRING, ValueKind.SYMBOL,
                   ValueKind.NIL})

_SECRET_RE = re.compile(r"(pass|secret|token|credential)", re.IGNORECASE)


_NOT_SECRET_RE = re.compile(r"(_maps|_file|_path)$", re.IGNORECASE)  # smtp_sasl_password_maps is a lookup table


def is_secret_key(key: str) -> bool:
    """Password-like keys (``password``, ``smtp_pass``, ``PASSWD``, ``auth.pass``, ``passwordeval`` …)."""
    last = re.split(r"[.\[\]]", key.strip("[]'\""))[-1] or key
    return bool(_SECRET_RE.search(last)) and not _NOT_SECRET_RE.search(last)


@dataclass(frozen=True)
class Ev:
    """A value while a reader evaluates an expression: known (literal kinds) or ENV / EXPRESSION."""

    kind: ValueKind
    value: Any = None
    env: str | None = None
    #: (path, trimmed): the value is that file's content, read when the app starts (``open(p).read()``,
    #: ``.strip()``ped or not: a Docker secret's trailing newline is part of the password unless it is)
    file: tuple[str, bool] | None = None
    #: (data file, parser, keys): the value is that document's, as app code loads and indexes it (readers/datafile)
    data: tuple[str, str, tuple[str | int, ...]] | None = None

    @property
    def known(self) -> bool:
        return self.kind in KNOWN


EXPR = Ev(ValueKind.EXPRESSION)
NIL = Ev(ValueKind.NIL)


def unknown(*parts: Ev) -> Ev:
    """The result of an operation over values that are not all known: ENV if one came from ENV."""
    for p in parts:
        if p.kind is ValueKind.ENV:
            return Ev(ValueKind.ENV, None, p.env)
    return EXPR


def file_content(path: Any, *, trimmed: bool) -> Ev:
    """A value the app reads from a file when it starts (a Docker secret): the content, as a string, when the
    file is here to read (an absolute path, so not depending on the folder the app runs in); ``raw`` masks it
    like any secret. Else an expression, and check says the file is missing when that path is not there."""
    if not isinstance(path, str):
        return EXPR
    try:
        if not os.path.isabs(path):
            raise OSError
        with open(path, "rb") as fh:
            text = fh.read(MAX_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return Ev(ValueKind.EXPRESSION, file=(path, trimmed))
    return Ev(ValueKind.STRING, text.strip() if trimmed else text, file=(path, trimmed))


def literal(value: Any) -> Ev:
    """Wrap a Python value the reader computed itself."""
    if value is None:
        return NIL
    if isinstance(value, bool):
        return Ev(ValueKind.BOOL, value)
    if isinstance(value, int):
        return Ev(ValueKind.INT, value)
    if isinstance(value, float):
        return Ev(ValueKind.FLOAT, value)
    if isinstance(value, str):
        return Ev(ValueKind.STRING, value)
    return EXPR


def raw(key: str, ev: Ev, text: str, origin: Origin, *, secret: bool | None = None) -> RawValue:
    """Build a RawValue, masking it when ``key`` holds a secret (value dropped, text masked)."""
    if secret is None:
        secret = is_secret_key(key)
    if secret:
        empty = ev.kind is ValueKind.STRING and ev.value == ""
        return RawValue(value="" if empty else None, kind=ev.kind, text="" if empty else MASK,
                        origin=origin, env=ev.env, secret=True, file=ev.file, data=ev.data)
    if isinstance(ev.value, str) and "static:" in ev.value:  # Postfix static:user:PASSWORD maps (issue 17)
        from ..secrets import mask_postfix_map

        ev, text = Ev(ev.kind, mask_postfix_map(ev.value), ev.env), mask_postfix_map(text)
    return RawValue(value=ev.value if ev.known else None, kind=ev.kind, text=text, origin=origin, env=ev.env,
                    file=ev.file, data=ev.data)


def add(config: RawConfig, key: str, value: RawValue) -> None:
    """Set ``key``; a later assignment wins, as in every format we read, and is noted."""
    if key in config.values and "readers.note.duplicate_key" not in config.notes:
        config.notes.append("readers.note.duplicate_key")
    config.values[key] = value


def note(config: RawConfig, key: str) -> None:
    if key not in config.notes:
        config.notes.append(key)


def finish(config: RawConfig) -> RawConfig:
    """Add the notes that follow from the values themselves."""
    if any(v.kind is ValueKind.ENV for v in config.values.values()):
        note(config, "readers.note.env_unresolved")
    return config


def read_text(path: Path) -> str:
    """Read a config file as text, refusing what cannot be one (missing, huge, binary)."""
    name = str(path)
    try:
        if not path.exists():
            raise UserError("readers.error.not_found", file=name)
        if not path.is_file():
            raise UserError("readers.error.unreadable", file=name)
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UserError("readers.error.too_large", file=name, size=size, limit=MAX_BYTES)
        data = path.read_bytes()
    except OSError:
        raise UserError("readers.error.unreadable", file=name) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError("readers.error.encoding", file=name, line=line) from None


def syntax_error(path: Path | str, line: int, column: int = 1) -> UserError:
    return UserError("readers.error.syntax", file=str(path), line=line, column=column)


def ruby_truthy(ev: Ev) -> bool:
    return not (ev.kind is ValueKind.NIL or (ev.kind is ValueKind.BOOL and ev.value is False))


def ruby_to_s(ev: Ev) -> str:
    if ev.kind is ValueKind.NIL:
        return ""
    if ev.kind is ValueKind.BOOL:
        return "true" if ev.value else "false"
    return str(ev.value)


class Lines:
    """Converts byte offsets (tree-sitter, ast) into 1-based character columns."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._bytes = [ln.encode("utf-8") for ln in text.split("\n")]

    def column(self, row: int, byte_col: int) -> int:
        """1-based character column of ``byte_col`` on 0-based ``row``."""
        if row >= len(self._bytes):
            return byte_col + 1
        return len(self._bytes[row][:byte_col].decode("utf-8", "replace")) + 1
