"""One Rails app's smtp_settings as the running app sees them: the files merged in Rails' load order.

Rails runs ``config/application.rb``, then ``config/environments/<env>.rb``, then every
``config/initializers/**/*.rb`` in sorted order (railties lib/rails/engine.rb ``paths["config/initializers"]``
and ``initializers_chain``; ActionMailer's railtie copies ``config.action_mailer`` onto
``ActionMailer::Base`` when it loads, so an initializer's assignment comes last). ``smtp_settings = {…}``
replaces the hash; ``smtp_settings[:port] = …`` and ``merge!`` change the hash set before. An
initializer that changes the port is therefore not a second config: it is the same one, changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..settings import RawConfig
from .ruby import AMENDS

MAX_INITIALIZERS = 200  #: a bound on the files read; real apps have a few dozen
MERGED = "readers.note.merged"


def app_config_dir(path: Path) -> Path | None:
    """``…/config`` when ``path`` is config/application.rb, config/environments/*.rb or an initializer."""
    p = path.resolve()
    if p.parent.name == "environments" and p.parent.parent.name == "config":
        return p.parent.parent
    if p.name == "application.rb" and p.parent.name == "config":
        return p.parent
    for parent in p.parents:
        if parent.name == "initializers" and parent.parent.name == "config":
            return parent.parent
    return None


def is_environment_file(path: Path) -> bool:
    p = path.resolve()
    return p.suffix == ".rb" and p.parent.name == "environments" and p.parent.parent.name == "config"


def layers(env_file: Path) -> list[Path]:
    """The files whose smtp_settings reach the app for this environment file, in load order."""
    config = env_file.resolve().parent.parent
    out = [config / "application.rb"] if (config / "application.rb").is_file() else []
    out.append(env_file.resolve())
    initializers = config / "initializers"
    if initializers.is_dir():
        out += sorted(p for p in initializers.rglob("*.rb") if p.is_file() and not p.is_symlink())[:MAX_INITIALIZERS]
    return out


def fold(configs: list[RawConfig], file: str) -> RawConfig:
    """Apply the layers in order: an assignment replaces the hash, an amendment changes keys of it."""
    out = RawConfig("actionmailer", file)
    for c in configs:
        if AMENDS not in c.notes:
            out.values = {}
        out.values.update(c.values)
        out.notes += [n for n in c.notes if n not in out.notes and n != AMENDS]
        out.framework_version = out.framework_version or c.framework_version
        out.version_from = out.version_from or c.version_from
    if len(configs) > 1:
        out.notes.append(MERGED)
    return out


def merged(env_file: Path, own: list[RawConfig],
           read: Callable[[Path], list[RawConfig]], env: Mapping[str, str] | None = None) -> list[RawConfig]:
    """``own`` (the environment file's configs) with the other layers' ActionMailer settings folded in."""
    del env  # the layers are read with the same environment by ``read``
    mine = [c for c in own if c.framework == "actionmailer"]
    chain: list[RawConfig] = []
    target = env_file.resolve()
    for layer in layers(env_file):
        if layer == target:
            chain += mine
            continue
        try:
            text = layer.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "smtp_settings" not in text:
            continue
        chain += [c for c in read(layer) if c.framework == "actionmailer"]
    if not chain or chain == mine:
        return own
    return [c for c in own if c.framework != "actionmailer"] + [fold(chain, str(env_file))]
