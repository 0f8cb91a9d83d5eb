"""Apply a fix to the config file's own text: the lines the reader located, changed in place.

Pure text work, no parsing: the reader already said where every key was written (``Origin``), so a
removed key loses its line, a changed key gets its line rewritten with the same indentation, and a new
key goes after the last line the reader located, indented like it. When that is not safe — two keys on
one line (``{ address: 'x', tls: true }``), or a key the reader found in another file — the patch is
refused and the caller shows the corrected lines instead of a diff.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

from ..credentials import MASK
from ..predict import Fix
from ..settings import RawConfig


class Unpatchable(Exception):
    """The file cannot be changed line by line; the reason is a catalogue key."""


@dataclass(frozen=True)
class Patched:
    text: str
    removed: tuple[int, ...]  #: 1-based line numbers of the original text
    changed: tuple[int, ...]
    added_after: int | None  #: the line new keys were inserted after


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):] or "\n"


def apply_fix(text: str, raw: RawConfig, fix: Fix, syntax: str) -> Patched:
    """``text`` with ``fix`` applied; raises Unpatchable when a line holds more than the key it is about."""
    lines = text.splitlines(keepends=True)
    located = {k: v.origin for k, v in raw.values.items() if v.origin is not None}
    if any(o.file != raw.file for o in located.values()):
        located = {k: o for k, o in located.items() if o.file == raw.file}
    by_line: dict[int, list[str]] = {}
    for key, origin in located.items():
        by_line.setdefault(origin.line, []).append(key)

    def own_line(key: str) -> int:
        origin = located.get(key)
        if origin is None:
            raise Unpatchable("fix.unpatchable.elsewhere")
        if len(by_line[origin.line]) > 1 or not 1 <= origin.line <= len(lines):
            raise Unpatchable("fix.unpatchable.shared_line")
        return origin.line

    removed = {own_line(key) for key, _ in fix.remove}
    changed: dict[int, str] = {}
    added: list[str] = []
    for key, new in zip(fix.keys, fix.lines, strict=True):
        if key in located:
            n = own_line(key)
            changed[n] = _indent(lines[n - 1]) + new + _ending(lines[n - 1])
            removed.discard(n)
        else:
            added.append(new)
    anchor: int | None = None
    if added:
        kept = [n for n in by_line if n not in removed and 1 <= n <= len(lines)]
        if not kept:
            raise Unpatchable("fix.unpatchable.no_anchor")
        anchor = max(kept)
        anchor_line = changed.get(anchor, lines[anchor - 1])
        body = anchor_line.rstrip("\r\n")
        if syntax == "ruby_hash" and not body.rstrip().endswith((",", "{")) and "#" not in body:
            anchor_line = body.rstrip() + "," + _ending(anchor_line)  # the last hash entry gains a comma
            changed[anchor] = anchor_line
        indent, ending = _indent(anchor_line), _ending(anchor_line)
        added = [indent + line + ending for line in added]
    out: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n in removed:
            continue
        out.append(changed.get(n, line))
        if n == anchor:
            out.extend(added)
    return Patched("".join(out), tuple(sorted(removed)), tuple(sorted(changed)), anchor)


#: a value that only names where the secret comes from (Ruby, Python, Node, PHP/Laravel, shell)
_LOOKUP = re.compile(r"(ENV\s*[\[.]|os\.environ|os\.getenv|process\.env|env\(|getenv\(|\$\{?[A-Z_])")


def secret_lines(text: str, raw: RawConfig) -> dict[str, str]:
    """The lines of ``text`` that hold a literal secret (not an ENV lookup), each with its masked form."""
    lines = text.splitlines()
    out: dict[str, str] = {}
    for v in raw.values.values():
        o = v.origin
        if not v.secret or o is None or o.file != raw.file or not 1 <= o.line <= len(lines):
            continue
        line = lines[o.line - 1]
        cut = o.column - 1 if o.column > 1 else max(line.find("="), line.find(":")) + 1
        if not _LOOKUP.match(line[cut:].strip()):  # `password: ENV['X']` holds no secret: keep it, patch needs it
            out[line] = line[:cut] + MASK + ("," if line.rstrip().endswith(",") else "")
    return out


def unified_diff(before: str, after: str, path: str, secrets: dict[str, str] | None = None) -> str:
    """A diff ``patch -p1`` applies from the directory holding ``path``'s top folder. Lines holding a
    literal secret are shown masked (a hunk that includes one then needs ``--write`` instead of patch)."""
    secrets = secrets or {}
    path = os.path.relpath(path) if os.path.isabs(path) and not os.path.relpath(path).startswith("..") else path
    path = path.lstrip("/")
    out = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     f"a/{path}", f"b/{path}"):
        body = line[1:].rstrip("\r\n")
        if line[:1] in " +-" and body in secrets:
            line = line[0] + secrets[body] + "\n"
        out.append(line)
    return "".join(out)
