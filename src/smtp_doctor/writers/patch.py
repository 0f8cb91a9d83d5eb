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
from pathlib import Path

from ..credentials import MASK
from ..predict import Fix
from ..readers import syntax_of
from ..settings import Origin, RawConfig
from .dsn import apply_dsn_fix, dsn_line, password_tokens
from .edit import Patched, Unpatchable, renamed_word, split_lines
from .hoist import hoist_env_load
from .jsurl import apply_url_fix, is_url_form, url_password_tokens
from .msmtprc import apply_account_fix, is_account
from .spring_yaml import apply_spring_yaml_fix
from .trim import strip_file_read, trim_written


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):] or "\n"


_STRING_KEY_BEFORE = re.compile(r"""(?P<q>['"])(?P<key>\w+)(?P=q)\s*=>\s*$""")
_STRING_INDEX_BEFORE = re.compile(r"""\[\s*(?P<q>['"])(?P<key>\w+)(?P=q)\s*\]\s*=\s*$""")


def symbolize(text: str, raw: RawConfig, keys: tuple[str, ...]) -> str:
    """``'port' => 587`` → ``port: 587`` and ``smtp_settings["port"] =`` → ``smtp_settings[:port] =``: only the
    key's spelling changes, found right before the value's column (so a secret value is never touched)."""
    lines = split_lines(text, keepends=True)
    for key in keys:
        rv = raw.values.get(key)
        o = rv.origin if rv else None
        if o is None or o.file != raw.file or not 1 <= o.line <= len(lines):
            raise Unpatchable("fix.unpatchable.elsewhere")
        line = lines[o.line - 1]
        before, after = line[:o.column - 1], line[o.column - 1:]
        if (m := _STRING_KEY_BEFORE.search(before)) and m.group("key") == key:
            before = before[:m.start()] + f"{key}: "
        elif (m := _STRING_INDEX_BEFORE.search(before)) and m.group("key") == key:
            before = before[:m.start()] + f"[:{key}] = "
        else:
            raise Unpatchable("fix.unpatchable.shared_line")
        lines[o.line - 1] = before + after
    return "".join(lines)


def _rename_env(text: str, raw: RawConfig, fix: Fix) -> Patched:
    lines = split_lines(text, keepends=True)
    changed = []
    for key, (old, new) in zip(fix.keys, fix.env_names, strict=True):
        origin = raw.values[key].origin if key in raw.values else None
        line = renamed_word(lines[origin.line - 1], old, new) if origin and 1 <= origin.line <= len(lines) else None
        if origin is None or line is None:
            raise Unpatchable("fix.unpatchable.elsewhere")
        lines[origin.line - 1] = line
        changed.append(origin.line)
    return Patched("".join(lines), (), tuple(changed), None)


def _restore_env(text: str, raw: RawConfig, fix: Fix) -> Patched:
    """Each key's value as written, after its ``=>`` on its own line, replaced by the expression in ``fix.lines``:
    a literal that shadows the env file by env('VAR', literal), an app's CA file by the one that verifies."""
    lines = split_lines(text, keepends=True)
    changed = []
    for key, new in zip(fix.keys, fix.lines, strict=True):
        rv = raw.values[key]
        n = rv.origin.line if rv.origin is not None and rv.origin.file == raw.file else 0
        head, arrow, tail = lines[n - 1].partition("=>") if 1 <= n <= len(lines) else ("", "", "")
        if not arrow or rv.text not in tail:
            raise Unpatchable("fix.unpatchable.elsewhere")
        lines[n - 1] = head + arrow + tail.replace(rv.text, new, 1)
        changed.append(n)
    return Patched("".join(lines), (), tuple(changed), None)


#: writers/trim.py: `.strip()` after the code that reads a password file; the blanks around a written password
_TRIMS = {"strip_secret": strip_file_read, "trim_value": trim_written}


