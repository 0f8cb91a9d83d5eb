"""Rails ActionMailer (``smtp_settings``) and GitLab Omnibus (``gitlab_rails['smtp_*']``) from Ruby source.

The file is parsed with tree-sitter's Ruby grammar and a tiny evaluator folds the expressions people
really write there (literals, ``ENV[...]``, ``ENV.fetch``, ``.to_i``, ``.presence``, ``||``, ``==``,
ternaries, local variables set by ``if``/``case``) against the env mapping given. Nothing is executed:
anything else becomes ``EXPRESSION``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from tree_sitter import Node

from ..settings import RawConfig, RawValue, ValueKind
from ._common import EXPR, NIL, Ev, add, finish, note, raw, ruby_to_s, ruby_truthy, unknown
from ._ts import Source
from .rails_yaml import read_config_for

Scope = dict[str, Ev]
_BLOCKS = {"program", "body_statement", "block_body", "then", "else", "begin", "do_block", "block",
           "parenthesized_statements", "do", "ensure", "rescue"}
_RAILS_FALSE = {"0", "f", "F", "false", "FALSE", "off", "OFF"}  # ActiveModel::Type::Boolean::FALSE_VALUES
#: a config made only of smtp_settings[:k] = v / merge!: it changes the hash set elsewhere (rails_merge.py)
AMENDS = "readers.note.amends"
_MAX_STEPS = 200_000  # statement visits per file; a bound, not a limit any real config reaches


class _Reader:
    def __init__(self, src: Source, env: Mapping[str, str] | None) -> None:
        self.src = src
        self.env = env
        self.rails: list[RawConfig] = []
        self.extras: dict[str, tuple[Ev, Node, str]] = {}
        self.gitlab: RawConfig | None = None
        self.config_for: list[tuple[RawConfig, str | None, Node]] = []  #: smtp_settings = config_for(:name)
        self.steps = 0

    # ---- statements -------------------------------------------------------------------------------------
    def run(self, node: Node, scope: Scope, live: bool = True) -> Scope:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            return scope
        t = node.type
        if t == "assignment":
            self.assign(node, scope, live)
        elif t == "operator_assignment":
            self.op_assign(node, scope, live)
        elif t in ("if", "unless", "elsif"):
            scope = self.branch_if(node, scope, live)
        elif t in ("if_modifier", "unless_modifier"):
            scope = self.branch_modifier(node, scope, live)
        elif t == "case":
            scope = self.branch_case(node, scope, live)
        elif t == "call":
            self.call_statement(node, scope, live)
            for child in node.children:
                if child.type in ("do_block", "block"):
                    scope = self.run(child, scope, live)
        elif t in ("method", "singleton_method", "lambda"):
            self.run_children(node, dict(scope), False)
        else:
            scope = self.run_children(node, scope, live)
        return scope

    def run_children(self, node: Node, scope: Scope, live: bool) -> Scope:
        for child in node.named_children:
            scope = self.run(child, scope, live)
        return scope

    def branch_if(self, node: Node, scope: Scope, live: bool) -> Scope:
        cond = self.eval(node.child_by_field_name("condition"), scope)
        then = node.child_by_field_name("consequence")
        other = node.child_by_field_name("alternative")
        want = ruby_truthy(cond) != (node.type == "unless")
        return self.choose(cond, [(want, then), (not want, other)], scope, live)

    def branch_modifier(self, node: Node, scope: Scope, live: bool) -> Scope:
        cond = self.eval(node.child_by_field_name("condition"), scope)
        want = ruby_truthy(cond) != (node.type == "unless_modifier")
        return self.choose(cond, [(want, node.child_by_field_name("body")), (not want, None)], scope, live)

    def branch_case(self, node: Node, scope: Scope, live: bool) -> Scope:
        subject = self.eval(node.child_by_field_name("value"), scope)
        arms: list[tuple[bool, Node | None]] = []
        taken = False
        has_else = False
        for child in node.named_children:
            if child.type == "when":
                match = False
                for pat in child.children_by_field_name("pattern"):
                    p = self.eval(pat.named_children[0] if pat.type == "pattern" and pat.named_children
                                  else pat, scope)
                    match = match or (subject.known and p.known and _ruby_eq(subject, p))
                arms.append((match and not taken, child.child_by_field_name("body")))
                taken = taken or match
            elif child.type == "else":
                has_else = True
                arms.append((not taken, child))
        if not has_else:
            arms.append((not taken, None))
        return self.choose(subject, arms, scope, live)

    def choose(self, cond: Ev, arms: list[tuple[bool, Node | None]], scope: Scope, live: bool) -> Scope:
        """Run the arm ``cond`` selects; when it is unknown, run all and forget what they disagree on."""
        if cond.known:
            out = scope
            for taken, body in arms:
                if body is None:
                    continue
                result = self.run(body, dict(scope) if not (taken and live) else scope, live and taken)
                if taken and live:
                    out = result
            return out
        results = [self.run(body, dict(scope), live) if body is not None else dict(scope) for _, body in arms]
        merged: Scope = {}
        for name in set().union(*results):
            values = [r.get(name, NIL) for r in results]
            merged[name] = values[0] if all(v == values[0] for v in values) else unknown(cond, *values)
        return merged if live else scope

    # ---- assignments ------------------------------------------------------------------------------------
    def assign(self, node: Node, scope: Scope, live: bool) -> None:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None:
            return
        if left.type == "identifier":
            if live:
                scope[self.src.text(left)] = self.eval(right, scope, keep_hash=True)
            return
        if left.type == "call" and _method(left) == "smtp_settings":
            recv = right.child_by_field_name("receiver") if right.type == "call" else None
            if recv is not None and _method(right) in ("merge", "update") and _method(recv) == "smtp_settings":
                self.amend(right, scope)  # smtp_settings = smtp_settings.merge(ssl: true): the same hash, changed
                return
            config = RawConfig("actionmailer", self.src.file)
            self.rails.append(config)
            if right.type == "call" and _method(right) == "config_for":
                args = right.child_by_field_name("arguments")
                first = args.named_children[0] if args is not None and args.named_children else None
                name = _key_name(self.src, first) if first is not None else None
                self.config_for.append((config, name, right))
                return
            self.fill_hash(config, right, scope)
        elif left.type == "call" and _method(left) in ("delivery_method", "smtp_timeout"):
            recv = left.child_by_field_name("receiver")
            if recv is not None and self.src.text(recv).endswith("action_mailer"):
                self.extras[_method(left) or ""] = (self.eval(right, scope), right, self.src.text(left))
        elif left.type == "element_reference":
            obj = left.child_by_field_name("object")
            key_node = _first_arg(left)
            if obj is None or key_node is None:
                return
            key = _key_name(self.src, key_node)
            if obj.type == "call" and _method(obj) == "smtp_settings" and key:
                if not self.rails:
                    self.rails.append(RawConfig("actionmailer", self.src.file, notes=[AMENDS]))
                self.put(self.rails[-1], key, self.src.text(key_node), right, scope)
            elif obj.type == "identifier" and self.src.text(obj) == "gitlab_rails" and key and \
                    key.startswith(("smtp_", "gitlab_email_")):
                if self.gitlab is None:
                    self.gitlab = RawConfig("gitlab", self.src.file)
                self.put(self.gitlab, key, self.src.text(left), right, scope)

    def op_assign(self, node: Node, scope: Scope, live: bool) -> None:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        op = next((c.type for c in node.children if c.type.endswith("=")), "")
        if live and left is not None and right is not None and left.type == "identifier" and op == "||=":
            name = self.src.text(left)
            cur = scope.get(name, NIL)
            if not cur.known:
                scope[name] = unknown(cur, self.eval(right, scope))
            elif not ruby_truthy(cur):
                scope[name] = self.eval(right, scope)

    def call_statement(self, node: Node, scope: Scope, live: bool) -> None:
        """``config.action_mailer.smtp_settings.merge!(key: value)`` adds to the last hash."""
        recv = node.child_by_field_name("receiver")
        if _method(node) in ("merge!", "update") and recv is not None and _method(recv) == "smtp_settings":
            self.amend(node, scope)

    def amend(self, call: Node, scope: Scope) -> None:
        """The call's hash arguments change the hash set before (in this file or, merged later, another)."""
        if not self.rails:
            self.rails.append(RawConfig("actionmailer", self.src.file, notes=[AMENDS]))
        args = call.child_by_field_name("arguments")
        for arg in args.named_children if args is not None else []:
            self.fill_hash(self.rails[-1], arg, scope)

    def fill_hash(self, config: RawConfig, node: Node, scope: Scope) -> None:
        if node.type == "identifier":
            held = scope.get(self.src.text(node))
            if held is not None and held.kind is ValueKind.EXPRESSION and isinstance(held.value, Node):
                node = held.value
        if node.type not in ("hash", "argument_list", "pair"):
            note(config, "readers.note.settings_not_literal")
            return
        pairs = [node] if node.type == "pair" else node.named_children
        for pair in pairs:
            if pair.type == "hash_splat_argument":
                note(config, "readers.note.settings_not_literal")
                continue
            if pair.type != "pair":
                continue
            key_node = pair.child_by_field_name("key")
            if key_node is None:
                continue
            key = _key_name(self.src, key_node)
            if key:
                spelled = self.src.text(key_node)
                if key_node.type == "string" and not any(c.type == "=>" for c in pair.children):
                    spelled += ":"  # {"port": 25} is a symbol key; {"port" => 25} a string key (the mail gem
                    # ignores those: frameworks.toml string_keys)
                self.put(config, key, spelled, pair.child_by_field_name("value"), scope, key_node)

    def put(self, config: RawConfig, key: str, spelled: str, value: Node | None, scope: Scope,
            anchor: Node | None = None) -> None:
        if value is None:  # Ruby 3.1 shorthand `{address:}` reads a local of the same name
            if anchor is not None:
                ev = scope.get(key, EXPR)
                add(config, key, raw(key, ev, spelled, self.src.origin(anchor, spelled)))
            return
        ev = self.eval(value, scope)
        add(config, key, raw(key, ev, self.src.text(value), self.src.origin(value, spelled)))

    # ---- expressions ------------------------------------------------------------------------------------
    def eval(self, node: Node | None, scope: Scope, keep_hash: bool = False) -> Ev:
        if node is None:
            return EXPR
        t = node.type
        text = self.src.text(node)
        if t == "integer":
            return _ruby_int(text)
        if t == "float":
            try:
                return Ev(ValueKind.FLOAT, float(text.replace("_", "")))
            except ValueError:
                return EXPR
        if t in ("true", "false"):
            return Ev(ValueKind.BOOL, t == "true")
        if t == "nil":
            return NIL
        if t == "simple_symbol":
            return Ev(ValueKind.SYMBOL, text[1:])
        if t in ("hash_key_symbol",):
            return Ev(ValueKind.SYMBOL, text)
        if t == "delimited_symbol":
            s = self.string(node, scope)
            return Ev(ValueKind.SYMBOL, s.value) if s.known else s
        if t == "string":
            return self.string(node, scope)
        if t == "parenthesized_statements":
            kids = node.named_children
            return self.eval(kids[-1], scope) if kids else NIL
        if t == "identifier":
            return scope.get(text, EXPR)
        if t == "hash" and keep_hash:
            return Ev(ValueKind.EXPRESSION, node)
        if t == "element_reference":
            obj = node.child_by_field_name("object")
            arg = _first_arg(node)
            if obj is not None and self.src.text(obj) in ("ENV", "::ENV") and arg is not None:
                name = self.eval(arg, scope)
                if name.kind is ValueKind.STRING:
                    return self.env_lookup(name.value)
            return EXPR
        if t == "call":
            return self.call(node, scope)
        if t == "binary":
            return self.binary(node, scope)
        if t == "unary":
            op = next((c.type for c in node.children if not c.is_named), "")
            operand = self.eval(node.child_by_field_name("operand"), scope)
            if op in ("!", "not"):
                return Ev(ValueKind.BOOL, not ruby_truthy(operand)) if operand.known else unknown(operand)
            if op == "-" and operand.kind in (ValueKind.INT, ValueKind.FLOAT):
                return Ev(operand.kind, -operand.value, operand.env)
            return unknown(operand)
        if t == "conditional":
            cond = self.eval(node.child_by_field_name("condition"), scope)
            if not cond.known:
                return unknown(cond)
            branch = "consequence" if ruby_truthy(cond) else "alternative"
            return self.eval(node.child_by_field_name(branch), scope)
        return EXPR

    def string(self, node: Node, scope: Scope) -> Ev:
        single = self.src.text(node).startswith(("'", "%q", ":'"))
        parts: list[str] = []
        env: str | None = None
        for child in node.named_children:
            if child.type == "string_content":
                parts.append(self.src.text(child))
            elif child.type == "escape_sequence":
                parts.append(_unescape(self.src.text(child), single))
            elif child.type == "interpolation":
                inner = child.named_children
                ev = self.eval(inner[-1], scope) if inner else NIL
                if not ev.known:
                    return unknown(ev)
                env = env or ev.env
                parts.append(ruby_to_s(ev))
            else:
                return EXPR
        return Ev(ValueKind.STRING, "".join(parts), env)

    def absent(self, name: str) -> bool:
        """The variable is set neither in ``--env`` (when given) nor, without it, in this process."""
        return name not in (self.env if self.env is not None else os.environ)

    def env_lookup(self, name: str) -> Ev:
        if self.env is None:
            return Ev(ValueKind.ENV, None, name)
        if name in self.env:
            return Ev(ValueKind.STRING, self.env[name], name)
        return Ev(ValueKind.NIL, None, name)

    def call(self, node: Node, scope: Scope) -> Ev:
        method = _method(node) or ""
        recv = node.child_by_field_name("receiver")
        args_node = node.child_by_field_name("arguments")
        args = [a for a in args_node.named_children if a.type != "comment"] if args_node is not None else []
        recv_text = self.src.text(recv) if recv is not None else ""
        if recv_text in ("ENV", "::ENV"):
            name = self.eval(args[0], scope) if args else EXPR
            if name.kind is not ValueKind.STRING:
                return EXPR
            if method == "fetch":
                default: Node | None = args[1] if len(args) > 1 else None
                block = node.child_by_field_name("block")
                if default is None and block is not None:
                    body = [c for c in block.named_children if c.type not in ("block_parameters",)]
                    default = body[-1].named_children[-1] if body and body[-1].named_children else None
                if not self.absent(name.value) or default is None:  # ENV.fetch(k, d) / ENV.fetch(k) { d }
                    got = self.env_lookup(name.value)
                    return got if got.kind is not ValueKind.NIL else Ev(ValueKind.ENV, None, name.value)
                d = self.eval(default, scope)
                return Ev(d.kind, d.value, name.value) if d.known else unknown(d)
            if method in ("key?", "has_key?", "include?", "member?"):
                if self.env is None:
                    return Ev(ValueKind.ENV, None, name.value)
                return Ev(ValueKind.BOOL, name.value in self.env, name.value)
            if method == "[]":
                return self.env_lookup(name.value)
            return EXPR
        if recv is None and method in ("Integer", "Float", "String") and args:
            return _convert(method, self.eval(args[0], scope))
        if method == "cast" and recv is not None and "Boolean" in recv_text and args:
            return _rails_bool(self.eval(args[0], scope))
        if recv is None or args:
            return EXPR
        base = self.eval(recv, scope)
        if not base.known:
            return unknown(base)
        return _postfix(method, base)

    def binary(self, node: Node, scope: Scope) -> Ev:
        op = self.src.text(node.child_by_field_name("operator") or node).strip()
        left = self.eval(node.child_by_field_name("left"), scope)
        right_node = node.child_by_field_name("right")
        if op in ("||", "or"):
            if left.kind is ValueKind.ENV and left.env and self.absent(left.env):
                return self.eval(right_node, scope)  # ENV['K'] || 'd' with K set nowhere here: the default
            if not left.known:
                return unknown(left, self.eval(right_node, scope))
            return left if ruby_truthy(left) else self.eval(right_node, scope)
        if op in ("&&", "and"):
            if not left.known:
                return unknown(left, self.eval(right_node, scope))
            return self.eval(right_node, scope) if ruby_truthy(left) else left
        right = self.eval(right_node, scope)
        if not (left.known and right.known):
            return unknown(left, right)
        env = left.env or right.env
        if op in ("==", "!="):
            return Ev(ValueKind.BOOL, _ruby_eq(left, right) == (op == "=="), env)
        if op == "+" and left.kind is ValueKind.STRING and right.kind is ValueKind.STRING:
            return Ev(ValueKind.STRING, left.value + right.value, env)
        if op in ("+", "-", "*") and left.kind is ValueKind.INT and right.kind is ValueKind.INT:
            value = {"+": left.value + right.value, "-": left.value - right.value, "*": left.value * right.value}
            return Ev(ValueKind.INT, value[op], env)
        return unknown(left, right)


