"""How each language or file format decides that a written value means "on".

Most configuration mistakes in this area are truthiness mistakes (``tls: 587`` is true in Ruby,
``secure: "false"`` is true in JavaScript), so the rules are spelled out here once, by name, and the
framework data says which one applies to which key. ``None`` means "cannot tell" (the value comes
from an environment variable the reader could not resolve, or from code it does not evaluate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..settings import RawValue, ValueKind

KNOWN = frozenset({ValueKind.BOOL, ValueKind.INT, ValueKind.FLOAT, ValueKind.STRING, ValueKind.SYMBOL,
                   ValueKind.NIL})
#: truth rules under which any written non-empty value counts as true: the ones that make ``"false"`` true
LOOSE = frozenset({"ruby", "python", "js", "php"})


def known_value(rv: RawValue) -> tuple[bool, Any]:
    """(known, value). A secret keeps no value, but a non-empty literal secret is still a non-empty string."""
    if rv.kind not in KNOWN:
        return False, None
    if rv.secret and rv.value is None and rv.kind is ValueKind.STRING:
        return True, "\x00secret"
    return True, rv.value


def _words(true: set[str], case: bool = False, strip: bool = True) -> Callable[[Any], bool]:
    def judge(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip() if strip else str(value)
        return (text if case else text.lower()) in true
    return judge


def _ruby(value: Any) -> bool:
    return value is not None and value is not False


def _js(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") or value is True


def _php(value: Any) -> bool:
    return value not in (None, False, 0, 0.0, "", "0") or value is True


def _not_false(value: Any) -> bool:
    return value is not False and value != "false"


RULES: dict[str, Callable[[Any], bool]] = {
    "ruby": _ruby,  # only nil and false are false
    "python": bool,  # "", 0, None, False are false; "False" is true
    "js": _js,  # "", 0, NaN, null/undefined, false; "false" and "0" are true
    "php": _php,  # "", "0", 0, null, false
    # Boolean.parseBoolean, JavaMail PropUtil (equalsIgnoreCase "true"): "true" in any case, untrimmed ("true " is
    # false), anything else false
    "java": _words({"true"}, strip=False),
    "go_ini": _words({"1", "t", "true", "y", "yes", "on"}),  # go-ini Key.Bool
    "postfix": _words({"yes"}),
    "msmtp": _words({"on", ""}),  # a bare `tls` means on
    "symfony": _words({"1", "true", "on", "yes"}),  # filter_var(FILTER_VALIDATE_BOOLEAN)
    "literal_true": _words({"true"}, case=True),  # Mastodon: ENV['SMTP_TLS'] == 'true'
    "not_false": _not_false,  # Mastodon: ENV['SMTP_ENABLE_STARTTLS_AUTO'] != 'false'
    "word": _words({"true", "1", "yes", "on"}),  # YAML/env booleans parsed as words
}


def truthy(rule: str, rv: RawValue) -> bool | None:
    """Whether ``rv`` switches something on under ``rule``; None when the value is not known."""
    known, value = known_value(rv)
    if not known:
        return None
    if rv.kind is ValueKind.NIL:
        return False
    return RULES[rule](value)
