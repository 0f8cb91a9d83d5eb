"""Typed view of knowledge/runtimes.toml: runtimes, framework fixes and OS packages."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class RuntimeSpec:
    id: str
    label: str
    store: str  #: "openssl", "node", "java" or "go"
    source: str
    executable: str | None = None
    argv: tuple[str, ...] = ()
    roots_argv: tuple[str, ...] = ()
    help_argv: tuple[str, ...] = ()
    drop_env: tuple[str, ...] = ()
    keep_flags: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  #: Go's search list
    dirs: tuple[str, ...] = ()
    default_store_password: str = ""
    reports: str = "first"  #: which verify error the runtime shows: OpenSSL's first, or its last (Node)


@dataclass(frozen=True)
class FrameworkSpec:
    id: str
    label: str
    runtime: str
    where: str
    file_fix: str
    source: str
    dir_fix: str = ""
    env_fix: str = ""
    insecure: str = ""


@dataclass(frozen=True)
class OSSpec:
    id: str
    ids: tuple[str, ...]
    install: str
    bundle: str
    source: str


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _build(raw: Mapping[str, Any]) -> tuple[dict[str, RuntimeSpec], dict[str, FrameworkSpec], list[OSSpec]]:
    runtimes = {}
    for rid, e in raw.get("runtime", {}).items():
        runtimes[rid] = RuntimeSpec(
            rid, e["label"], e["store"], e["source"], e.get("executable"), _tuple(e.get("argv")),
            _tuple(e.get("roots_argv")), _tuple(e.get("help_argv")), _tuple(e.get("drop_env")),
            _tuple(e.get("keep_flags")), _tuple(e.get("env")), _tuple(e.get("frameworks")),
            _tuple(e.get("files")), _tuple(e.get("dirs")), e.get("default_store_password", ""),
            e.get("reports", "first"))
    frameworks = {
        fid: FrameworkSpec(fid, e["label"], e["runtime"], e["where"], e["file_fix"], e["source"],
                           e.get("dir_fix", ""), e.get("env_fix", ""), e.get("insecure", ""))
        for fid, e in raw.get("framework", {}).items()
    }
    systems = [OSSpec(oid, _tuple(e["ids"]), e["install"], e["bundle"], e["source"])
               for oid, e in raw.get("os", {}).items()]
    return runtimes, frameworks, systems


@cache
def _load() -> tuple[dict[str, RuntimeSpec], dict[str, FrameworkSpec], list[OSSpec]]:
    text = (resources.files("smtp_doctor") / "knowledge" / "runtimes.toml").read_text(encoding="utf-8")
    return _build(tomllib.loads(text))


def runtimes() -> dict[str, RuntimeSpec]:
    return _load()[0]


def frameworks() -> dict[str, FrameworkSpec]:
    return _load()[1]


def operating_systems() -> list[OSSpec]:
    return _load()[2]


def os_release(path: str = "/etc/os-release") -> dict[str, str]:
    """``/etc/os-release`` as a mapping (empty when absent: macOS, BSD, a scratch image)."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh.read(65536).splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip().isidentifier():
                    out[key.strip()] = value.strip().strip("\"'")
    except OSError:
        pass
    return out


def os_family(release: Mapping[str, str] | None = None) -> OSSpec | None:
    """The OS family entry for this machine, from ``ID`` then ``ID_LIKE``."""
    rel = os_release() if release is None else release
    ids = [rel.get("ID", "").lower(), *rel.get("ID_LIKE", "").lower().split()]
    for candidate in ids:
        for spec in operating_systems():
            if candidate and candidate in spec.ids:
                return spec
    return None
