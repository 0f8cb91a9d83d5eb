"""Nodemailer transport options from JavaScript/TypeScript (``createTransport({...})``), via tree-sitter.

Only the expressions people put in transport options are folded (``process.env.X``, ``||``, ``??``,
``===``, ``Number()``, ``parseInt()``, ``JSON.parse()``, ``encodeURIComponent()``, ``.toLowerCase()``, ``!``,
ternaries, ``const`` objects); JavaScript truthiness is the framework model's business, so
``secure: process.env.SMTP_SECURE`` stays the *string* it will be.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, unquote

from tree_sitter import Node

from ..errors import UserError
from ..settings import RawConfig, ValueKind
from ._common import EXPR, MASK, NIL, Ev, add, finish, note, raw, unknown
from ._ts import Source, script_grammar, walk
from .dsn import DsnError, parse_dsn
from .loaded_env import not_known

_MAX_DEPTH = 32
#: a local module the options are required from: how its file may be named, and the largest read
_MODULE_SUFFIXES = (".js", ".cjs", ".mjs", ".ts")
_MAX_MODULE = 1 << 20


#: ES2015 made Number.parseInt / Number.parseFloat the very functions parseInt / parseFloat are (ECMA-262 21.1.2)
_ALIASES = {"Number.parseInt": "parseInt", "Number.parseFloat": "parseFloat"}

def _decode_uri(text: str) -> str:
    """decodeURIComponent, which throws URIError on a malformed escape (ECMA-262 19.2.6.2)."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise UnicodeError(text)
    return unquote(text, errors="strict")


#: encodeURIComponent leaves A–Z a–z 0–9 - _ . ! ~ * ' ( ) as they are (ECMA-262 19.2.6.5)
_URI: dict[str, Callable[[str], str]] = {"encodeURIComponent": lambda s: quote(s, safe="-_.!~*'()"),
                                         "decodeURIComponent": _decode_uri}


#: the String.prototype methods people normalise a setting with (no argument)
_STRING_METHODS: dict[str, Callable[[str], str]] = {
    "toLowerCase": str.lower, "toUpperCase": str.upper, "trim": str.strip, "trimStart": str.lstrip,
    "trimEnd": str.rstrip, "toString": str,
}


def _js_truthy(ev: Ev) -> bool:
    if ev.kind is ValueKind.NIL:
        return False
    if ev.kind in (ValueKind.INT, ValueKind.FLOAT):
        return ev.value != 0 and not math.isnan(ev.value)
    return bool(ev.value)


def _number(value: float) -> Ev:
    if math.isfinite(value) and value == int(value):
        return Ev(ValueKind.INT, int(value))
    return Ev(ValueKind.FLOAT, value)


def _to_number(ev: Ev) -> Ev:
    if ev.kind is ValueKind.BOOL:
        return Ev(ValueKind.INT, int(ev.value), ev.env)
    if ev.kind is ValueKind.NIL:
        return Ev(ValueKind.INT, 0, ev.env)  # Number(null); Number(undefined) is NaN, rarely written
    if ev.kind in (ValueKind.INT, ValueKind.FLOAT):
        return ev
    s = str(ev.value).strip()
    try:
        n = _number(float(s)) if s else Ev(ValueKind.INT, 0)
    except ValueError:
        n = Ev(ValueKind.FLOAT, math.nan)
    return Ev(n.kind, n.value, ev.env)


def _js_str(ev: Ev) -> str:
    """``String(x)`` for the kinds we hold (what parseInt sees)."""
    if ev.kind is ValueKind.NIL:
        return "null"
    if ev.kind is ValueKind.BOOL:
        return "true" if ev.value else "false"
    return str(ev.value)


def _reads_file(code: str) -> bool:
    """``fs.readFileSync(…)`` / ``readFileSync(…)`` / ``require('fs').readFileSync(…)``: Node reads that file
    when the transport is created."""
    return re.match(r"""(?:[\w$.]+\.|require\(\s*['"](?:node:)?fs['"]\s*\)\.)?readFileSync\b""",
                    code.strip()) is not None


