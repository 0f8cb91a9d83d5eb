"""Declarative conditions over a RawConfig (and the Settings derived so far), in three-valued logic.

Framework data and lint rules both say *when* something applies with small TOML tables such as
``{ all = [{ truthy = "tls" }, { setting = { field = "port", values = [587] } }] }``. A value that
comes from an unresolved environment variable makes a condition ``None`` (unknown), and unknown
propagates like SQL's NULL: the engine then declines to guess instead of reporting a wrong mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..settings import RawValue, Settings, ValueKind
from .truth import KNOWN, known_value, truthy

Tri = bool | None
Predicate = Callable[[Any, "Context"], Tri]


@dataclass
class Context:
    """What a condition can look at. ``key`` is what ``"$"`` stands for in rules that iterate keys."""

    values: Mapping[str, RawValue]
    truth_of: Callable[[str], str]  #: key → name of its truth rule
    symbols_of: Callable[[str], frozenset[str]] = lambda _key: frozenset()
    settings: Settings | None = None
    key: str | None = None
    extra: Mapping[str, Predicate] = field(default_factory=dict)

    def name(self, key: str) -> str:
        return self.key if key == "$" and self.key is not None else key

    def get(self, key: str) -> RawValue | None:
        return self.values.get(self.name(key))


def and3(parts: Iterator[Tri]) -> Tri:
    result: Tri = True
    for p in parts:
        if p is False:
            return False
        if p is None:
            result = None
    return result


def or3(parts: Iterator[Tri]) -> Tri:
    result: Tri = False
    for p in parts:
        if p is True:
            return True
        if p is None:
            result = None
    return result


def _truthy(arg: str, ctx: Context) -> Tri:
    rv = ctx.get(arg)
    return False if rv is None else truthy(ctx.truth_of(ctx.name(arg)), rv)


def _off(arg: str, ctx: Context) -> Tri:
    rv = ctx.get(arg)
    if rv is None or rv.kind is ValueKind.NIL:
        return False
    on = truthy(ctx.truth_of(ctx.name(arg)), rv)
    return None if on is None else not on


def _set(arg: str, ctx: Context) -> Tri:
    rv = ctx.get(arg)
    return rv is not None and rv.kind is not ValueKind.NIL


def _unset(arg: str, ctx: Context) -> Tri:
    return not _set(arg, ctx)


def _filled(arg: str, ctx: Context) -> Tri:
    """Set to something other than the empty string, whatever the truth rule (a user name under Java's
    parseBoolean is "false", yet JavaMail logs in with it); None when the value is not known."""
    rv = ctx.get(arg)
    if rv is None or rv.kind is ValueKind.NIL:
        return False
    known, value = known_value(rv)
    return None if not known else str(value) != ""


def norm(value: Any) -> str:
    """Compare values as the text they would be written as: 465 == "465", True == "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().casefold()


def _equals(arg: Mapping[str, Any], ctx: Context) -> Tri:
    rv = ctx.get(arg["key"])
    if rv is None:
        return False
    kinds = arg.get("kinds")
    if kinds is not None and rv.kind.value not in kinds and rv.kind in KNOWN:
        return False
    known, value = known_value(rv)
    if arg.get("case"):  # compared as written (JavaMail's provider names): only the surrounding blanks go
        return None if not known else rv.kind is not ValueKind.NIL and str(value).strip() in map(str, arg["values"])
    if arg.get("blanks"):  # lower-cased, blanks kept (SwiftMailer's strtolower($encryption), no trim)
        return None if not known else rv.kind is not ValueKind.NIL and str(value).casefold() in arg["values"]
    wanted = {norm(v) for v in arg["values"]}
    if not known:
        # code the reader kept as text (e.g. OpenSSL::SSL::VERIFY_NONE) is compared by its text
        return True if rv.kind is ValueKind.EXPRESSION and norm(rv.text) in wanted else None
    return rv.kind is not ValueKind.NIL and norm(value) in wanted


def _non_boolean(arg: str, ctx: Context) -> Tri:
    """Written as something other than true/false/nil (a port, a string, an unexpected symbol)."""
    rv = ctx.get(arg)
    if rv is None or rv.kind in (ValueKind.BOOL, ValueKind.NIL):
        return False
    if rv.kind not in KNOWN:
        return None
    return not (rv.kind is ValueKind.SYMBOL and norm(rv.value) in ctx.symbols_of(ctx.name(arg)))