def apply_fix(text: str, raw: RawConfig, fix: Fix, syntax: str) -> Patched:
    """``text`` with ``fix`` applied; raises Unpatchable when a line holds more than the key it is about
    (except a Ruby hash written on one line, which is edited entry by entry: ``_Inline``, and a mailer DSN,
    edited part by part: writers/dsn.py)."""
    if fix.group == "env_load_first":  # a statement moved, no setting changed (writers/hoist.py)
        moved = hoist_env_load(Path(raw.file), text, syntax_of(Path(raw.file)) or "")
        if moved is None:
            raise Unpatchable("fix.unpatchable.env_load")
        return Patched(moved, (), (), None)
    if fix.group in _TRIMS:  # the password's line, trimmed where the code reads it or where it is written
        rv = raw.values.get(fix.keys[0]) if fix.keys else None
        origin = rv.origin if rv is not None else None
        trimmed = _TRIMS[fix.group](text, origin) if origin is not None else None
        if trimmed is None or origin is None:
            raise Unpatchable("fix.unpatchable.elsewhere")
        return Patched(trimmed, (), (origin.line,), None)
    if fix.group == "env_name":  # the variable each key reads, renamed on its own line (remedy.env_names)
        return _rename_env(text, raw, fix)
    if fix.group in ("env_restore", "value_in_place"):  # a value replaced after its `=>` (remedy.py)
        return _restore_env(text, raw, fix)
    if syntax == "dsn":
        return apply_dsn_fix(text, raw, fix)
    if raw.framework == "spring" and raw.file.endswith((".yml", ".yaml")):  # nested keys (writers/spring_yaml.py)
        return apply_spring_yaml_fix(text, raw, fix)
    if is_url_form(raw):  # createTransport("smtps://…"): the fix goes into the URL (writers/jsurl.py)
        return apply_url_fix(text, raw, fix)
    if syntax == "msmtprc" and is_account(raw):  # into the account's own section (writers/msmtprc.py)
        return apply_account_fix(text, raw, fix)
    if fix.rename:  # columns stay where the reader saw them only when nothing else changes: rename alone
        return Patched(symbolize(text, raw, fix.rename), (), tuple(sorted({
            raw.values[k].origin.line for k in fix.rename if raw.values[k].origin is not None})), None)  # type: ignore[union-attr]
    lines = split_lines(text, keepends=True)
    located = {k: v.origin for k, v in raw.values.items() if v.origin is not None}
    touched = {*fix.keys, *(k for k, _ in fix.remove)}
    elsewhere = {k for k, o in located.items() if k in touched and o.file != raw.file}
    # decided in another file (an initializer, a YAML): refused, except in a Python settings module, where an
    # assignment at its end overrides what it imported (`from config.common import *`)
    if elsewhere and (syntax != "python" or any(k in elsewhere for k, _ in fix.remove)):
        raise Unpatchable("fix.unpatchable.elsewhere")
    located = {k: o for k, o in located.items() if o.file == raw.file}
    by_line: dict[int, list[str]] = {}
    for key, origin in located.items():
        by_line.setdefault(origin.line, []).append(key)
    # a key read only through another file (Laravel: config/mail.php's env('SMTP_CA_BUNDLE')) is found where its
    # value is written, under the key written there
    located |= {o.key: o for o in list(located.values()) if o.key not in located}
    inline: dict[int, _Inline] = {}

    def shared(n: int) -> _Inline | None:
        """The line's entry editor when the line holds more than one setting (a Ruby hash on one line, or
        an entry sharing its line with the hash's braces); None when the whole line is the setting."""
        if n in inline:
            return inline[n]
        keys = by_line.get(n, [])
        if syntax != "ruby_hash":  # one written key read twice (Laravel's MAIL_PORT through config/mail.php) is one
            if len({located[k].key for k in keys}) > 1:
                raise Unpatchable("fix.unpatchable.shared_line")
            return None
        edit = _Inline(lines[n - 1], {k: located[k] for k in keys}, raw)
        if len(keys) == 1 and edit.whole_line(keys[0]):
            return None
        inline[n] = edit
        return edit

    def line_of(key: str) -> int:
        origin = located.get(key)
        if origin is None:
            raise Unpatchable("fix.unpatchable.elsewhere")
        held = raw.values.get(key)
        if held is not None and "\n" in held.text:  # a value over several lines: replacing its first breaks the file
            raise Unpatchable("fix.unpatchable.multiline")
        if not 1 <= origin.line <= len(lines):
            raise Unpatchable("fix.unpatchable.shared_line")
        return origin.line

    removed: set[int] = set()
    for key, _ in fix.remove:
        n = line_of(key)
        edit = shared(n)
        if edit is not None:
            edit.remove(key)
        else:
            removed.add(n)
    changed: dict[int, str] = {}
    added: list[str] = []
    for key, new in zip(fix.keys, fix.lines, strict=True):
        if syntax == "python" and key in located and len(set(by_line.get(located[key].line, []))) > 1:
            added.append(new)  # vars().update(env.email_url()): a later assignment overrides, and new lines go last
        elif key in located:
            n = line_of(key)
            edit = shared(n)
            if edit is not None:
                edit.change(key, new)
                continue
            changed[n] = _indent(lines[n - 1]) + new + _ending(lines[n - 1])
            removed.discard(n)
        else:
            added.append(new)
    anchor: int | None = None
    if added:
        # a new entry goes after an entry of the same hash, never after `config.action_mailer.delivery_method =`
        entries = {n for n, keys in by_line.items()
                   if syntax != "ruby_hash" or any("." not in located[k].key for k in keys)}
        if syntax == "js_object":  # nor after `auth: { user, pass }`: a nested object's line is not an entry's
            entries = {n for n in entries if all("." not in k for k in by_line[n])}
        kept = [n for n in entries if n not in removed and 1 <= n <= len(lines)]
        if elsewhere and lines:
            kept = [len(lines)]  # after every import, or the imported value wins again
        if not kept:  # the settings are all written in another file (a module the config requires): that one
            raise Unpatchable("fix.unpatchable.elsewhere" if any(v.origin is not None for v in raw.values.values())
                              and not located else "fix.unpatchable.no_anchor")
        anchor = max(kept)
        edit = shared(anchor)
        if edit is not None:
            edit.add(added)
            added, anchor = [], None
    for n, edit in inline.items():
        changed[n] = edit.result()
    if added and anchor is not None:
        anchor_line = changed.get(anchor, lines[anchor - 1])
        body = anchor_line.rstrip("\r\n")
        comment = "#" if syntax == "ruby_hash" else "//"
        if syntax in ("ruby_hash", "js_object") and not body.rstrip().endswith((",", "{")) and comment not in body:
            anchor_line = body.rstrip() + "," + _ending(anchor_line)  # the last hash entry gains a comma
            changed[anchor] = anchor_line
        if not anchor_line.endswith(("\n", "\r")):  # the file's last line, without its line break
            anchor_line = changed[anchor] = anchor_line + _ending(anchor_line)
        # an override of an imported value goes at the module's top level, whatever block the file ends in
        indent, ending = ("" if elsewhere else _indent(anchor_line)), _ending(anchor_line)
        added = [indent + line + ending for line in added]
    out: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n in removed:
            continue
        out.append(changed.get(n, line))
        if n == anchor:
            out.extend(added)
    return Patched("".join(out), tuple(sorted(removed)), tuple(sorted(changed)), anchor)


