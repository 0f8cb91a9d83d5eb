"""dotenv files (Mastodon, Laravel, Symfony, Vaultwarden, Flask, Discourse env) via python-dotenv's parser.

python-dotenv's ``parse_stream`` gives each binding with its line, so values keep their position; its
``${VAR}`` atoms are resolved against the file itself only (never this machine's environment, which
could leak a secret into a report or change the verdict from one shell to another).
"""

from __future__ import annotations

import io
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

from dotenv.parser import parse_stream
from dotenv.variables import parse_variables

from ..errors import UserError
from ..settings import ENVIRONMENT, Origin, RawConfig, RawValue, ValueKind
from ._common import MASK, Ev, add, finish, note, raw
from .dsn import DsnError, dsn_list, parse_dsn


@dataclass(frozen=True)
class EnvEntry:
    key: str
    value: str
    line: int
    column: int  #: 1-based column of the value's first character (after an opening quote)
    raw: str  #: the value as written (quotes included)


@dataclass(frozen=True)
class Rule:
    framework: str
    prefixes: tuple[str, ...]
    keys: tuple[str, ...]
    markers: tuple[str, ...]
    filenames: tuple[str, ...]
    siblings: tuple[str, ...]

    def owns(self, key: str) -> bool:
        return key in self.keys or key.startswith(self.prefixes) if self.prefixes else key in self.keys


@cache
def rules() -> tuple[Rule, ...]:
    data = tomllib.loads((resources.files("smtp_doctor") / "readers" / "envkeys.toml").read_text("utf-8"))
    return tuple(
        Rule(name, tuple(t["prefixes"]), tuple(t["keys"]), tuple(t["markers"]), tuple(t["filenames"]),
             tuple(t["siblings"]))
        for name, t in data.items()
    )


_HEAD = re.compile(r"\s*(?:export\s+)?(?P<key>[^=\s]+)\s*=\s*")


def parse_env(path: Path, text: str, env: Mapping[str, str] | None = None) -> list[EnvEntry]:
    """Every ``KEY=value`` binding with its position; a line python-dotenv cannot parse is an error.

    ``${VAR}`` is taken from the file's earlier bindings, then from ``env`` (the ``--env`` mapping).
    """
    entries: list[EnvEntry] = []
    resolved: dict[str, str | None] = dict(env or {})
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise UserError("readers.error.env_syntax", file=str(path), line=binding.original.line)
        if binding.key is None:
            continue
        full = binding.original.string
        blank = re.match(r"(?:[ \t]*\r?\n)*", full)
        skipped = blank.group(0) if blank else ""
        original = full[len(skipped):]
        first = original.split("\n", 1)[0]
        m = _HEAD.match(first)
        start = m.end() if m else 0
        written = original[start:].rstrip("\n")
        quoted = written[:1] in ("'", '"')
        value = binding.value or ""
        if not written.startswith("'"):
            value = "".join(atom.resolve(resolved) for atom in parse_variables(value))
        resolved[binding.key] = value
        line = binding.original.line + skipped.count("\n")
        entries.append(EnvEntry(binding.key, value, line, start + 1 + (1 if quoted else 0), written))
    return entries


def load_env_file(path: Path) -> dict[str, str]:
    """The variables an env file defines (dotenv syntax), interpolated against the file itself."""
    from ._common import read_text

    return {e.key: e.value for e in parse_env(path, read_text(path))}


def frameworks_for(path: Path, entries: list[EnvEntry]) -> list[str]:
    keys = {e.key for e in entries}
    found = []
    for rule in rules():
        named = path.name in rule.filenames or any((path.parent / s).exists() for s in rule.siblings)
        if keys & set(rule.markers) or (named and any(rule.owns(k) for k in keys)):
            found.append(rule.framework)
    return found