def _setting(arg: Mapping[str, Any], ctx: Context) -> Tri:
    if ctx.settings is None:
        return None
    s = getattr(ctx.settings, arg["field"], None)
    if s is None:
        return None if arg.get("unknown_is_none", True) else False
    if "written" in arg and arg["written"] == s.default:  # written in the config, or the framework's default
        return False
    return norm(s.value) in {norm(v) for v in arg["values"]}


def _matches(arg: Mapping[str, Any], ctx: Context) -> Tri:
    """The known string value matches a regular expression (``{ key, re }``)."""
    rv = ctx.get(arg["key"])
    if rv is None or rv.kind is ValueKind.NIL:
        return False
    known, value = known_value(rv)
    return None if not known else re.search(arg["re"], str(value)) is not None


def _kind_in(arg: Mapping[str, Any], ctx: Context) -> Tri:
    rv = ctx.get(arg["key"])
    return rv is not None and rv.kind.value in arg["kinds"]


#: a Ruby hash key written as a string (``'address' =>``, ``smtp_settings["port"] =``), not a symbol
_STRING_KEY = re.compile(r"""^(['"])\w+\1$""")


def string_key(rv: RawValue | None) -> bool:
    """The key was spelled as a string literal (the reader keeps ``"port":``, a symbol, with its colon)."""
    return rv is not None and rv.origin is not None and bool(_STRING_KEY.match(rv.origin.key))


def _string_key(arg: str, ctx: Context) -> Tri:
    return string_key(ctx.get(arg))


def _lists(arg: Mapping[str, Any], ctx: Context) -> Tri:
    """``key``'s value, split at blanks, holds ``item``'s value exactly (JavaMail's mail.smtp.ssl.trust host list
    against the host it connects to: MailSSLSocketFactory.isServerTrusted)."""
    rv, item = ctx.get(arg["key"]), ctx.get(arg["item"])
    if rv is None or item is None:
        return False
    (known, value), (item_known, name) = known_value(rv), known_value(item)
    if not (known and item_known):
        return None
    return str(name) in str(value).split()


BASE: dict[str, Predicate] = {
    "truthy": _truthy, "off": _off, "set": _set, "unset": _unset, "filled": _filled, "equals": _equals,
    "non_boolean": _non_boolean, "setting": _setting, "kind_in": _kind_in, "string_key": _string_key,
    "matches": _matches, "lists": _lists,
}


def evaluate(cond: Mapping[str, Any], ctx: Context) -> Tri:
    """Evaluate one condition table (exactly one predicate, or all/any/not)."""
    if len(cond) != 1:
        raise ValueError(f"a condition has exactly one predicate, got {sorted(cond)}")
    ((kind, arg),) = cond.items()
    if kind == "all":
        return and3(evaluate(c, ctx) for c in arg)
    if kind == "any":
        return or3(evaluate(c, ctx) for c in arg)
    if kind == "not":
        r = evaluate(arg, ctx)
        return None if r is None else not r
    fn = ctx.extra.get(kind) or BASE.get(kind)
    if fn is None:
        raise ValueError(f"unknown condition {kind!r}")
    return fn(arg, ctx)


def keys_in(cond: Mapping[str, Any]) -> list[str]:
    """The raw keys a condition mentions, in order (where a derived setting "came from")."""
    out: list[str] = []
    for kind, arg in cond.items():
        if kind in ("all", "any"):
            for c in arg:
                out += keys_in(c)
        elif kind == "not":
            out += keys_in(arg)
        elif isinstance(arg, str):
            out.append(arg)
        elif isinstance(arg, Mapping) and isinstance(arg.get("key"), str):
            out.append(arg["key"])
    return out


def check(cond: Mapping[str, Any], kinds: set[str], where: str) -> None:
    """Fail at load time on a predicate name the engines do not know (a typo in the data)."""
    for kind, arg in cond.items():
        if kind in ("all", "any"):
            for c in arg:
                check(c, kinds, where)
        elif kind == "not":
            check(arg, kinds, where)
        elif kind not in kinds:
            raise ValueError(f"{where}: unknown condition {kind!r}")