# ---- helpers ---------------------------------------------------------------------------------------------
def _method(node: Node) -> str | None:
    m = node.child_by_field_name("method")
    return (m.text or b"").decode() if m is not None else None


def _first_arg(node: Node) -> Node | None:
    """The index of ``obj[index]`` (element_reference keeps it among its named children)."""
    obj = node.child_by_field_name("object")
    for child in node.named_children:
        if child != obj and child.type != "comment":
            return child
    return None


def _key_name(src: Source, node: Node) -> str | None:
    t = node.type
    text = src.text(node)
    if t == "hash_key_symbol":
        return text
    if t == "simple_symbol":
        return text[1:]
    if t in ("string", "delimited_symbol"):
        if any(c.type == "interpolation" for c in node.named_children):
            return None
        return "".join(src.text(c) for c in node.named_children if c.type == "string_content")
    return None


def _ruby_int(text: str) -> Ev:
    t = text.replace("_", "")
    try:
        if re.fullmatch(r"0[0-7]+", t):
            return Ev(ValueKind.INT, int(t, 8))
        return Ev(ValueKind.INT, int(t, 0))
    except ValueError:
        return EXPR


def _unescape(seq: str, single: bool) -> str:
    if single:
        return seq[1:] if seq in ("\\\\", "\\'") else seq
    simple = {"\\n": "\n", "\\t": "\t", "\\s": " ", "\\0": "\0", "\\e": "\x1b", "\\r": "\r"}
    return simple.get(seq, seq[1:] if len(seq) == 2 else seq)


