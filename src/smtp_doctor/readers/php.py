"""Nextcloud ``config/config.php`` (``$CONFIG = array(...)``) via tree-sitter's PHP grammar.

Only array literals, scalars and ``getenv('X')`` (with ``?:`` defaults) are folded; the file is never
included or run. Nested arrays (``mail_smtpstreamoptions``) become dotted keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tree_sitter import Node

from ..settings import RawConfig, ValueKind
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