def read_env(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    entries = parse_env(path, text, env)
    wanted = [framework] if framework else frameworks_for(path, entries)
    configs = []
    for name in wanted:
        rule = next((r for r in rules() if r.framework == name), None)
        config = RawConfig(name, str(path))
        cached = name == "laravel" and _laravel_config_cache(path, config)
        listed: tuple[EnvEntry, Origin, str, list[tuple[str, int]]] | None = None
        for e in entries:
            if rule is None or not rule.owns(e.key) or (cached and e.key.startswith("MAIL_")):
                continue
            written, (e, where) = e, as_run(e, env, str(path))
            origin = Origin(where, e.line, e.column, e.key)
            ev = Ev(ValueKind.STRING, e.value, e.key)
            if name == "symfony" and e.key == "MAILER_DSN" and (group := dsn_list(e.value)) is not None:
                listed = (e, origin, *group)
                continue
            # the file's own value, which the environment's replaces (lint SD125; fix removes the variable)
            dsn = e.key in ("MAILER_DSN", "MAIL_URL") and bool(e.value)
            under = raw(e.key, Ev(ValueKind.STRING, written.value, e.key), written.raw, Origin(
                str(path), written.line, written.column, e.key), secret=dsn or None) if where != str(path) else None
            if dsn:  # the whole and each part (a DSN may hold the password: the file's is shown masked)
                _add_dsn(config, path, e, origin)
                if under is not None:
                    config.values.update({k: replace(v, overrides=under) for k, v in config.values.items()
                                          if v.env == e.key and v.origin is not None and v.origin.file == where})
            else:
                add(config, e.key, replace(raw(e.key, ev, e.raw, origin), overrides=under))
        if name == "laravel" and not cached:
            _add_laravel_mail(config, path, entries, env)
        if config.values and rule is not None:
            _secret_from_environment(config, rule, env)
        if listed is not None:  # one config per transport of the list, in the order the app tries them
            e, origin, kind, members = listed
            for i, (text, offset) in enumerate(members, 1):
                member = replace(config, values=dict(config.values), notes=list(config.notes),
                                 alternative=(kind, i, len(members)))
                _add_dsn(member, path, e, origin, text, offset)
                configs.append(finish(member))
        elif framework or config.values:
            configs.append(finish(config))
    return configs


def as_run(e: EnvEntry, env: Mapping[str, str] | None, file: str) -> tuple[EnvEntry, str]:
    """The entry as the running app sees it, and where it comes from: a variable the app's environment sets
    (--env) wins over the file, since no dotenv loader overrides one (Symfony Dotenv, phpdotenv, dotenv-rails,
    Node's dotenv, python-dotenv: each by default); then it is read from there."""
    if env is None or e.key not in env or env[e.key] == e.value:
        return e, file
    return EnvEntry(e.key, env[e.key], 1, 1, env[e.key]), ENVIRONMENT


def _secret_from_environment(config: RawConfig, rule: Rule, env: Mapping[str, str] | None) -> None:
    """A password variable the file leaves out is read from the process environment (dotenv never overrides a
    set variable), where secrets are usually kept: without --env it is unknown here, not unset; with --env,
    set when the environment sets it (its value, a secret, is not kept: app_password reads it there)."""
    from ..frameworks import model

    for key in model(config.framework).keys_with_role("password"):
        if rule.owns(key) and key not in config.values and (env is None or key in env):
            config.values[key] = RawValue(None, ValueKind.ENV if env is None else ValueKind.STRING, key, None, key,
                                          True)


def _add_dsn(config: RawConfig, path: Path, e: EnvEntry, origin: Origin, text: str | None = None,
             offset: int = 0) -> None:
    """The DSN ``e`` holds (or ``text``, one transport of its list, ``offset`` characters into it), part by part."""
    text = e.value if text is None else text
    try:
        dsn = parse_dsn(text, e.key)
    except DsnError:
        raise UserError("readers.error.dsn", file=str(path), line=e.line, name=e.key) from None
    ev = Ev(ValueKind.STRING, text, e.key)
    if dsn is None:
        note(config, "readers.note.dsn_unparsed")
        add(config, e.key, raw(e.key, ev, e.raw, origin))
        return
    whole = raw(e.key, ev, dsn.masked, origin, secret=dsn.has_password)
    if dsn.has_password:
        whole = type(whole)(None, ValueKind.STRING, dsn.masked, origin, e.key, True)
    add(config, e.key, whole)
    literal = e.raw.find(e.value) if e.value else -1
    for part in dsn.parts:
        col = e.column + offset + part.offset if literal != -1 else e.column
        text = MASK if part.key == "password" and part.text else part.text
        add(config, part.key, raw(part.key, part.ev, text, Origin(origin.file, e.line, col, part.key)))


#: Illuminate\Support\Env::get (/usr/share/php/Illuminate/Support/Env.php:79-90): words env() turns into values
_LARAVEL_WORDS = {"true": Ev(ValueKind.BOOL, True), "(true)": Ev(ValueKind.BOOL, True),
                  "false": Ev(ValueKind.BOOL, False), "(false)": Ev(ValueKind.BOOL, False),
                  "empty": Ev(ValueKind.STRING, ""), "(empty)": Ev(ValueKind.STRING, ""),
                  "null": Ev(ValueKind.NIL), "(null)": Ev(ValueKind.NIL)}


def _secret(key: str) -> bool | None:
    """A mailer key that holds a password (``password``): its value is never shown."""
    return True if "pass" in key.lower() else None


#: where ``php artisan config:cache`` writes every config file's array (Application::getCachedConfigPath)
LARAVEL_CONFIG_CACHE = "bootstrap/cache/config.php"

#: a cached mailer's keys under the names Laravel 9+'s rows read (a MAIL_URL's parts: frameworks.toml)
_CACHED_AS = {"scheme": "scheme", "host": "host", "port": "port", "username": "user", "local_domain": "local_domain",
              "verify_peer": "verify_peer", "encryption": "MAIL_ENCRYPTION"}


def _laravel_config_cache(path: Path, config: RawConfig) -> bool:
    """``php artisan config:cache`` wrote bootstrap/cache/config.php: Laravel then loads neither .env nor
    config/*.php (Illuminate/Foundation/Bootstrap/LoadEnvironmentVariables.php: ``if
    ($app->configurationIsCached()) return;``; LoadConfiguration.php requires the cached array instead), so the
    mailer is the cached one, however the .env has changed since. Its values are read as ``mail.<key>`` (the
    Laravel ≤ 8 rows) and under the names the 9+ rows read; the .env's MAIL_* lines are left out."""
    from ._common import read_text
    from .php import laravel_mailer

    cache = path.parent / LARAVEL_CONFIG_CACHE
    if not cache.is_file():
        return False
    try:
        values = laravel_mailer(cache, read_text(cache))
    except UserError:
        return False
    if not values:
        return False
    for v in values:
        secret = _secret(v.key)
        add(config, "mail." + v.key, raw("mail." + v.key, v.ev, v.text, v.origin, secret=secret))
        if v.key in _CACHED_AS:
            add(config, _CACHED_AS[v.key], raw(_CACHED_AS[v.key], v.ev, v.text, v.origin, secret=secret))
    note(config, "readers.note.laravel_config_cached")
    return True


def _add_laravel_mail(config: RawConfig, path: Path, entries: list[EnvEntry], env: Mapping[str, str] | None) -> None:
    """config/mail.php's ``mailers.smtp`` values as ``mail.<key>``, each env() folded as Laravel does: the
    process environment first (phpdotenv does not overwrite it), then the .env, then env()'s default. A value
    the .env gives keeps the .env line as its origin, so a fix edits that line."""
    from ._common import read_text
    from .php import laravel_mailer

    mail_php = path.parent / "config" / "mail.php"
    if not mail_php.is_file():
        return
    try:
        values = laravel_mailer(mail_php, read_text(mail_php))
    except UserError:
        return
    by_key = {e.key: e for e in entries}
    for v in values:
        key = "mail." + v.key
        if v.env is None:
            add(config, key, raw(key, v.ev, v.text, v.origin))
            continue
        entry = by_key.get(v.env)
        given = (env or {}).get(v.env)
        if given is None and entry is None:
            add(config, key, raw(key, v.ev, v.text, v.origin))
            continue
        text = given if given is not None else entry.value if entry is not None else ""
        ev = _LARAVEL_WORDS.get(text.lower(), Ev(ValueKind.STRING, text, v.env))
        origin = Origin(str(path), entry.line, entry.column, entry.key) if given is None and entry else v.origin
        under = None
        if given is not None and entry is not None and given != entry.value:  # the environment over the .env
            under = raw(key, _LARAVEL_WORDS.get(entry.value.lower(), Ev(ValueKind.STRING, entry.value, v.env)),
                        entry.raw, Origin(str(path), entry.line, entry.column, entry.key), secret=_secret(v.key))
        add(config, key, replace(raw(key, ev, entry.raw if given is None and entry else text, origin,
                                     secret=_secret(v.key)), overrides=under))