def _num(ev: Ev) -> tuple[str, object]:
    if ev.kind in (ValueKind.INT, ValueKind.FLOAT):
        return ("num", ev.value)
    return (str(ev.kind), ev.value)


def _ruby_eq(a: Ev, b: Ev) -> bool:
    return _num(a) == _num(b)


def _ruby_to_i(s: str) -> int:
    m = re.match(r"\s*([+-]?\d[\d_]*)", s)
    return int(m.group(1).replace("_", "")) if m else 0


def _blank(ev: Ev) -> bool:
    if ev.kind is ValueKind.STRING:
        return ev.value.strip() == ""
    return not ruby_truthy(ev)


def _postfix(method: str, base: Ev) -> Ev:
    """``value.method`` for the argument-less conversions config files use."""
    k, v, env = base.kind, base.value, base.env
    if method == "presence":
        return Ev(ValueKind.NIL, None, env) if _blank(base) else base
    if method in ("present?", "blank?"):
        return Ev(ValueKind.BOOL, _blank(base) == (method == "blank?"), env)
    if method == "nil?":
        return Ev(ValueKind.BOOL, k is ValueKind.NIL, env)
    if method == "to_s":
        return Ev(ValueKind.STRING, ruby_to_s(base), env)
    if method == "to_i":
        if k is ValueKind.STRING:
            return Ev(ValueKind.INT, _ruby_to_i(v), env)
        if k in (ValueKind.INT, ValueKind.FLOAT):
            return Ev(ValueKind.INT, int(v), env)
        if k is ValueKind.NIL:
            return Ev(ValueKind.INT, 0, env)
    if method == "to_f" and k in (ValueKind.STRING, ValueKind.INT, ValueKind.FLOAT, ValueKind.NIL):
        if k is ValueKind.STRING:
            m = re.match(r"\s*[+-]?\d+(\.\d+)?", v)
            return Ev(ValueKind.FLOAT, float(m.group(0)) if m else 0.0, env)
        return Ev(ValueKind.FLOAT, float(v or 0), env)
    if method == "to_sym" and k in (ValueKind.STRING, ValueKind.SYMBOL):
        return Ev(ValueKind.SYMBOL, v, env)
    if method in ("downcase", "upcase", "strip") and k in (ValueKind.STRING, ValueKind.SYMBOL):
        text = str(v)
        changed = text.lower() if method == "downcase" else text.upper() if method == "upcase" else text.strip()
        return Ev(k, changed, env)
    return unknown(base) if not base.known else EXPR


