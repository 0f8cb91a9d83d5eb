"""``config.action_mailer.smtp_settings = config_for(:smtp)``: the settings live in ``config/smtp.yml``.

Rails' ``config_for(name)`` reads ``config/<name>.yml`` through ERB, takes the section of the running
environment deep-merged over ``shared:`` and symbolises the keys (railties lib/rails/application.rb,
Rails 6.1+). This module reads that file the same way without running the ERB: each ``<%= … %>`` is folded
with the Ruby reader's evaluator (``ENV['X']``, ``ENV.fetch('X', 'd')`` …); anything else stays unknown.
When the file is not there, the config says so (a note and an unknown address) instead of letting the
framework's defaults stand in for settings that exist somewhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from ..settings import Origin, RawConfig, RawValue, ValueKind
from ._common import EXPR, Ev, add, note, raw, read_text, ruby_to_s
from .yamlfile import compose, items, origin, scalar

MAX_UP = 4  #: config/environments/production.rb → config/ is 1 up; config/initializers/x/y.rb 2 up
_ERB = re.compile(r"<%(?P<eq>=?)(?P<code>.*?)-?%>", re.DOTALL)
#: a YAML line whose whole value is one ERB tag (shown as \0), optionally quoted
_WHOLE = re.compile(r"""\s*[\w-]+\s*:\s*(['"]?)\0\1\s*(#.*)?""")


def _config_dir(rb: Path) -> Path | None:
    folder = rb.resolve().parent
    for _ in range(MAX_UP):
        if folder.name == "config":
            return folder
        if folder.parent == folder:
            return None
        folder = folder.parent
    return None


def rails_env(rb: Path, env: Mapping[str, str] | None) -> tuple[str, bool]:
    """(environment, assumed): the file's own environment (config/environments/<env>.rb), else RAILS_ENV /
    RACK_ENV from the given environment, else production (assumed: said in a note)."""
    if rb.parent.name == "environments":
        return rb.stem, False
    for name in ("RAILS_ENV", "RACK_ENV"):
        if env and env.get(name):
            return env[name], False
    return "production", True


def _unknown_address(config: RawConfig, where: Origin, text: str) -> None:
    config.values["address"] = RawValue(None, ValueKind.EXPRESSION, text, where)


def read_config_for(rb: Path, name: str, config: RawConfig, where: Origin, call_text: str,
                    env: Mapping[str, str] | None, evaluate: Callable[[str], Ev]) -> None:
    """Fill ``config`` from config/<name>.yml for the app's environment (see the module docstring)."""
    folder = _config_dir(rb)
    yml = folder / f"{name}.yml" if folder is not None else None
    if yml is None or not yml.is_file():
        note(config, "readers.note.config_for_missing")
        _unknown_address(config, where, call_text)
        return
    environment, assumed = rails_env(rb, env)
    if assumed:
        note(config, "readers.note.rails_env_assumed")
    held: dict[str, tuple[Ev, str]] = {}
    source = read_text(yml)
    from_env: dict[int, str] = {}  #: line → the variable a whole-value ERB tag there read (`password: <%= ENV['X'] %>`)

    def fold(m: re.Match[str]) -> str:
        if not m.group("eq"):
            note(config, "readers.note.settings_not_literal")
            return ""
        ev = evaluate(m.group("code").strip())
        if ev.known and ev.kind is not ValueKind.NIL:
            start = source.rfind("\n", 0, m.start()) + 1
            end = source.find("\n", m.end())
            line = source[start:end if end != -1 else len(source)]
            if ev.env and _WHOLE.fullmatch(line.replace(m.group(0), "\0")):  # the value is the variable's
                from_env[source.count("\n", 0, m.start())] = ev.env
            return ruby_to_s(ev)
        token = f"__smtp_doctor_erb_{len(held)}__"
        held[token] = (ev, m.group(0))
        return token

    text = _ERB.sub(fold, source)
    try:
        docs = compose(yml, text)
    except Exception:  # noqa: BLE001 - a YAML the app cannot load either: say where, keep the address unknown
        note(config, "readers.note.settings_not_literal")
        _unknown_address(config, where, call_text)
        return
    top = {k: v for doc in docs for k, _, v in items(doc)}
    sections = [top[s] for s in ("shared", environment) if s in top]
    if environment not in top:
        note(config, "readers.note.config_for_no_section")
        _unknown_address(config, where, call_text)
    for section in sections:
        for key, _, vnode in items(section):
            if not isinstance(vnode, yaml.ScalarNode):
                continue
            ev, shown = scalar(vnode), str(vnode.value)
            if ev.kind is ValueKind.STRING and isinstance(ev.value, str) and "__smtp_doctor_erb_" in ev.value:
                ev, shown = held.get(ev.value.strip(), (EXPR, shown))
            elif ev.kind is ValueKind.STRING and re.fullmatch(r":\w+", str(ev.value)):
                ev = Ev(ValueKind.SYMBOL, str(ev.value)[1:])  # Psych loads ":plain" as a Symbol
            if (var := from_env.get(vnode.start_mark.line)) is not None:
                ev = Ev(ev.kind, ev.value, var)  # the login reads the app's variable, not the tag's text
            add(config, key, raw(key, ev, shown, origin(yml, vnode, key)))
