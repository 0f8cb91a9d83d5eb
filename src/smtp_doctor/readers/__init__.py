"""Readers: an app's mail configuration file → ``RawConfig`` (keys as written, with file/line/column).

One module per syntax (Ruby, Python, JS/TS, PHP via real parsers; dotenv, YAML, INI, properties,
main.cf, msmtprc via their libraries or small tokenizers); this module picks the reader for a file
and walks a project tree for candidates. Readers never execute user code. docs/dev/readers.md is the
contract with the framework models and lint rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from ..errors import UserError
from ..frameworks.apptrust import TRUST_VARS
from ..settings import RawConfig, RawValue
from . import spring_layers
from ._common import MAX_BYTES, note, read_text
from .envfile import load_env_file, read_env
from .javascript import read_javascript
from .lines import read_ini, read_msmtp, read_postfix, read_properties
from .loaded_env import Loaded, loaded_env, with_loaded
from .php import read_php
from .python import read_python
from .rails_merge import app_config_dir, is_environment_file, merged
from .ruby import read_ruby
from .versions import detect
from .yamlfile import read_yaml

__all__ = ["FRAMEWORKS", "discover", "load_env_file", "read_file", "read_tree"]

FRAMEWORKS = ("actionmailer", "mastodon", "gitlab", "discourse", "django", "flask_mail", "laravel", "symfony",
              "nodemailer", "spring", "gitea", "grafana", "nextcloud", "vaultwarden", "synapse", "postfix", "msmtp")

Reader = Callable[[Path, str, "str | None", "Mapping[str, str] | None"], list[RawConfig]]


def _ruby(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    configs = read_ruby(path, text, env)
    if framework is None:
        return configs
    want = "actionmailer" if framework == "mastodon" else framework  # Mastodon's production.rb is ActionMailer
    picked = [c for c in configs if c.framework == want]
    return picked or [RawConfig(want, str(path))]


#: syntax → (reader, frameworks that file syntax can hold)
_FORMATS: dict[str, tuple[Reader, frozenset[str]]] = {
    "ruby": (_ruby, frozenset({"actionmailer", "gitlab", "mastodon"})),
    "python": (read_python, frozenset({"django", "flask_mail"})),
    "env": (read_env, frozenset({"mastodon", "laravel", "symfony", "vaultwarden", "flask_mail", "discourse"})),
    "yaml": (read_yaml, frozenset({"discourse", "synapse", "spring"})),
    "properties": (read_properties, frozenset({"spring"})),
    "ini": (read_ini, frozenset({"gitea", "grafana"})),
    "php": (read_php, frozenset({"nextcloud"})),
    "postfix": (read_postfix, frozenset({"postfix"})),
    "msmtp": (read_msmtp, frozenset({"msmtp"})),
    "javascript": (read_javascript, frozenset({"nodemailer"})),
}
_SUFFIX = {".rb": "ruby", ".py": "python", ".yml": "yaml", ".yaml": "yaml", ".properties": "properties",
           ".ini": "ini", ".php": "php", ".cf": "postfix", ".js": "javascript", ".mjs": "javascript",
           ".cjs": "javascript", ".jsx": "javascript", ".ts": "javascript", ".mts": "javascript",
           ".cts": "javascript", ".tsx": "javascript"}
_SAMPLE_SUFFIXES = (".example", ".sample", ".dist", ".template", ".tmpl", ".orig", ".bak")


def syntax_of(path: Path) -> str | None:
    """Which reader a file name calls for (``None``: not a format smtp-doctor reads)."""
    name = path.name.lower()
    if name in ("msmtprc", ".msmtprc") or name.startswith("msmtprc.") or name.endswith(".msmtprc"):
        return "msmtp"
    if name == "main.cf":
        return "postfix"
    if name in (".env", ".flaskenv") or name.startswith(".env.") or name.endswith(".env"):
        return "env"
    return _SUFFIX.get(path.suffix.lower())


def read_file(path: Path, *, framework: str | None = None, env: Mapping[str, str] | None = None,
              home: Path | None = None) -> list[RawConfig]:
    """The mail settings in one file (see docs/dev/readers.md for what is returned when). ``home``: where the
    file stands in the app when ``path`` is a copy of it (fix's patched text), for the env file its code loads."""
    path = Path(path)
    if framework is not None and framework not in FRAMEWORKS:
        raise UserError("readers.error.unknown_framework", framework=framework, known=", ".join(FRAMEWORKS))
    syntax = syntax_of(path)
    text = read_text(path)
    if syntax is None:
        raise UserError("readers.error.unknown_format", file=str(path))
    reader, holds = _FORMATS[syntax]
    if framework is not None and framework not in holds:
        raise UserError("readers.error.framework_mismatch", file=str(path), framework=framework)
    loaded = loaded_env(home or path, text, syntax)
    own_env, env = env, with_loaded(loaded, env, syntax)
    if syntax == "python" and home is not None:  # a copy is read as if at home: __file__, the modules beside it
        reader = partial(read_python, home=home)
    try:
        configs = reader(path, text, framework, env)
        if loaded is not None and loaded.line:
            configs = _before_load(path, configs, loaded, lambda: reader(path, text, framework, own_env))
        if syntax == "ruby" and framework in (None, "actionmailer") and is_environment_file(path):
            configs = merged(path, configs, lambda layer: reader(layer, read_text(layer), framework, env))
        configs = [spring_layers.layered(path, text, c, env, lambda layer: _FORMATS[syntax_of(layer) or "yaml"][0](
            layer, read_text(layer), "spring", env)) if c.framework == "spring" else c for c in configs]
    except RecursionError:  # pathological nesting: refuse it like any other unreadable input
        raise UserError("readers.error.too_deep", file=str(path)) from None
    for config in configs:
        if config.framework_version is None and (found := detect(path, config.framework)) is not None:
            config.framework_version, config.version_from = found.version, found.file
        if env:
            config.app_env = {k: env[k] for k in TRUST_VARS if env.get(k)}
        if loaded is not None:
            note(config, "readers.note.env_file_loaded")
            config.env_file = (str(loaded.file), loaded.override)
    return configs


def _before_load(path: Path, configs: list[RawConfig], loaded: Loaded,
                 unloaded: Callable[[], list[RawConfig]]) -> list[RawConfig]:
    """Values read from the environment above the line that loads the env file are what the process's own
    environment gives (``const options = {host: process.env.SMTP_HOST}`` before ``require('dotenv').config()``
    is undefined where the app runs): those are taken from a reading without the file."""
    def early(rv: RawValue) -> bool:
        return rv.env is not None and rv.env in loaded.values and rv.origin is not None and \
            rv.origin.file == str(path) and loaded.too_late_for(rv.origin.line)

    if not any(early(rv) for c in configs for rv in c.values.values()):
        return configs
    before = unloaded()
    if [c.framework for c in before] != [c.framework for c in configs]:
        return configs
    for config, alone in zip(configs, before, strict=True):
        for key, rv in list(config.values.items()):
            if early(rv):
                if key in alone.values:
                    config.values[key] = alone.values[key]
                else:
                    del config.values[key]
        note(config, "readers.note.env_loaded_late")
    return configs


# ---- discovery --------------------------------------------------------------------------------------------
SKIP_DIRS = frozenset({"node_modules", ".git", "vendor", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", "dist", "build", "coverage", ".next", ".nuxt",
                       ".cache", "bower_components", "tmp", "log", "logs", ".bundle", "site-packages", "target"})
MAX_DEPTH = 12  #: directory levels below root
MAX_ENTRIES = 100_000  #: directory entries looked at, in all
MAX_FOUND = 1_000  #: candidate files returned

#: syntax → substrings one of which must occur for a file of that syntax to be a candidate
_MARKERS: dict[str, tuple[str, ...]] = {
    "ruby": ("smtp_settings", "gitlab_rails['smtp", 'gitlab_rails["smtp'),
    "python": ("EMAIL_HOST", "EMAIL_BACKEND", "EMAIL_USE_", "EMAIL_PORT", "MAIL_SERVER", "MAIL_USE_", "MAIL_PORT"),
    "env": ("SMTP_", "MAIL_", "MAILER_DSN", "DISCOURSE_SMTP_"),
    "yaml": ("DISCOURSE_SMTP_", "smtp_host"),  # Spring's application*.yml: "mail:" (see _candidate)
    "properties": ("spring.mail",),
    "ini": ("[mailer]", "[smtp]"),
    "php": ("mail_smtp",),
    "postfix": ("relayhost", "smtp_"),
    "msmtp": ("host",),
    "javascript": ("createTransport",),
}


def _candidate(path: Path, syntax: str) -> bool:
    name = path.name.lower()
    if name.endswith(_SAMPLE_SUFFIXES):
        return False
    markers = _MARKERS[syntax]
    spring_name = name.startswith(("application", "bootstrap"))
    if syntax == "yaml":
        markers = ("mail:", "spring.mail") if spring_name else ("DISCOURSE_SMTP_", "smtp_host")
    elif syntax == "properties" and not spring_name:
        return False
    try:
        if path.stat().st_size > MAX_BYTES:
            return False
        head = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    return any(m in head for m in markers)


def discover(root: Path) -> list[Path]:
    """Config files under ``root`` that hold mail settings, found by name and a cheap content check.

    Breadth-first, bounded in depth, entries and results; skips dependency and VCS folders and never
    follows symbolic links (a link could leave the tree or loop).
    """
    root = Path(root)
    if root.is_file():
        return [root] if syntax_of(root) else []
    if not root.is_dir():
        raise UserError("readers.error.not_found", file=str(root))
    found: list[Path] = []
    queue: list[tuple[Path, int]] = [(root, 0)]
    seen = 0
    while queue and seen < MAX_ENTRIES and len(found) < MAX_FOUND:
        folder, depth = queue.pop(0)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES or len(found) >= MAX_FOUND:
                break
            if entry.is_symlink():
                continue
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS and depth < MAX_DEPTH:
                    queue.append((path, depth + 1))
            elif entry.is_file(follow_symlinks=False):
                syntax = syntax_of(path)
                if syntax is not None and _candidate(path, syntax):
                    found.append(path)
    return found


def read_tree(root: Path, *, env: Mapping[str, str] | None = None) -> list[RawConfig]:
    """``read_file`` on every file ``discover`` finds (framework detected per file)."""
    configs: list[RawConfig] = []
    paths = discover(root)
    for path in paths:
        configs.extend(read_file(path, env=env))
    # an initializer's (or application.rb's) smtp_settings were folded into each environment file's config
    folded = {app_config_dir(Path(c.file)) for c in configs
              if c.framework == "actionmailer" and is_environment_file(Path(c.file))}
    return [c for c in configs if not (c.framework == "actionmailer" and not is_environment_file(Path(c.file))
                                       and app_config_dir(Path(c.file)) in folded - {None})]
