"""Settings that app code loads from a data file: ``yaml.safe_load(open(BASE_DIR / "mail.yaml"))["smtp"]``.

A settings module that reads its mail settings from YAML, TOML or JSON is still code we never run, so the
file is parsed here with the parser the app names, under that parser's own rules, and the document is
walked as the app indexes it. PyYAML's loaders resolve scalars as YAML 1.1 (``on``/``yes`` are true, a quoted
port is a string): the safe loader gives the same scalars as ``yaml.load(..., Loader=yaml.FullLoader)`` for
every document a settings file holds (the other loaders differ only in ``!!python`` tags, which are refused
here, so their value is not told). ``tomllib`` is TOML 1.0, ``json`` is RFC 8259.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, replace
from typing import Any

import yaml

from ..settings import ValueKind
from ._common import EXPR, MAX_BYTES, Ev, literal

#: the parser each loader call names → how it reads the text it is given (a handle's or a string's)
_PARSERS: dict[str, str] = {
    "yaml.safe_load": "yaml", "yaml.load": "yaml", "yaml.full_load": "yaml", "yaml.unsafe_load": "yaml",
    "tomllib.load": "toml", "tomllib.loads": "toml", "tomli.load": "toml", "tomli.loads": "toml",
    "json.load": "json", "json.loads": "json",
}


@dataclass(frozen=True)
class Document:
    """A mapping or list the app loaded: from the data file ``path`` (None: from a string in the code) with the
    parser ``parser``, found under ``keys`` in it."""

    data: Any
    path: str | None
    parser: str
    keys: tuple[str | int, ...] = ()


def is_loader(name: str) -> bool:
    return name in _PARSERS


def parse(name: str, text: str, path: str | None) -> Ev:
    """The value ``name`` (a loader) returns for ``text``; an expression when the parser refuses it — the app
    then raises when it starts, which is not this reader's to tell."""
    try:
        if _PARSERS[name] == "yaml":
            data = yaml.safe_load(text)
        elif _PARSERS[name] == "toml":
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, RecursionError):
        return EXPR
    return of(data, Document(data, path, name))


def read(path: str) -> str | None:
    """The data file's text, when it is here to read (absolute: the app's working folder is not known)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_BYTES).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


def of(value: Any, where: Document) -> Ev:
    """A loaded value as the evaluator holds it: mappings and lists as a Document, scalars as literals that
    remember their place in the file (the login reads a password back from there: readers never keep one)."""
    if isinstance(value, dict | list):
        return Ev(ValueKind.EXPRESSION, replace(where, data=value))
    ev = literal(value)
    return replace(ev, data=(where.path, where.parser, where.keys)) if ev.known and where.path else ev


def value_at(data: tuple[str, str, tuple[str | int, ...]]) -> Any:
    """The value at ``data`` (a RawValue's place in its data file), read again; None when it is gone."""
    path, parser, keys = data
    text = read(path)
    doc = parse(parser, text, path) if text is not None else EXPR
    for key in keys:
        doc = item(doc, literal(key), None)
    return doc.value if doc.known else None


def item(doc: Ev, key: Ev, default: Ev | None) -> Ev:
    """``doc[key]`` (default None) or ``doc.get(key, default)``: a missing key under ``[]`` is a KeyError when the
    app starts, so its value is not told."""
    if not isinstance(doc.value, Document) or not key.known:
        return EXPR
    data, at = doc.value.data, replace(doc.value, keys=(*doc.value.keys, key.value))
    if isinstance(data, dict) and key.value in data:
        return of(data[key.value], at)
    if isinstance(data, list) and key.kind is ValueKind.INT and -len(data) <= key.value < len(data):
        return of(data[key.value], at)
    if default is not None and isinstance(data, dict):
        return default
    return EXPR
