"""The version of the package that decides a framework's behaviour, read from the app's own lock file.

The mail gem 2.7 and 2.9 read ``enable_starttls_auto: false`` differently, Django 4.2 changed what
``EMAIL_SSL_CERTFILE`` means: a prediction made for the wrong version is a wrong prediction. So the version
comes from the lock file next to the config (Gemfile.lock, poetry.lock, requirements*.txt, package-lock.json,
composer.lock), found by walking up from the config's folder; which file and format per framework is data
(``[[lock]]`` in knowledge/frameworks.toml). Nothing is executed, nothing is fetched.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ._common import MAX_BYTES

MAX_UP = 6  #: folders walked up from the config (config/environments/production.rb → the app root is 2 up)
_REQ = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*===?\s*(?P<version>[0-9][\w.\-+!]*)")


@dataclass(frozen=True)
class Found:
    version: str
    file: str  #: the lock file it was read from


@cache
def _locks() -> tuple[dict[str, Any], ...]:
    text = (resources.files("smtp_doctor") / "knowledge" / "frameworks.toml").read_text(encoding="utf-8")
    rows = tuple(tomllib.loads(text).get("lock", []))
    for row in rows:
        if not row.get("source") or row.get("format") not in {*_PARSERS, "auto"}:
            raise ValueError(f"frameworks.toml [[lock]] {row.get('framework')}: needs a source and a known format")
    return rows


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _gemfile_lock(text: str, package: str) -> str | None:
    m = re.search(rf"^ {{4}}{re.escape(package)} \(([^)\s]+)\)\s*$", text, re.MULTILINE)
    return m.group(1) if m else None


def _poetry_lock(text: str, package: str) -> str | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    for p in data.get("package", []):
        if isinstance(p, dict) and _norm(str(p.get("name", ""))) == _norm(package):
            return str(p.get("version")) if p.get("version") else None
    return None


def _requirements(text: str, package: str) -> str | None:
    for line in text.splitlines():
        m = _REQ.match(line.split("#", 1)[0])
        if m and _norm(m.group("name")) == _norm(package):
            return m.group("version")
    return None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _pipfile_lock(text: str, package: str) -> str | None:
    data = _json(text)
    if not isinstance(data, dict):
        return None
    for section in ("default", "develop"):
        for name, entry in (data.get(section) or {}).items():
            if _norm(name) == _norm(package) and isinstance(entry, dict):
                return str(entry.get("version", "")).lstrip("=") or None
    return None


def _package_lock(text: str, package: str) -> str | None:
    data = _json(text)
    if not isinstance(data, dict):
        return None
    entry = (data.get("packages") or {}).get(f"node_modules/{package}") or (data.get("dependencies") or {}).get(package)
    return str(entry["version"]) if isinstance(entry, dict) and entry.get("version") else None


def _composer_lock(text: str, package: str) -> str | None:
    data = _json(text)
    if not isinstance(data, dict):
        return None
    for p in data.get("packages") or []:
        if isinstance(p, dict) and p.get("name") == package and p.get("version"):
            return str(p["version"]).lstrip("v")
    return None


_POM_PARENT = re.compile(r"<parent>(?:(?!</parent>).)*?<artifactId>\s*spring-boot-starter-parent\s*</artifactId>"
                         r"(?:(?!</parent>).)*?<version>\s*([0-9][\w.\-]*)\s*</version>", re.DOTALL)
_GRADLE_PLUGIN = re.compile(
    r"""id\s*\(?\s*["']org\.springframework\.boot["']\s*\)?\s*version\s*["']([0-9][\w.\-]*)["']""")


def _spring_boot(text: str, package: str) -> str | None:
    """Spring Boot's version as the build declares it: the Maven parent, or the Gradle plugin (no lock file is
    usual in a Spring app; these pin the whole dependency set, JavaMail's implementation included)."""
    m = _POM_PARENT.search(text) or _GRADLE_PLUGIN.search(text)
    return m.group(1) if m else None


_PARSERS = {"gemfile_lock": _gemfile_lock, "poetry_lock": _poetry_lock, "requirements": _requirements,
            "pipfile_lock": _pipfile_lock, "package_lock": _package_lock, "composer_lock": _composer_lock,
            "spring_boot": _spring_boot}


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name == "poetry.lock":
        return "poetry_lock"
    if name == "pipfile.lock":
        return "pipfile_lock"
    return "requirements"


def _read(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def detect(config: Path, framework: str) -> Found | None:
    """The version the app's lock file pins for ``framework``'s deciding package; None when no lock says."""
    rows = [r for r in _locks() if r["framework"] == framework]
    if not rows:
        return None
    folder = Path(config).resolve().parent
    for _ in range(MAX_UP):
        for row in rows:
            for pattern in row["files"]:
                for path in sorted(folder.glob(pattern))[:20]:
                    text = _read(path)
                    if text is None:
                        continue
                    fmt = row["format"] if row["format"] != "auto" else _format_of(path)
                    version = _PARSERS[fmt](text, row["package"])
                    if version:
                        return Found(version, str(path))
        if folder.parent == folder:
            break
        folder = folder.parent
    return None
