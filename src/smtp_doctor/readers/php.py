"""Nextcloud ``config/config.php`` (``$CONFIG = array(...)``) via tree-sitter's PHP grammar.

Only array literals, scalars and ``getenv('X')`` (with ``?:`` defaults) are folded; the file is never
included or run. Nested arrays (``mail_smtpstreamoptions``) become dotted keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from ..settings import Origin, RawConfig, ValueKind
from ._common import EXPR, NIL, Ev, add, finish, raw, unknown
from ._ts import Source, walk

_MAX_DEPTH = 16


class _Reader:
    def __init__(self, src: Source, env: Mapping[str, str] | None) -> None:
        self.src = src
        self.env = env

    def string(self, node: Node) -> str | None:
        parts = []
        for child in node.named_children:
            if child.type == "string_content":
                parts.append(self.src.text(child))
            elif child.type == "escape_sequence":
                seq = self.src.text(child)
                parts.append({"\\n": "\n", "\\t": "\t"}.get(seq, seq[1:]))
            else:
                return None  # "$interpolated"
        return "".join(parts)

    def eval(self, node: Node | None) -> Ev:
        if node is None:
            return EXPR
        t = node.type
        text = self.src.text(node)
        if t in ("string", "encapsed_string"):
            s = self.string(node)
            return Ev(ValueKind.STRING, s) if s is not None else EXPR
        if t == "integer":
            try:
                return Ev(ValueKind.INT, int(text.replace("_", ""), 0) if not text.startswith("0") or text == "0"
                          or text[:2].lower() in ("0x", "0b", "0o") else int(text, 8))
            except ValueError:
                return EXPR
        if t == "float":
            return Ev(ValueKind.FLOAT, float(text.replace("_", "")))
        if t == "boolean":
            return Ev(ValueKind.BOOL, text.lower() == "true")
        if t == "null":
            return NIL
        if t == "parenthesized_expression" and node.named_children:
            return self.eval(node.named_children[0])
        if t == "function_call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            is_getenv = fn is not None and self.src.text(fn).lstrip("\\") == "getenv"
            if is_getenv and args is not None and args.named_children:
                arg = args.named_children[0]
                name = self.eval(arg.named_children[0] if arg.type == "argument" and arg.named_children else arg)
                if name.kind is ValueKind.STRING:
                    if self.env is None:
                        return Ev(ValueKind.ENV, None, name.value)
                    if name.value in self.env:
                        return Ev(ValueKind.STRING, self.env[name.value], name.value)
                    return Ev(ValueKind.BOOL, False, name.value)  # getenv() returns false when unset
            return EXPR
        if t == "conditional_expression":  # `a ?: b` and `a ? b : c`
            kids = node.named_children
            cond = self.eval(kids[0]) if kids else EXPR
            if not cond.known:
                return unknown(cond)
            truthy = bool(cond.value) and cond.value != "0"
            if len(kids) == 2:
                return cond if truthy else self.eval(kids[1])
            return self.eval(kids[1] if truthy else kids[2]) if len(kids) == 3 else EXPR
        return EXPR

    def fill(self, config: RawConfig, array: Node, prefix: str, depth: int) -> None:
        for element in array.named_children:
            if element.type != "array_element_initializer":
                continue
            kids = element.named_children
            if len(kids) != 2:
                continue
            key_ev = self.eval(kids[0])
            if not key_ev.known:
                continue
            key = f"{prefix}{key_ev.value}"
            value = kids[1]
            if not prefix and not key.startswith("mail_"):
                continue
            if value.type == "array_creation_expression" and depth < _MAX_DEPTH:
                self.fill(config, value, key + ".", depth + 1)
            else:
                add(config, key, raw(key, self.eval(value), self.src.text(value),
                                     self.src.origin(value, self.src.text(kids[0]))))


def read_php(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    src = Source(path, text, "php")
    reader = _Reader(src, env)
    config = RawConfig("nextcloud", src.file)
    for node in walk(src.root):
        if node.type == "assignment_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None and src.text(left) == "$CONFIG" and \
                    right.type == "array_creation_expression":
                reader.fill(config, right, "", 0)
    return [finish(config)] if config.values or framework else []


# -- Laravel config/mail.php (the array the app's mail transport is built from) ---------------------------------


@dataclass(frozen=True)
class LaravelValue:
    """One entry of config/mail.php's ``mailers.smtp`` array: a literal, or ``env('X', default)``."""

    key: str  #: dotted inside the mailer: ``port``, ``encryption``, ``stream.ssl.cafile``
    ev: Ev  #: the literal, or env()'s default (NIL when env() has none)
    text: str
    origin: Origin
    env: str | None = None  #: the variable env() reads; the .env or the environment decides first


