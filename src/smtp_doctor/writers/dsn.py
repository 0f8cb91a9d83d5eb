"""A fix applied inside one mailer DSN (Symfony ``MAILER_DSN``): only the parts that must change are rewritten.

A DSN holds the whole connection on one line — scheme, ``user:password``, host, port and query options —
so the line-by-line patch (patch.py) would have to rewrite the password to change the scheme. Here the
DSN is re-split where it is written (readers/dsn.py gives each part's offset in the text) and each change
is a span edit: the password, the user, the host and every option the fix does not name stay byte for
byte as the user wrote them (percent-encoding included). Anything this cannot edit safely (a value with
escapes or ``${…}``, a failover list, a change to user/password/host) is Unpatchable: the caller shows
words instead of a diff.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from ..predict import Fix
from ..readers.dsn import DsnError, Part, dsn_list, dsn_member, parse_dsn
from ..settings import RawConfig
from .edit import Patched, Unpatchable, split_lines

#: the dotenv keys that hold a DSN
DSN_KEYS = ("MAILER_DSN", "MAIL_URL")
#: parts a fix may never touch: they carry the login, and the password must stay byte for byte
_NEVER = frozenset({"user", "password", "host"})
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
#: ``KEY=value`` with an optional ``export``; the value bare, 'single' or "double" quoted
_ENTRY = re.compile(r"""^(?P<lead>\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*)"""
                    r"""(?P<q>['"]?)(?P<value>.*?)(?P=q)(?P<trail>\s*(?:\s#.*)?)$""")


def dsn_key(raw: RawConfig) -> str | None:
    """The DSN variable this config was read from, when it was read from one."""
    return next((k for k in DSN_KEYS if k in raw.values), None)


def _value_of(line: str) -> tuple[str, str, str, str]:
    """``line`` split into (text before the DSN, the DSN, text after it, key); Unpatchable when the DSN is
    not written literally (double quotes with escapes or ``$`` interpolation would change what is read)."""
    m = _ENTRY.match(line)
    if m is None:
        raise Unpatchable("fix.unpatchable.shared_line")
    value = m.group("value")
    if m.group("q") != "'" and any(c in value for c in "\\$`\"'") or " #" in value:
        raise Unpatchable("fix.unpatchable.shared_line")
    return m.group("lead") + m.group("q"), value, m.group("q") + m.group("trail"), m.group("key")


def _unliteral(line: str) -> tuple[str, str]:
    """A fix line (``key='value'`` as predict.render_line writes it) back into (key, value)."""
    key, _, text = line.partition("=")
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return key.strip(), text


def _encoded(key: str, value: str) -> str:
    """A part's new text as the DSN writes it: scheme and port are checked words, options percent-encoded."""
    if key == "scheme":
        if not _SCHEME.fullmatch(value):
            raise Unpatchable("fix.unpatchable.shared_line")
        return value
    if key == "port":
        if not (value.isascii() and value.isdigit() and 0 < int(value) < 65536):
            raise Unpatchable("fix.unpatchable.shared_line")
        return str(int(value))
    return quote(value, safe="")


def edit_dsn(dsn: str, changes: dict[str, str], remove: tuple[str, ...]) -> str:
    """``dsn`` with ``changes`` (part → new value) and ``remove`` applied as span edits; every other byte kept."""
    parsed = parse_dsn(dsn)
    if parsed is None:
        raise Unpatchable("fix.unpatchable.shared_line")  # failover(...) / roundrobin(...): words
    parts: dict[str, Part] = {}
    for p in parsed.parts:
        if p.key in parts and p.key in {*changes, *remove}:
            raise Unpatchable("fix.unpatchable.shared_line")  # an option written twice: which one wins is PHP's
        parts.setdefault(p.key, p)
    if _NEVER & {*changes, *remove} or "host" not in parts:
        raise Unpatchable("fix.unpatchable.shared_line")
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in dsn
    host = parts["host"]
    host_end = host.offset + len(host.text) + (2 if dsn[host.offset:host.offset + 1] == "[" else 0)  # [::1]
    query_at = dsn.find("?", host_end)
    fragment = dsn.find("#", host_end)
    query_end = fragment if fragment != -1 else len(dsn.rstrip())
    added: list[str] = []
    for key, value in changes.items():
        text = _encoded(key, value)
        part = parts.get(key)
        if part is not None:  # its value's span (an empty ``opt=`` has its offset right after the ``=``)
            edits.append((part.offset, part.offset + len(part.text), text))
        elif key == "port":
            if dsn[host_end:host_end + 1] == ":":
                raise Unpatchable("fix.unpatchable.shared_line")  # "host:" with an empty port
            edits.append((host_end, host_end, ":" + text))
        elif key == "scheme":
            raise Unpatchable("fix.unpatchable.shared_line")
        else:
            added.append(f"{quote(key, safe='')}={text}")
    for key in remove:
        part = parts.get(key)
        if part is None:
            continue
        if key == "port":
            edits.append((part.offset - 1, part.offset + len(part.text), ""))
            continue
        if key == "scheme":
            raise Unpatchable("fix.unpatchable.shared_line")
        start = dsn.rfind("&" if dsn.rfind("&", 0, part.offset) > query_at else "?", 0, part.offset)
        end = part.offset + len(part.text)
        if dsn[start] == "?":  # the first option: its "?" stays for the next one, or goes with it
            nxt = dsn.find("&", end, query_end)
            edits.append((start + 1, nxt + 1, "") if nxt != -1 else (start, end, ""))
        else:
            edits.append((start, end, ""))
    if added:
        sep = "&" if query_at != -1 and query_at < query_end and dsn[query_end - 1] != "?" else (
            "" if query_at != -1 and query_at < query_end else "?")
        edits.append((query_end, query_end, sep + "&".join(added)))
    out = dsn
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + text + out[end:]
    try:  # the result must still read as one DSN with the same user, password and host
        again = parse_dsn(out)
    except DsnError:
        raise Unpatchable("fix.unpatchable.shared_line") from None
    if again is None or any(next((p.text for p in again.parts if p.key == k), None) !=
                            next((p.text for p in parsed.parts if p.key == k), None) for k in _NEVER):
        raise Unpatchable("fix.unpatchable.shared_line")
    return out


def apply_dsn_fix(text: str, raw: RawConfig, fix: Fix) -> Patched:
    """``text`` with ``fix`` applied inside the DSN line; keys not in the DSN (none today) are refused."""
    key = dsn_key(raw)
    whole = raw.values.get(key) if key else None
    origin = whole.origin if whole is not None else None
    lines = split_lines(text, keepends=True)
    if origin is None or origin.file != raw.file or not 1 <= origin.line <= len(lines):
        raise Unpatchable("fix.unpatchable.elsewhere")
    n = origin.line
    line = lines[n - 1]
    body, ending = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")):]
    before, dsn, after, written = _value_of(body)
    if written != key:
        raise Unpatchable("fix.unpatchable.elsewhere")
    changes = dict(_unliteral(line) for line in fix.lines)
    if set(changes) != set(fix.keys):
        raise Unpatchable("fix.unpatchable.shared_line")
    if (found := dsn_member(dsn, raw.alternative)) is not None:  # one transport of a list: the rest byte for byte
        member, at = found
        new = dsn[:at] + edit_dsn(member, changes, tuple(k for k, _ in fix.remove)) + dsn[at + len(member):]
    else:
        new = edit_dsn(dsn, changes, tuple(k for k, _ in fix.remove))
    if new == dsn:
        return Patched(text, (), (), None)
    lines[n - 1] = before + new + after + ending
    return Patched("".join(lines), (), (n,), None)


def dsn_line(text: str, raw: RawConfig) -> str | None:
    """The line of ``text`` (without its line break) holding the config's DSN, when it is in this file."""
    key = dsn_key(raw)
    whole = raw.values.get(key) if key else None
    origin = whole.origin if whole is not None else None
    lines = split_lines(text)
    if origin is None or origin.file != raw.file or not 1 <= origin.line <= len(lines):
        return None
    return lines[origin.line - 1]


def dsn_passwords(dsn: str) -> tuple[str, ...]:
    """The password of one DSN or mailer URL as written (percent-encoded), each transport's of a failover(…)
    list; () when it does not parse."""
    if (listed := dsn_list(dsn)) is not None:
        return tuple(pw for member, _ in listed[1] for pw in dsn_passwords(member))
    try:
        parsed = parse_dsn(dsn)
    except DsnError:
        return ()
    return tuple(p.text for p in parsed.parts if p.key == "password" and p.text) if parsed else ()


def password_tokens(text: str, raw: RawConfig) -> tuple[str, ...]:
    """The password as written in the DSN line (percent-encoded), masked wherever it appears in a diff."""
    line = dsn_line(text, raw)
    m = _ENTRY.match(line) if line is not None else None
    return dsn_passwords(m.group("value")) if m else ()
