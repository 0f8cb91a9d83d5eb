"""Trim a password where the app reads it from a file: ``secret.read()`` becomes ``secret.read().strip()``.

A secret file written by ``echo pw > file`` (or an editor) ends with a line break, and ``read()`` keeps it: the
app sends it as part of the password and the server refuses the login (login.padded says so). A fix never writes
the password itself; this one changes the code that reads it, so the file may keep its newline. Python only:
the Python reader follows ``open(…)`` / ``Path(…)`` into ``.read()`` / ``.read_text()`` and knows ``.strip()``
trims it (readers/python.py), so the re-check reads the trimmed password and logs in with it.
"""

from __future__ import annotations

import ast

from ..settings import Origin


def strip_file_read(text: str, origin: Origin) -> str | None:
    """``text`` with ``.strip()`` after the call assigned at ``origin``'s line (the password read from its file);
    None when that line assigns no call (an expression ``.strip()`` would not cover whole)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    value = next((n.value for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)
                  and n.lineno <= origin.line <= (n.end_lineno or n.lineno)), None)
    if not isinstance(value, ast.Call) or value.end_lineno is None or value.end_col_offset is None:
        return None
    lines = text.splitlines(keepends=True)
    line = lines[value.end_lineno - 1]
    cut = len(line.encode("utf-8")[:value.end_col_offset].decode("utf-8", errors="ignore"))  # ast counts bytes
    lines[value.end_lineno - 1] = line[:cut] + ".strip()" + line[cut:]
    return "".join(lines)


def trim_written(text: str, origin: Origin) -> str | None:
    """``text`` with the blanks around the value written at ``origin`` removed: inside its quotes, or after an
    unquoted value (a Java .properties value keeps its trailing blanks; java.util.Properties.load). None when
    there are none, or when trimming would end the line in a backslash (a .properties line continuation)."""
    lines = text.splitlines(keepends=True)
    if not 1 <= origin.line <= len(lines) or origin.column < 1:
        return None
    line = lines[origin.line - 1]
    body = line.rstrip("\r\n")
    head, value, end = body[:origin.column - 1], body[origin.column - 1:], line[len(body):]
    if value[:1] in ("'", '"'):
        close = _closing(value)
        if close is None:
            return None
        new = value[0] + value[1:close].strip(" \t") + value[close:]
    else:
        new = value.rstrip(" \t")
        if (len(new) - len(new.rstrip("\\"))) % 2:
            return None
    if new == value:
        return None
    lines[origin.line - 1] = head + new + end
    return "".join(lines)


def _closing(value: str) -> int | None:
    """The index of the quote that closes ``value``'s opening one (a backslash escapes the next character)."""
    i = 1
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == value[0]:
            return i
        i += 1
    return None
