"""A fix applied to one msmtp account, in that account's own section of the msmtprc.

msmtp reads ``defaults`` first and copies it into every account defined after it; ``account b : a`` copies
``a`` as it stands at that line (msmtp(1) 1.8.23, "account" and "defaults"). A value an account inherits is
therefore shared: changing the ``defaults`` line that gives ``tls_starttls off`` to the STARTTLS account would
also change the implicit-TLS account beside it. So a key written in the account's own section is changed
there, and an inherited key is overridden by a line added at the end of the account's section; the other
accounts keep what they had. A removal of an inherited key has no msmtprc spelling: Unpatchable.
"""

from __future__ import annotations

import re

from ..predict import Fix
from ..settings import RawConfig
from .edit import Patched, Unpatchable, split_lines

_SECTION = re.compile(r"\s*(?:account|defaults)\b")


def is_account(raw: RawConfig) -> bool:
    return raw.framework == "msmtp" and "account" in raw.values


def _section(lines: list[str], start: int) -> tuple[int, int]:
    """(first, last) 1-based line numbers of the section whose ``account`` line is ``start``: up to the
    next ``account`` / ``defaults`` line, without the blank or comment lines before it."""
    end = start
    for n in range(start + 1, len(lines) + 1):
        if _SECTION.match(lines[n - 1]):
            break
        if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#"):
            end = n
    return start, end


def apply_account_fix(text: str, raw: RawConfig, fix: Fix) -> Patched:
    account = raw.values["account"]
    lines = split_lines(text, keepends=True)
    if account.origin is None or account.origin.file != raw.file or not 1 <= account.origin.line <= len(lines):
        raise Unpatchable("fix.unpatchable.elsewhere")
    first, last = _section(lines, account.origin.line)

    def own_line(key: str) -> int | None:
        rv = raw.values.get(key)
        o = rv.origin if rv is not None else None
        if o is None or o.file != raw.file:
            return None
        return o.line if first < o.line <= last else None

    changed: dict[int, str] = {}
    removed: set[int] = set()
    for key, _ in fix.remove:
        n = own_line(key)
        if n is None:
            raise Unpatchable("fix.unpatchable.shared_line")  # inherited: msmtp has no "unset"
        removed.add(n)
    added: list[str] = []
    for key, new in zip(fix.keys, fix.lines, strict=True):
        n = own_line(key)
        if n is not None:
            line = lines[n - 1]
            indent = line[:len(line) - len(line.lstrip())]
            changed[n] = indent + new + line[len(line.rstrip("\r\n")):]
            removed.discard(n)
        else:
            added.append(new)
    anchor = lines[last - 1]
    ending = anchor[len(anchor.rstrip("\r\n")):] or "\n"
    if not anchor.endswith(("\n", "\r")):
        changed[last] = changed.get(last, anchor) + "\n"
    out: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n not in removed:
            out.append(changed.get(n, line))
        if n == last:
            out.extend(a + ending for a in added)
    return Patched("".join(out), tuple(sorted(removed)), tuple(sorted(changed)), last if added else None)
