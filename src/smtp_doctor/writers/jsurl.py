"""A fix applied inside Nodemailer's URL form, ``createTransport("smtps://user:pass@host:587/?opt=v")``.

nodemailer's ``shared.parseConnectionUrl`` (lib/shared/index.js, 6.x and 8.x alike) reads the scheme as
``secure`` (``smtp:`` false, ``smtps:`` true), the port, the user info as ``auth`` and every query option as
an option of the transport, ``"true"``/``"false"`` as booleans and digits as numbers. So the object form's
fix lines map onto the URL: ``secure`` is the scheme, ``requireTLS: true`` the option ``requireTLS=true``.
The URL is edited part by part (writers/dsn.py ``edit_dsn``): user, password and host stay byte for byte.
A fix that needs code (a CA file read with ``fs.readFileSync``) cannot be written into a URL: Unpatchable,
and the caller shows the lines as words.
"""

from __future__ import annotations

from ..predict import Fix
from ..settings import RawConfig
from .dsn import dsn_passwords, edit_dsn
from .edit import Patched, Unpatchable, split_lines

#: object-form keys that are query options of the URL form (booleans in the fix rows)
_OPTIONS = frozenset({"requireTLS", "ignoreTLS", "opportunisticTLS"})


def is_url_form(raw: RawConfig) -> bool:
    return raw.framework == "nodemailer" and "url" in raw.values


def _literal(text: str, raw: RawConfig) -> tuple[int, int, int]:
    """(line index, start, end) of the URL inside its string literal; Unpatchable unless written literally."""
    url = raw.values.get("url")
    origin = url.origin if url is not None else None
    lines = split_lines(text, keepends=True)
    if origin is None or origin.file != raw.file or not 1 <= origin.line <= len(lines):
        raise Unpatchable("fix.unpatchable.elsewhere")
    line = lines[origin.line - 1]
    start = origin.column - 1
    quote = line[start:start + 1]
    end = line.find(quote, start + 1) if quote in ("'", '"', "`") else -1
    if end == -1 or any(c in line[start + 1:end] for c in "\\$"):
        raise Unpatchable("fix.unpatchable.shared_line")
    return origin.line - 1, start + 1, end


def _value(line: str, key: str) -> str:
    """``secure: false,`` (predict.render_line's js_object form) → ``false``."""
    head, _, value = line.partition(":")
    if head.strip() != key:
        raise Unpatchable("fix.unpatchable.shared_line")
    return value.strip().rstrip(",").strip().strip("'\"")


def apply_url_fix(text: str, raw: RawConfig, fix: Fix) -> Patched:
    n, start, end = _literal(text, raw)
    lines = split_lines(text, keepends=True)
    url = lines[n][start:end]
    if len(fix.lines) != len(fix.keys):
        raise Unpatchable("fix.unpatchable.shared_line")
    changes: dict[str, str] = {}
    for key, line in zip(fix.keys, fix.lines, strict=True):
        value = _value(line, key)
        if key == "secure" and value in ("true", "false"):
            changes["scheme"] = "smtps" if value == "true" else "smtp"
        elif key in _OPTIONS and value in ("true", "false"):
            changes[key] = value
        else:
            raise Unpatchable("fix.unpatchable.shared_line")  # tls: { ca: … } is code, not a URL option
    new = edit_dsn(url, changes, tuple(k for k, _ in fix.remove if k in _OPTIONS))
    if new == url:
        return Patched(text, (), (), None)
    lines[n] = lines[n][:start] + new + lines[n][end:]
    return Patched("".join(lines), (), (n + 1,), None)


def url_password_tokens(text: str, raw: RawConfig) -> tuple[str, ...]:
    """The password as written in the URL (percent-encoded), masked wherever it appears in a diff."""
    if not is_url_form(raw):
        return ()
    try:
        n, start, end = _literal(text, raw)
    except Unpatchable:
        return ()
    return dsn_passwords(split_lines(text)[n][start:end])