def _convert(method: str, ev: Ev) -> Ev:
    if not ev.known:
        return unknown(ev)
    try:
        if method == "Integer" and ev.kind in (ValueKind.STRING, ValueKind.INT):
            return Ev(ValueKind.INT, int(str(ev.value).replace("_", ""), 0), ev.env)
        if method == "Float" and ev.kind in (ValueKind.STRING, ValueKind.INT, ValueKind.FLOAT):
            return Ev(ValueKind.FLOAT, float(ev.value), ev.env)
        if method == "String":
            return Ev(ValueKind.STRING, ruby_to_s(ev), ev.env)
    except ValueError:
        return EXPR  # Ruby raises ArgumentError at boot; the model cannot use the value either
    return EXPR


def _rails_bool(ev: Ev) -> Ev:
    """``ActiveModel::Type::Boolean.new.cast(x)``: nil and "" are nil, FALSE_VALUES false, else true."""
    if not ev.known:
        return unknown(ev)
    if ev.kind is ValueKind.NIL or ev.value == "":
        return Ev(ValueKind.NIL, None, ev.env)
    if ev.kind is ValueKind.BOOL:
        return ev
    return Ev(ValueKind.BOOL, str(ev.value) not in _RAILS_FALSE and ev.value != 0, ev.env)


