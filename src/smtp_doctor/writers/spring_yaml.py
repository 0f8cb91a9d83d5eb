"""Apply a fix to a Spring Boot ``application.yml``, whose keys nest (``spring: mail: properties: mail.smtp.…``).

Boot flattens YAML by joining the keys of nested mappings with dots (OriginTrackedYamlLoader / YamlProcessor
getFlattenedMap), so ``spring.mail.properties.mail.smtp.ssl.enable`` may be written nested, dotted, or
half of each. A key already written is changed on its own line; a removed key loses its line; a new key goes
under the deepest mapping the file already has for it, written as the dotted rest of its name (Boot reads
``properties: {mail.smtp.starttls.enable: true}`` and the nested form alike), indented like that mapping's keys.

Pure text work on the lines, as writers/patch.py: the YAML is composed only to find where each key is. A key
whose value spans lines, or sits in a flow mapping on a shared line, is Unpatchable, never guessed. Only the
first document is edited (a later ``---`` document is a profile's).
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from ..predict import Fix
from ..readers.yamlfile import items
from ..settings import RawConfig
from .edit import Patched, Unpatchable, split_lines


def _leaf(node: yaml.Node, path: str) -> Iterator[tuple[yaml.Node, yaml.Node, str]]:
    """(key node, value node, rest of ``path`` below it) for each entry along ``path``, outermost first. The
    longest key that leads there wins: ``auth.plain.disable`` beside ``auth: true`` is that key, not below it."""
    while isinstance(node, yaml.MappingNode):
        step = max(((k, kn, vn) for k, kn, vn in items(node) if path == k or path.startswith(k + ".")),
                   key=lambda step: len(step[0]), default=None)
        if step is None:
            return
        key, knode, vnode = step
        path = path[len(key) + 1:]
        yield knode, vnode, path
        node = vnode


def _value(line: str) -> tuple[str, str]:
    key, sep, value = line.partition(": ")
    if not sep:
        raise Unpatchable("fix.unpatchable.yaml")
    return key, value


def apply_spring_yaml_fix(text: str, raw: RawConfig, fix: Fix) -> Patched:
    """``text`` (a Spring YAML) with ``fix`` applied; Unpatchable when it cannot be done line by line."""
    try:
        docs = [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError:
        raise Unpatchable("fix.unpatchable.yaml") from None
    root = docs[0] if docs else None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise Unpatchable("fix.unpatchable.yaml")
    lines = split_lines(text, keepends=True)
    changed: dict[int, str] = {}
    removed: set[int] = set()
    added: dict[int, list[str]] = {}  #: line after which, the new lines

    def own_line(knode: yaml.Node, vnode: yaml.Node) -> int:
        n = knode.start_mark.line
        block = vnode.style in (None, "", "'", '"') and not lines[n].lstrip().startswith("{")
        if not isinstance(vnode, yaml.ScalarNode) or vnode.end_mark.line != n or not block:
            raise Unpatchable("fix.unpatchable.shared_line")
        return n

    def ending(n: int) -> str:
        return lines[n][len(lines[n].rstrip("\r\n")):] or "\n"

    for key, _ in fix.remove:
        steps = list(_leaf(root, key)) if root is not None else []
        if steps and steps[-1][2] == "":
            removed.add(own_line(steps[-1][0], steps[-1][1]))
    for key, line in zip(fix.keys, fix.lines, strict=True):
        _, value = _value(line)
        steps = list(_leaf(root, key)) if root is not None else []
        if steps and steps[-1][2] == "":
            knode, vnode, _ = steps[-1]
            n = own_line(knode, vnode)
            changed[n] = lines[n][:vnode.start_mark.column] + value + ending(n)
            removed.discard(n)
            continue
        if steps and not isinstance(steps[-1][1], yaml.MappingNode):
            raise Unpatchable("fix.unpatchable.yaml")  # a scalar where the fix needs a mapping
        if steps:
            _, mapping, rest = steps[-1]
            first = mapping.value[0][0] if mapping.value else None
            if first is None or mapping.flow_style:
                raise Unpatchable("fix.unpatchable.yaml")
            indent = " " * first.start_mark.column
            after = max(v.end_mark.line - (1 if v.end_mark.column == 0 else 0) for _, v in mapping.value)
        else:
            rest, indent, after = key, "", len(lines) - 1
        added.setdefault(after, []).append(f"{indent}{rest}: {value}\n")
    out: list[str] = []
    for n, line in enumerate(lines):
        if n not in removed:
            out.append(changed.get(n, line))
        if n in added:
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            # mappings that end on the same line: an inner one's new keys first, else they would nest under the
            # outer one's new key (spring.mail.ssl.bundle after spring.ssl.bundle…, both after mail's last line)
            out.extend(sorted(added[n], key=lambda new: -(len(new) - len(new.lstrip(" ")))))
    if not lines:
        out.extend(added.get(-1, []))
    anchor = max(added) + 1 if added else None
    return Patched("".join(out), tuple(sorted(n + 1 for n in removed)), tuple(sorted(n + 1 for n in changed)), anchor)