#: the key in front of a Ruby hash value: ``key: ``, ``:key => ``, ``"key" => ``, ``'key' => ``
_RUBY_KEY = re.compile(r"""(?:(\w+):|:(\w+)\s*=>|["'](\w+)["']\s*=>)\s*$""")


class _Inline:
    """Edits of one line that holds several entries of a Ruby hash (``{ address: 'x', tls: true }``).

    The reader gave each value's column and source text; an entry is found from there (its key just
    before it, spelled in any of Ruby's ways), so nothing is guessed: any mismatch is Unpatchable, and
    the caller shows the lines to change instead of a diff."""

    def __init__(self, line: str, keys: dict[str, Origin], raw: RawConfig) -> None:
        self.line, self.body = line, line.rstrip("\r\n")
        self.spans: dict[str, tuple[int, int, int]] = {}  # key -> (entry start, value start, value end)
        for key, origin in keys.items():
            rv = raw.values[key]
            start = origin.column - 1
            if rv.secret or self.body[start:start + len(rv.text)] != rv.text:
                continue  # a masked secret or an expression: never edited, only kept as it is
            m = _RUBY_KEY.search(self.body[:start])
            if m and key in m.groups():
                self.spans[key] = (m.start(), start, start + len(rv.text))
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original body
        self.extra: list[str] = []

    def whole_line(self, key: str) -> bool:
        """The line is this entry alone (with its comma and a comment at most)."""
        if key not in self.spans:
            return len(self.spans) == 0  # nothing editable here: the line-level path decides (and refuses)
        begin, _, end = self.spans[key]
        return not self.body[:begin].strip() and re.fullmatch(r"\s*,?\s*(#.*)?", self.body[end:]) is not None

    def _span(self, key: str) -> tuple[int, int, int]:
        if key not in self.spans:
            raise Unpatchable("fix.unpatchable.shared_line")
        return self.spans[key]

    def remove(self, key: str) -> None:
        begin, _, end = self._span(key)
        after = re.match(r"\s*,\s*", self.body[end:])
        if after:
            self.edits.append((begin, end + after.end(), ""))
        else:  # the last entry: its separator is the comma before it
            before = re.search(r",\s*$", self.body[:begin])
            self.edits.append((before.start() if before else begin, end, ""))

    def change(self, key: str, new_line: str) -> None:
        _, start, end = self._span(key)
        m = re.fullmatch(rf"{re.escape(key)}: (.*?),?", new_line)
        if m is None:
            raise Unpatchable("fix.unpatchable.shared_line")
        self.edits.append((start, end, m.group(1)))

    def add(self, new_lines: list[str]) -> None:
        self.extra += [line.rstrip().removesuffix(",") for line in new_lines]

    def result(self) -> str:
        body = self.body
        for start, end, text in sorted(self.edits, reverse=True):
            body = body[:start] + text + body[end:]
        if self.extra:
            close = body.rfind("}")
            if close < 0 or body[close + 1:].strip():
                raise Unpatchable("fix.unpatchable.shared_line")  # the hash does not close on this line
            head = body[:close].rstrip()
            if not head.strip():  # only the closing brace is left: the entries take the line's indentation
                head, sep = _indent(self.body).rstrip("\r\n"), ""
            else:
                sep = " " if head.endswith(("{", ",")) else ", "
            body = head + sep + ", ".join(self.extra) + " " + body[close:]
        return body + _ending(self.line)