class _Reader:
    def __init__(self, src: Source, env: Mapping[str, str] | None) -> None:
        self.src = src
        self.env = env
        self.decls: dict[str, Node] = {}
        self.imports: dict[str, str] = {}  #: `import name from './x'`: name → './x'
        for node in walk(src.root):
            if node.type == "import_statement":
                source = node.child_by_field_name("source")
                clause = next((c for c in node.named_children if c.type == "import_clause"), None)
                default = next((c for c in clause.named_children if c.type == "identifier"), None) if clause else None
                if source is not None and default is not None:
                    self.imports.setdefault(src.text(default), src.text(source)[1:-1])
            if node.type == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if name is not None and value is not None and name.type == "identifier":
                    self.decls.setdefault(src.text(name), value)

    def env_ref(self, node: Node) -> str | None:
        """``process.env.X`` / ``process.env['X']`` → ``X``."""
        obj = node.child_by_field_name("object")
        if obj is None or self.src.text(obj).replace(" ", "") != "process.env":
            return None
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            return self.src.text(prop) if prop is not None else None
        index = node.child_by_field_name("index")
        ev = self.eval(index, 0) if index is not None else EXPR
        return ev.value if ev.kind is ValueKind.STRING else None

    def lookup(self, name: str) -> Ev:
        if self.env is None or not_known(self.env, name):
            return Ev(ValueKind.ENV, None, name)
        return Ev(ValueKind.STRING, self.env[name], name) if name in self.env else Ev(ValueKind.NIL, None, name)

    def resolve(self, node: Node, depth: int = 0) -> Node:
        """Follow an identifier / ``as`` / parentheses to the expression behind it."""
        while depth < _MAX_DEPTH:
            depth += 1
            if node.type == "identifier" and self.src.text(node) in self.decls:
                node = self.decls[self.src.text(node)]
            elif node.type in ("parenthesized_expression", "as_expression", "satisfies_expression",
                               "non_null_expression", "await_expression") and node.named_children:
                node = node.named_children[0]
            else:
                break
        return node

    def chosen(self, node: Node) -> Node:
        """The branch a ternary with a condition known here takes (``auth: user ? { user, pass } : undefined``),
        followed as far as conditions are known; the expression itself otherwise."""
        node = self.resolve(node)
        for _ in range(_MAX_DEPTH):
            if node.type != "ternary_expression":
                break
            cond = self.eval(node.child_by_field_name("condition"), 1)
            if not cond.known:
                break
            branch = node.child_by_field_name("consequence" if _js_truthy(cond) else "alternative")
            if branch is None:
                break
            node = self.resolve(branch)
        return node

    def eval(self, node: Node | None, depth: int) -> Ev:  # noqa: C901 - one dispatch over node types
        if node is None or depth > _MAX_DEPTH:
            return EXPR
        node = self.resolve(node)
        t = node.type
        text = self.src.text(node)
        if t == "number":
            try:
                return _number(float(int(text.replace("_", ""), 0)) if text[:2].lower() in ("0x", "0o", "0b")
                               else float(text.replace("_", "")))
            except ValueError:
                return EXPR
        if t in ("true", "false"):
            return Ev(ValueKind.BOOL, t == "true")
        if t in ("null", "undefined"):
            return NIL
        if t == "string":
            try:
                return Ev(ValueKind.STRING, json.loads('"' + text[1:-1].replace('"', '\\"')
                                                       .replace("\\'", "'") + '"'))
            except ValueError:
                return Ev(ValueKind.STRING, text[1:-1])
        if t == "template_string":
            parts: list[str] = []
            env = None
            for child in node.named_children:
                if child.type == "string_fragment":
                    parts.append(self.src.text(child))
                elif child.type == "template_substitution":
                    inner = self.eval(child.named_children[0] if child.named_children else None, depth + 1)
                    if not inner.known:
                        return unknown(inner)
                    env = env or inner.env
                    parts.append("null" if inner.kind is ValueKind.NIL else
                                 str(inner.value).lower() if inner.kind is ValueKind.BOOL else str(inner.value))
                else:
                    return EXPR
            return Ev(ValueKind.STRING, "".join(parts), env)
        if t == "array":  # tls.ca: [fs.readFileSync(path)]: one CA file, read as the file it names
            items = [c for c in node.named_children if c.type != "comment"]
            if len(items) == 1 and _reads_file(self.src.text(items[0])):
                return self.eval(items[0], depth + 1)
            return EXPR
        if t in ("member_expression", "subscript_expression"):
            name = self.env_ref(node)
            return self.lookup(name) if name else EXPR
        if t == "unary_expression":
            op = self.src.text(node.child_by_field_name("operator") or node)[:1]
            arg = self.eval(node.child_by_field_name("argument"), depth + 1)
            if not arg.known:
                return unknown(arg)
            if op == "!":
                return Ev(ValueKind.BOOL, not _js_truthy(arg), arg.env)
            if op in "+-":
                n = _to_number(arg)
                return Ev(n.kind, -n.value, n.env) if op == "-" else n
            return EXPR
        if t == "binary_expression":
            op = self.src.text(node.child_by_field_name("operator") or node)
            left = self.eval(node.child_by_field_name("left"), depth + 1)
            right_node = node.child_by_field_name("right")
            if op in ("||", "&&", "??"):
                if not left.known:
                    return unknown(left, self.eval(right_node, depth + 1))
                keep = (_js_truthy(left) if op == "||" else not _js_truthy(left) if op == "&&"
                        else left.kind is not ValueKind.NIL)
                return left if keep else self.eval(right_node, depth + 1)
            right = self.eval(right_node, depth + 1)
            if not (left.known and right.known):
                return unknown(left, right)
            if op in ("===", "!==", "==", "!="):
                strict = op in ("===", "!==")
                same_type = (left.kind is ValueKind.STRING) == (right.kind is ValueKind.STRING)
                same = left.value == right.value and (same_type or not strict)
                if not strict and not same_type:  # loose equality compares numerically
                    same = _to_number(left).value == _to_number(right).value
                return Ev(ValueKind.BOOL, same == (op[0] == "="), left.env or right.env)
            return unknown(left, right)
        if t == "ternary_expression":
            cond = self.eval(node.child_by_field_name("condition"), depth + 1)
            if not cond.known:
                return unknown(cond)
            return self.eval(node.child_by_field_name("consequence" if _js_truthy(cond) else "alternative"),
                             depth + 1)
        if t == "call_expression":
            callee = node.child_by_field_name("function")
            fn = self.src.text(callee or node)
            fn = _ALIASES.get(fn, fn)
            args_node = node.child_by_field_name("arguments")
            args = args_node.named_children if args_node is not None else []
            if callee is not None and callee.type == "member_expression" and not args:
                method = self.src.text(callee.child_by_field_name("property") or callee)
                if method in _STRING_METHODS:  # (process.env.SMTP_TLS || 'starttls').toLowerCase()
                    obj = self.eval(callee.child_by_field_name("object"), depth + 1)
                    if not obj.known or obj.kind is not ValueKind.STRING:
                        return unknown(obj) if not obj.known else EXPR
                    return Ev(ValueKind.STRING, _STRING_METHODS[method](obj.value), obj.env)
            if not args:
                return EXPR
            arg = self.eval(args[0], depth + 1)
            if fn in ("Number", "parseInt", "parseFloat", "Boolean", "String", "JSON.parse", *_URI) and not arg.known:
                return unknown(arg)
            if _reads_file(fn):  # readFileSync(process.env.SMTP_CA): the path, for the model's "readfile"
                return Ev(ValueKind.STRING, arg.value, arg.env) if arg.kind is ValueKind.STRING else \
                    unknown(arg) if not arg.known else EXPR
            if fn == "Number":
                return _to_number(arg)
            if fn in ("parseInt", "parseFloat"):
                pattern = r"\s*[+-]?\d+" if fn == "parseInt" else r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
                m = re.match(pattern, _js_str(arg))
                n = _number(float(m.group(0))) if m else Ev(ValueKind.FLOAT, math.nan)
                return Ev(n.kind, n.value, arg.env)
            if fn == "Boolean":
                return Ev(ValueKind.BOOL, _js_truthy(arg), arg.env)
            if fn == "String":
                return Ev(ValueKind.STRING, _js_str(arg), arg.env)
            if fn in _URI:  # a user name or password put into a URL: the URL's parser decodes it again
                try:
                    return Ev(ValueKind.STRING, _URI[fn](_js_str(arg)), arg.env)
                except UnicodeError:  # decodeURIComponent throws URIError at start-up
                    return Ev(ValueKind.EXPRESSION, None, arg.env)
            if fn == "JSON.parse" and arg.kind is ValueKind.STRING:
                try:
                    value = json.loads(arg.value)
                except ValueError:
                    return Ev(ValueKind.EXPRESSION, None, arg.env)  # throws at start-up
                got = Ev(ValueKind.NIL) if value is None else _number(value) if isinstance(value, int | float) \
                    and not isinstance(value, bool) else Ev(ValueKind.BOOL, value) if isinstance(value, bool) \
                    else Ev(ValueKind.STRING, value) if isinstance(value, str) else EXPR
                return Ev(got.kind, got.value, arg.env) if got.known else got
            return EXPR
        return EXPR

    def _text(self, node: Node) -> str:
        """The value as written; a variable that holds file contents (``const ca = [fs.readFileSync('…')]`` then
        ``tls: { ca }``) as its declaration, so the file it reads is known (never for anything else: a variable
        may hold a secret)."""
        name = self.src.text(node)
        if node.type in ("identifier", "shorthand_property_identifier") and name in self.decls:
            behind = self.src.text(self.resolve(self.decls[name]))
            if "readFileSync" in behind:
                return behind
        return name

    def fill(self, config: RawConfig, obj: Node, prefix: str, depth: int) -> None:
        for child in obj.named_children:
            if child.type == "pair":
                key_node, value = child.child_by_field_name("key"), child.child_by_field_name("value")
                if key_node is None or value is None:
                    continue
                kt = self.src.text(key_node)
                key = kt[1:-1] if key_node.type == "string" else kt
                if key_node.type == "computed_property_name":
                    continue
                path = f"{prefix}{key}"
                target = self.chosen(value)
                if target.type in ("undefined", "null") and value.type != target.type:
                    continue  # `auth: user ? {…} : undefined` without a user: the key is not there
                if target.type == "object" and depth < _MAX_DEPTH:
                    self.fill(config, target, path + ".", depth + 1)
                else:
                    ev = self.eval(value, 0)
                    add(config, path, raw(path, ev, self._text(value), self.src.origin(value, kt)))
            elif child.type == "shorthand_property_identifier":
                path = f"{prefix}{self.src.text(child)}"
                ev = self.eval(child if self.src.text(child) in self.decls else None, 0)
                add(config, path, raw(path, ev, self._text(child), self.src.origin(child, self.src.text(child))))
            elif child.type == "spread_element":
                note(config, "readers.note.settings_not_literal")

    def transports(self) -> list[RawConfig]:
        configs = []
        for node in walk(self.src.root):
            if node.type != "call_expression":
                continue
            fn = node.child_by_field_name("function")
            if fn is None:
                continue
            name = self.src.text(fn.child_by_field_name("property") or fn) if fn.type == "member_expression" \
                else self.src.text(fn)
            if name != "createTransport":
                continue
            args_node = node.child_by_field_name("arguments")
            args = args_node.named_children if args_node is not None else []
            config = RawConfig("nodemailer", self.src.file)
            if args:
                reader, first = self.followed(args[0])
                if first.type == "object":
                    reader.fill(config, first, "", 0)
                    reader.url_beside(config, first)
                else:
                    reader.url(config, first)
            configs.append(finish(config))
        return configs

    def _substitutions(self, node: Node) -> dict[str, str]:
        """A template URL's substitutions that come from one environment variable each, by the text they put
        into the URL: which variable the user name or the password in it is read from."""
        node = self.resolve(node)
        if node.type != "template_string":
            return {}
        found: dict[str, str] = {}
        for child in node.named_children:
            if child.type == "template_substitution" and child.named_children:
                ev = self.eval(child.named_children[0], 1)
                if ev.known and ev.env and isinstance(ev.value, str) and ev.value:
                    found[ev.value] = ev.env
        return found

    def followed(self, node: Node) -> tuple[_Reader, Node]:
        """The options an argument names, and the reader of the file they are written in: ``config[env].smtp``
        is followed through objects, and through ``require('./config/mail')`` / ``import c from './c'`` into
        that module's exports (a config module per environment); the argument itself where a step is unknown."""
        root, path = self.resolve(node), []
        for _ in range(_MAX_DEPTH):
            if root.type == "member_expression":
                name = self.src.text(root.child_by_field_name("property") or root)
            elif root.type == "subscript_expression":
                index = self.eval(root.child_by_field_name("index"), 0)
                if index.kind is not ValueKind.STRING:
                    return self, self.resolve(node)
                name = str(index.value)
            else:
                break
            path.append(name)
            root = self.resolve(root.child_by_field_name("object") or root)
        reader: _Reader = self
        if (module := self.module(root)) is not None:
            reader, root = module
        for name in reversed(path):
            found = reader.member(root, name)
            if found is None:
                return self, self.resolve(node)
            root = found
        return reader, root

    def member(self, obj: Node, name: str) -> Node | None:
        obj = self.chosen(obj)
        for child in obj.named_children if obj.type == "object" else ():
            key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
            if child.type == "pair" and key is not None and value is not None and \
                    self.src.text(key).strip("'\"`") == name:
                return self.chosen(value)
        return None

    def module(self, node: Node) -> tuple[_Reader, Node] | None:
        """``require('./x')`` (or an identifier imported from './x'): the reader of x and what it exports."""
        spec = self.imports.get(self.src.text(node)) if node.type == "identifier" else None
        if node.type == "call_expression" and self.src.text(node.child_by_field_name("function") or node) == "require":
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            spec = self.src.text(first)[1:-1] if first is not None and first.type == "string" else None
        if not spec or not spec.startswith("."):
            return None
        base = Path(self.src.file).parent / spec
        for path in (base, *(base.with_name(base.name + s) for s in _MODULE_SUFFIXES), base / "index.js"):
            if path.is_file() and path.stat().st_size <= _MAX_MODULE:
                try:
                    other = _Reader(Source(path, path.read_text(encoding="utf-8", errors="replace"),
                                           script_grammar(path)), self.env)
                except UserError:  # a module that does not parse: its values cannot be told
                    return None
                exported = other.exported()
                return (other, exported) if exported is not None else None
        return None

    def exported(self) -> Node | None:
        """``module.exports = …`` or ``export default …``, followed to the expression behind it."""
        for node in walk(self.src.root):
            if node.type == "assignment_expression" and \
                    self.src.text(node.child_by_field_name("left") or node).replace(" ", "") == "module.exports":
                return self.resolve(node.child_by_field_name("right") or node)
            if node.type == "export_statement" and (value := node.child_by_field_name("value")) is not None:
                return self.resolve(value)
        return None

    def url_beside(self, config: RawConfig, obj: Node) -> None:
        """``createTransport({url, …})``: the url's parts over the object's own keys, as Nodemailer 10 merges
        them (lib/nodemailer.js: assign(the other keys, parseConnectionUrl(url))); the keys the url leaves are
        noted, for Nodemailer before 10.0.0 reads the url alone."""
        node = next((c.child_by_field_name("value") for c in obj.named_children if c.type == "pair"
                     and self.src.text(c.child_by_field_name("key") or c).strip("'\"") == "url"), None)
        if node is None:
            return
        before = dict(config.values)
        self.url(config, node)
        config.beside_url = tuple(k for k, v in before.items() if k != "url" and config.values.get(k) is v)

    def url(self, config: RawConfig, node: Node) -> None:
        ev = self.eval(node, 0)
        origin = self.src.origin(node, "url")
        if ev.kind is not ValueKind.STRING:
            note(config, "readers.note.settings_not_literal")
            add(config, "url", raw("url", ev, self.src.text(node), origin))
            return
        try:
            dsn = parse_dsn(ev.value, ev.env)
        except DsnError:
            note(config, "readers.note.settings_not_literal")
            return
        if dsn is None:
            return
        add(config, "url", raw("url", ev if not dsn.has_password else Ev(ev.kind, None, ev.env), dsn.masked, origin,
                               secret=dsn.has_password))
        literal_text = node.type == "string"
        sources = self._substitutions(node)
        for part in dsn.parts:
            if part.text in sources:  # `smtps://${user}:${pass}@…`: that part is that variable's, not the URL's
                part = replace(part, ev=Ev(part.ev.kind, part.ev.value, sources[part.text]))
            o = origin if not literal_text else type(origin)(origin.file, origin.line, origin.column + 1 + part.offset,
                                                             part.key)
            add(config, part.key, raw(part.key, _url_option(part.key, part.ev), MASK if part.key == "password"
                                      else part.text, o))


def _url_option(key: str, ev: Ev) -> Ev:
    """A query option as nodemailer's parseConnectionUrl gives it: digits a number, "true"/"false" a boolean
    (lib/shared/index.js: ``if (!isNaN(value)) value = Number(value)``, then the switch on 'true'/'false')."""
    if key in ("scheme", "user", "password", "host", "port") or ev.kind is not ValueKind.STRING:
        return ev
    if ev.value in ("true", "false"):
        return Ev(ValueKind.BOOL, ev.value == "true", ev.env)
    number = _to_number(ev)
    return ev if number.kind is ValueKind.FLOAT and math.isnan(number.value) else number


def read_javascript(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    src = Source(path, text, script_grammar(path))
    configs = _Reader(src, env).transports()
    if not configs and framework:
        configs.append(RawConfig("nodemailer", src.file))
    return configs
