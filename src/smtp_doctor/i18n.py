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
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
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


_FOLDER = os.path.join(os.path.dirname(__file__), "messages")


def _sources() -> list[str]:
    return [os.path.join(_FOLDER, name) for name in sorted(os.listdir(_FOLDER)) if name.endswith(".toml")]


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """All messages in every language, keyed by id, each a mapping language → template (parsed from TOML)."""
    import tomllib

    out: dict[str, dict[str, str]] = {}
    for path in _sources():
        with open(path, encoding="utf-8") as fh:
            _flatten("", tomllib.loads(fh.read()), out, os.path.basename(path))
    return out


@cache
def messages(lang: str) -> dict[str, str]:
    """One language's templates (English where it has none): what ``t`` reads. A process needs one
    language, so it loads that one from the on-disk cache (see cache.py) and parses no TOML."""
    from .cache import cached

    return cached(f"messages-{lang}", _sources(),
                  lambda: {key: entry.get(lang) or entry["en"] for key, entry in catalogue().items()})


def placeholders(template: str) -> set[str]:
    """The named fields a template uses (for the catalogue consistency test)."""
    import string

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
    return key in messages(current_language())


def t(key: str, /, lang: str | None = None, **params: Any) -> str:
    """Translate message ``key`` into the current language and fill its placeholders.

    An unknown key is a programming error and raises ``KeyError``: the catalogue test makes sure
    every key the code uses exists in both languages.
    """
    language = lang or current_language()
    template = messages(language)[key]
    if not params:
        return template
    filled = {k: t(v.key, lang=lang) if isinstance(v, Term) else v.get(language) if isinstance(v, Localized) else v
              for k, v in params.items()}
    return template.format(**filled)