#: a value that only names where the secret comes from (Ruby, Python, Node, PHP/Laravel, shell)
_LOOKUP = re.compile(r"(ENV\s*[\[.]|os\.environ|os\.getenv|process\.env|env\(|getenv\(|\$\{?[A-Z_])")


def secret_lines(text: str, raw: RawConfig) -> dict[str, str]:
    """The lines of ``text`` that hold a literal secret (not an ENV lookup), each with its masked form."""
    lines = split_lines(text)
    out: dict[str, str] = {}
    for v in raw.values.values():
        o = v.origin
        if not v.secret or o is None or o.file != raw.file or not 1 <= o.line <= len(lines):
            continue
        line = lines[o.line - 1]
        cut = o.column - 1 if o.column > 1 else max(line.find("="), line.find(":")) + 1
        if not _LOOKUP.match(line[cut:].strip()):  # `password: ENV['X']` holds no secret: keep it, patch needs it
            out[line] = _masked(line, cut)
        elif defaults := _lookup_defaults(line[cut:]):  # os.getenv("X", "literal"): the default is the secret
            masked = line
            for token in defaults:
                masked = masked.replace(token, MASK)
            out[line] = masked
    written, tokens = dsn_line(text, raw), password_tokens(text, raw)
    if written is not None and written in out and tokens:  # a DSN: only its password masked, host/port shown
        masked = written
        for token in tokens:
            masked = masked.replace(token, MASK)
        out[written] = masked
    return out


