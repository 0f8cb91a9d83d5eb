"""The one message catalogue: every sentence a user reads comes from here, in English or Japanese.

Catalogues are TOML files in ``messages/`` (one per area, so parallel work does not collide). Each
message is a table with an ``en`` and a ``ja`` string using ``str.format`` placeholders::

    [probe.mode.implicit_tls]
    en = "implicit TLS"
    ja = "暗黙的 TLS"

Why not gettext: a .po pair per language would put every area's strings in one file, and the
English source strings would double as keys, which breaks as soon as wording is improved.
"""

from __future__ import annotations

import contextvars
import os
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "ja")
_lang: contextvars.ContextVar[str] = contextvars.ContextVar("smtp_doctor_lang", default="")


def detect_language(environ: Mapping[str, str] | None = None) -> str:
    """Pick the language from the POSIX locale variables, in the order libc honours them."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def set_language(lang: str | None) -> None:
    """Set the output language for this context; ``None`` means "from the environment"."""
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    _lang.set(lang or detect_language())


def current_language() -> str:
    return _lang.get() or detect_language()


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, dict[str, str]], source: str) -> None:
    if "en" in table and isinstance(table["en"], str):
        if prefix in out:
            raise ValueError(f"message {prefix!r} defined twice (again in {source})")
        out[prefix] = {k: v for k, v in table.items() if isinstance(v, str)}
        return
    for key, value in table.items():
        if isinstance(value, Mapping):
            _flatten(f"{prefix}.{key}" if prefix else key, value, out, source)


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """All messages, keyed by id, each a mapping language → template."""
    out: dict[str, dict[str, str]] = {}
    folder = resources.files("smtp_doctor") / "messages"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            _flatten("", tomllib.loads(entry.read_text(encoding="utf-8")), out, entry.name)
    return out


def placeholders(template: str) -> set[str]:
    """The named fields a template uses (for the catalogue consistency test)."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Term:
    """A parameter that is itself a catalogue entry (a phase name, a mode): translated when rendered."""

    key: str

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class Localized:
    """A parameter that already exists in both languages (knowledge files keep their prose as en/ja)."""

    text: Mapping[str, str]

    def get(self, lang: str) -> str:
        return self.text.get(lang) or self.text.get("en", "")


def has(key: str) -> bool:
    return key in catalogue()


def t(key: str, /, lang: str | None = None, **params: Any) -> str:
    """Translate message ``key`` into the current language and fill its placeholders.

    An unknown key is a programming error and raises ``KeyError``: the catalogue test makes sure
    every key the code uses exists in both languages.
    """
    entry = catalogue()[key]
    template = entry.get(lang or current_language()) or entry["en"]
    if not params:
        return template
    language = lang or current_language()
    filled = {k: t(v.key, lang=lang) if isinstance(v, Term) else v.get(language) if isinstance(v, Localized) else v
              for k, v in params.items()}
    return template.format(**filled)