def _evaluate(code: str, path: Path, env: Mapping[str, str] | None) -> Ev:
    """One Ruby expression (an ERB tag's code) folded like any value in a Ruby config file."""
    src = Source(path, code, "ruby")
    statements = src.root.named_children
    return _Reader(src, env).eval(statements[0], {}) if len(statements) == 1 else EXPR


def read_ruby(path: Path, text: str, env: Mapping[str, str] | None) -> list[RawConfig]:
    """All ``smtp_settings`` hashes (framework ``actionmailer``) and ``gitlab_rails`` SMTP keys in a file."""
    src = Source(path, text, "ruby")
    reader = _Reader(src, env)
    reader.run(src.root, {})
    configs = list(reader.rails)
    if reader.extras:
        delivery = reader.extras.get("delivery_method")
        if not configs and delivery is not None and delivery[0].value == "smtp":
            configs.append(RawConfig("actionmailer", src.file))
        for config in configs:
            for key, (ev, node, spelled) in reader.extras.items():
                if key not in config.values:
                    config.values[key] = raw(key, ev, src.text(node), src.origin(node, spelled))
    for config, name, node in reader.config_for:
        where = src.origin(node, "smtp_settings")
        if name is None:
            note(config, "readers.note.settings_not_literal")
            config.values["address"] = RawValue(None, ValueKind.EXPRESSION, src.text(node), where)
            continue
        read_config_for(Path(path), name, config, where, src.text(node), env,
                        lambda code: _evaluate(code, path, env))
    if reader.gitlab is not None:
        configs.append(reader.gitlab)
    for config in configs:
        finish(config)
    return configs