_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,}#]+""")
_QUOTED = re.compile(r"""\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


_STRING = re.compile(r"'(?:[^'\\]|\\.)*'" r'|"(?:[^"\\]|\\.)*"')
#: a property placeholder's default: ``${SMTP_PASSWORD:literal}`` (Spring)
_PLACEHOLDER_DEFAULT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_.\-]*:([^}]+)\}")


def _lookup_defaults(value: str) -> list[str]:
    """The literals a variable lookup falls back to (``os.getenv("X", "pw")``, ``ENV.fetch('X', 'pw')``,
    ``process.env.X || 'pw'``, ``${X:pw}``): the password when the variable is not set, so never shown."""
    # the literal right after "(" or "[" names the variable (os.getenv("X", …), ENV['X']); any other is a value
    quoted = [m.group(0) for m in _STRING.finditer(value) if not value[:m.start()].rstrip().endswith(("(", "["))]
    return [q for q in quoted if len(q) > 2] + [m.group(1) for m in _PLACEHOLDER_DEFAULT.finditer(value)]


def _masked(line: str, cut: int) -> str:
    """The line with the secret at ``cut`` masked: a quoted literal alone (``pass: '…' },`` keeps its `` },``),
    anything else to the end of the line (an unquoted dotenv value may hold blanks)."""
    if (m := _QUOTED.match(line, cut)) is not None:
        return line[:cut] + " " * (m.start(1) - cut) + MASK + line[m.end():]
    return line[:cut] + MASK + ("," if line.rstrip().endswith(",") else "")


def secret_tokens(text: str, raw: RawConfig) -> tuple[str, ...]:
    """The literal secrets of ``text`` as written (a quoted string, or the bare value): masked wherever
    they appear in a diff, also inside a line the fix changed (a Ruby hash on one line)."""
    lines = split_lines(text)
    out: list[str] = []
    dsn = dsn_line(text, raw) if password_tokens(text, raw) else None
    for line in secret_lines(text, raw):
        if line == dsn:
            continue  # the password's exact text below; a token cut at "@" would hide the host and port too
        for v in raw.values.values():
            o = v.origin
            if not v.secret or o is None or o.file != raw.file or not 1 <= o.line <= len(lines) \
                    or lines[o.line - 1] != line:
                continue
            cut = o.column - 1 if o.column > 1 else max(line.find("="), line.find(":")) + 1
            rest = line[cut:].strip() if o.column <= 1 else line[cut:]
            if _LOOKUP.match(rest.strip()):
                out.extend(_lookup_defaults(rest))
                continue
            m = _TOKEN.match(rest)
            if m and m.group(0):
                out.append(m.group(0))
    # a DSN's or a Nodemailer URL's password, also inside a line the fix changed
    return (*out, *password_tokens(text, raw), *url_password_tokens(text, raw))


def unified_diff(before: str, after: str, path: str, secrets: dict[str, str] | None = None,
                 tokens: tuple[str, ...] = ()) -> str:
    """A diff ``patch -p1`` applies from the directory holding ``path``'s top folder. Lines holding a
    literal secret are shown masked (a hunk that includes one then needs ``--write`` instead of patch)."""
    secrets = secrets or {}
    path = os.path.relpath(path) if os.path.isabs(path) and not os.path.relpath(path).startswith("..") else path
    path = path.lstrip("/")
    out = []
    for line in difflib.unified_diff(split_lines(before, keepends=True), split_lines(after, keepends=True),
                                     f"a/{path}", f"b/{path}"):
        body = line[1:].rstrip("\r\n")
        if line[:1] in " +-" and body in secrets:
            line = line[0] + secrets[body] + "\n"
        elif line[:1] in " +-" and any(token in body for token in tokens):
            for token in tokens:
                body = body.replace(token, MASK)
            line = line[0] + body + "\n"
        out.append(line)
    return "".join(out)
