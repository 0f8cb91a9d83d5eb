"""Apply a fix to ``config/<name>.yml`` when the Rails app reads its smtp_settings with ``config_for(:name)``.

Rails takes the running environment's section deep-merged over ``shared:`` (railties lib/rails/application.rb
``config_for``), so the fix goes into *that* section and nowhere else: a key written there is changed in place;
a key that only ``shared:`` or a merged anchor (``<<: *default``) sets is overridden in the section (a removal
becomes ``key: ~``, nil, which
``Mail::SMTP`` treats as unset: ``DEFAULTS.merge`` keeps the nil and every read is truthiness); a new key is
added after the section's last entry, indented like it. Other environments' sections are never touched.

Pure text work on the lines, as writers/patch.py: the YAML is only parsed (after the ERB tags are blanked,
line for line) to find where the sections start and end. A fix line that does not read back as the same
value in YAML (a Ruby string with escapes, an expression) is refused with Unpatchable, never guessed.
"""

from __future__ import annotations

import re

import yaml

from ..predict import Fix
from ..readers.yamlfile import items
from ..settings import RawConfig
from .edit import Patched, Unpatchable, split_lines

_ERB = re.compile(r"<%.*?%>", re.DOTALL)
#: a ruby_hash fix line whose value reads back the same in YAML (Psych loads ":plain" as a Symbol)
_LINE = re.compile(r"^(?P<key>\w+): (?P<value>true|false|nil|-?\d+(?:\.\d+)?|'[^'\\\n]*'|:\w+),?$")
_KEY = re.compile(r"^(?P<indent>[ ]*)(?P<key>[\w]+)\s*:")


def _blank_erb(text: str) -> str:
    """ERB tags replaced by a plain word, their line breaks kept: the line numbers stay the file's."""
    return _ERB.sub(lambda m: "x" + "\n" * m.group(0).count("\n"), text)


def _sections(text: str) -> dict[str, tuple[int, int, dict[str, int], set[str]]]:
    """Top-level section → (first line, last line, {key: line}, keys it merges in) of its mapping, 1-based."""
    try:
        docs = [d for d in yaml.compose_all(_blank_erb(text), Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError:
        raise Unpatchable("fix.unpatchable.yaml") from None
    out: dict[str, tuple[int, int, dict[str, int], set[str]]] = {}
    for doc in docs:
        if not isinstance(doc, yaml.MappingNode):
            continue
        for k, v in doc.value:
            if not isinstance(k, yaml.ScalarNode) or not isinstance(v, yaml.MappingNode) or not v.value:
                continue
            keys = {str(kk.value): kk.start_mark.line + 1 for kk, _ in v.value if isinstance(kk, yaml.ScalarNode)}
            last = max(vv.end_mark.line + (0 if vv.end_mark.column == 0 else 1) for _, vv in v.value)
            out[str(k.value)] = (k.start_mark.line + 1, last, keys, {key for key, _, _ in items(v)} - set(keys))
    return out


def _yaml_line(line: str) -> tuple[str, str]:
    m = _LINE.match(line.strip())
    if m is None:
        raise Unpatchable("fix.unpatchable.yaml")
    value = m.group("value")
    return m.group("key"), "~" if value == "nil" else value


def apply_yaml_fix(text: str, raw: RawConfig, fix: Fix, yml: str, section: str) -> Patched:
    """``text`` (the YAML at ``yml``) with ``fix`` applied to ``section``; Unpatchable when it cannot be."""
    sections = _sections(text)
    if section not in sections:
        raise Unpatchable("fix.unpatchable.yaml")
    first, last, own, merged = sections[section]
    shared = set(sections.get("shared", (0, 0, {}, set()))[2]) | merged
    lines = split_lines(text, keepends=True)
    if not lines or not 1 <= last <= len(lines):
        raise Unpatchable("fix.unpatchable.yaml")
    for key in (*fix.keys, *(k for k, _ in fix.remove)):
        rv = raw.values.get(key)
        if rv is not None and rv.origin is not None and rv.origin.file != yml:
            raise Unpatchable("fix.unpatchable.elsewhere")  # set in Ruby after config_for: not this file's
    indent = next((m.group("indent") for n in own.values() if (m := _KEY.match(lines[n - 1]))), "  ")
    changed: dict[int, str] = {}
    removed: set[int] = set()
    added: list[str] = []

    def put(key: str, value: str) -> None:
        n = own.get(key)
        if n is not None:
            m = _KEY.match(lines[n - 1])
            if m is None or m.group("key") != key:
                raise Unpatchable("fix.unpatchable.shared_line")
            ending = lines[n - 1][len(lines[n - 1].rstrip("\r\n")):] or "\n"
            changed[n] = f"{m.group('indent')}{key}: {value}{ending}"
            removed.discard(n)
        else:
            added.append(f"{indent}{key}: {value}\n")

    for key, _ in fix.remove:
        if key in own and key not in shared:
            removed.add(own[key])
        elif key in own or key in shared:
            put(key, "~")  # shared: would show through a deleted line: nil overrides it
    for line in fix.lines:
        put(*_yaml_line(line))
    out: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n not in removed:
            out.append(changed.get(n, line))
        if n == last:
            if added and not out[-1].endswith("\n"):
                out[-1] += "\n"
            out.extend(added)
    return Patched("".join(out), tuple(sorted(removed)), tuple(sorted(changed)), last if added else None)