def _array_items(reader: _Reader, array: Node) -> list[tuple[str, Node, Node]]:
    out = []
    for element in array.named_children:
        kids = element.named_children
        if element.type == "array_element_initializer" and len(kids) == 2:
            key = reader.eval(kids[0])
            if key.kind is ValueKind.STRING and isinstance(key.value, str):
                out.append((key.value, kids[0], kids[1]))
    return out


#: Laravel's path helpers (Illuminate/Foundation/helpers.php → Application::basePath(), storagePath(), …): the
#: folder under the app root each one joins its argument to, so ``'cafile' => base_path('certs/ca.pem')`` is a
#: file check can look for
_PATH_HELPERS = {"base_path": "", "app_path": "app", "config_path": "config", "database_path": "database",
                 "public_path": "public", "resource_path": "resources", "storage_path": "storage"}


def _laravel_value(reader: _Reader, key: str, key_node: Node, node: Node, root: Path) -> LaravelValue:
    src = reader.src
    origin = src.origin(node, src.text(key_node))
    if node.type == "function_call_expression":
        fn, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        name_of = src.text(fn).lstrip("\\") if fn is not None else ""
        values = [a.named_children[0] if a.type == "argument" and a.named_children else a
                  for a in (args.named_children if args is not None else [])]
        if name_of == "env" and values:
            name = reader.eval(values[0])
            if name.kind is ValueKind.STRING and isinstance(name.value, str):
                default = reader.eval(values[1]) if len(values) > 1 else NIL
                return LaravelValue(key, default, src.text(node), origin, name.value)
        if name_of in _PATH_HELPERS and len(values) <= 1:
            part = reader.eval(values[0]) if values else Ev(ValueKind.STRING, "")
            if part.kind is ValueKind.STRING and isinstance(part.value, str):
                where = root / _PATH_HELPERS[name_of] / part.value.lstrip("/")
                return LaravelValue(key, Ev(ValueKind.STRING, str(where)), src.text(node), origin)
    return LaravelValue(key, reader.eval(node), src.text(node), origin)


def laravel_mailer(path: Path, text: str) -> list[LaravelValue]:
    """The ``mailers.smtp`` array of a Laravel 7+ config/mail.php, read as PHP data (never run); of the
    ``mail`` entry in bootstrap/cache/config.php (``php artisan config:cache``: every config file's array, env()
    already folded in) when that is the file.

    Laravel 8's MailManager::createSmtpTransport builds SwiftMailer's transport from exactly this array
    (/usr/share/php/Illuminate/Mail/MailManager.php:187-224: host, port, encryption, username, stream), so a
    value hard-coded here wins over the .env, and ``'stream' => ['ssl' => [...]]`` is the TLS context.
    """
    src = Source(path, text, "php")
    reader = _Reader(src, None)
    root = path.resolve().parent.parent  # config/mail.php (bootstrap/cache/config.php has every path folded)
    out: list[LaravelValue] = []
    for node in walk(src.root):
        if node.type != "return_statement" or not node.named_children:
            continue
        top = node.named_children[0]
        if top.type != "array_creation_expression":
            continue
        items = _array_items(reader, top)
        mail = next((v for k, _, v in items if k == "mail"), None)  # bootstrap/cache/config.php: every file's array
        if mail is not None and mail.type == "array_creation_expression":
            items = _array_items(reader, mail)
        mailers = next((v for k, _, v in items if k == "mailers"), None)
        if mailers is None or mailers.type != "array_creation_expression":
            continue
        smtp = next((v for k, _, v in _array_items(reader, mailers) if k == "smtp"), None)
        if smtp is None or smtp.type != "array_creation_expression":
            continue
        stack: list[tuple[str, Node, int]] = [("", smtp, 0)]
        while stack:
            prefix, array, depth = stack.pop()
            for key, key_node, value in _array_items(reader, array):
                if value.type == "array_creation_expression" and depth < _MAX_DEPTH:
                    stack.append((f"{prefix}{key}.", value, depth + 1))
                else:
                    out.append(_laravel_value(reader, prefix + key, key_node, value, root))
        break
    return out
