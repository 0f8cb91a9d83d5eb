"""YAML configs (Discourse ``app.yml`` env, Synapse ``homeserver.yaml`` ``email:``, Spring ``application.yml``).

PyYAML's composer keeps every node's position; scalars are resolved with the safe loader's own rules
(YAML 1.1: ``yes``/``on`` are booleans), which is what those apps' YAML libraries do too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from ..settings import Origin, RawConfig, ValueKind
from ._common import EXPR, Ev, add, finish, literal, raw, syntax_error

_PLACEHOLDER = re.compile(r"^\$\{(?P<name>[^:}]+)(?::(?P<default>[^}]*))?\}$")


def compose(path: Path, text: str) -> list[yaml.Node]:
    try:
        return [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise syntax_error(path, (mark.line + 1) if mark else 1, (mark.column + 1) if mark else 1) from None
    except yaml.YAMLError:
        raise syntax_error(path, 1) from None


def scalar(node: yaml.Node) -> Ev:
    if not isinstance(node, yaml.ScalarNode):
        return EXPR
    try:
        value = yaml.SafeLoader("").construct_object(node)
    except (yaml.YAMLError, ValueError):  # ValueError: an int over 4300 digits (sys.int_info.default_max_str_digits)
        return Ev(ValueKind.STRING, node.value)
    ev = literal(value)
    return ev if ev.known else Ev(ValueKind.STRING, str(node.value))


def origin(path: Path, node: yaml.Node, key: str) -> Origin:
    return Origin(str(path), node.start_mark.line + 1, node.start_mark.column + 1, key)


_MERGE = "tag:yaml.org,2002:merge"


def items(node: yaml.Node, depth: int = 0) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """A mapping's entries with YAML merge keys (``<<: *default``) applied as the loaders apply them: shallow,
    the mapping's own keys over the merged ones, an earlier mapping in ``<<: [*a, *b]`` over a later one.
    ``depth`` bounds merges of merges."""
    if not isinstance(node, yaml.MappingNode):
        return
    merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    own: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.tag == _MERGE and depth < 8:
            for m in reversed(v.value if isinstance(v, yaml.SequenceNode) else [v]):
                merged.update((key, (kn, vn)) for key, kn, vn in items(m, depth + 1))
        elif isinstance(k, yaml.ScalarNode):
            own[str(k.value)] = (k, v)
    for key, (kn, vn) in (merged | own).items():
        yield key, kn, vn


#: what a Spring config's mail sender reads: its own keys, and the SSL bundles spring.mail.ssl.bundle may name
SPRING_KEYS = ("spring.mail.", "spring.ssl.bundle.")


def flatten(node: yaml.Node, prefix: str = "") -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """Dotted paths of every scalar leaf (``spring: mail: host:`` → ``spring.mail.host``)."""
    stack = [(node, prefix)]
    while stack:
        cur, pre = stack.pop(0)
        for key, knode, vnode in items(cur):
            path = f"{pre}.{normalise(key)}" if pre else normalise(key)
            if isinstance(vnode, yaml.MappingNode):
                stack.append((vnode, path))
            else:
                yield path, knode, vnode


def normalise(key: str) -> str:
    """Spring's ``properties[mail.smtp.auth]`` bracket notation is the same key as the dotted one."""
    return re.sub(r"\[([^\]]*)\]", r".\1", key).strip(".")


def placeholder(ev: Ev, env: Mapping[str, str] | None) -> Ev:
    """Spring ``${VAR:default}``: the env var (resolved when a mapping is given)."""
    if ev.kind is not ValueKind.STRING:
        return ev
    m = _PLACEHOLDER.match(ev.value.strip())
    if not m:
        return ev
    name, default = m.group("name"), m.group("default")
    if env is not None and name in env:
        return Ev(ValueKind.STRING, env[name], name)
    if env is not None and default is not None:
        return Ev(ValueKind.STRING, default, name)
    return Ev(ValueKind.ENV, None, name)


def read_yaml(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    configs: list[RawConfig] = []
    for doc in compose(path, text):
        top = {k: (kn, v) for k, kn, v in items(doc)}
        if framework in (None, "discourse") and "env" in top:
            config = RawConfig("discourse", str(path))
            for key, _, vnode in items(top["env"][1]):
                if key.startswith("DISCOURSE_SMTP_") or key == "DISCOURSE_NOTIFICATION_EMAIL":
                    ev = scalar(vnode)
                    ev = Ev(ev.kind, ev.value, key)
                    add(config, key, raw(key, ev, _text(vnode), origin(path, vnode, key)))
            if config.values or framework:
                configs.append(config)
        if framework in (None, "synapse") and "email" in top:
            config = RawConfig("synapse", str(path))
            for key, _, vnode in items(top["email"][1]):
                add(config, key, raw(key, scalar(vnode), _text(vnode), origin(path, vnode, key)))
            if config.values or framework:
                configs.append(config)
        if framework in (None, "spring"):
            config = RawConfig("spring", str(path))
            for key, knode, vnode in flatten(doc):
                if key.startswith(SPRING_KEYS):
                    ev = placeholder(scalar(vnode), env)
                    add(config, key, raw(key, ev, _text(vnode), origin(path, vnode, str(knode.value))))
            if config.values or framework == "spring":
                configs.append(config)
    if framework and not configs:
        configs.append(RawConfig(framework, str(path)))
    return [finish(c) for c in configs]


def _text(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value) if node.style is None else f"{node.style}{node.value}{node.style}"
    return ""
