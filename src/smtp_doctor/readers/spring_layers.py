"""One Spring Boot app's ``spring.mail.*`` as the running app binds them: profile files, then the environment.

Spring Boot reads ``application.properties`` / ``application.yml``, then ``application-<profile>.*`` for every
active profile (``SPRING_PROFILES_ACTIVE``, or ``spring.profiles.active`` in the file), each overriding the one
before, and ``.properties`` over ``.yml`` in the same place; an environment variable outranks every file,
named by relaxed binding (``SPRING_MAIL_PASSWORD`` is ``spring.mail.password``; under the ``properties`` map
``SPRING_MAIL_PROPERTIES_MAIL_SMTP_AUTH`` is ``mail.smtp.auth``). With the app's environment given, a ``${VAR}``
without a default that it lacks is kept as an expression: Spring refuses to start on it. Sources: Spring Boot reference
"Externalized Configuration" (property source order, profile-specific files) and "Binding From Environment
Variables" (relaxed binding rules).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from ..settings import ENVIRONMENT, Origin, RawConfig, ValueKind
from ._common import Ev, note, raw

MAX_PROFILES = 8  #: a bound on the profile files read
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENV_PREFIX = "SPRING_MAIL_"


def is_base_file(path: Path) -> bool:
    """``application.properties`` / ``application.yml``: the file profile files override."""
    return path.stem == "application" and path.suffix in (".properties", ".yml", ".yaml")


_FILE_PROFILES = re.compile(r"spring\.profiles\.active\s*[=:]\s*([\w,.-]+)|^\s*profiles:\s*\n\s+active:\s*([\w,.-]+)",
                            re.MULTILINE)


def active_profiles(text: str, env: Mapping[str, str] | None) -> list[str]:
    """SPRING_PROFILES_ACTIVE wins over ``spring.profiles.active`` written in the base file's ``text``."""
    m = _FILE_PROFILES.search(text)
    text = (env or {}).get("SPRING_PROFILES_ACTIVE") or (m.group(1) or m.group(2) if m else "")
    names = [p.strip() for p in text.split(",") if p.strip()]
    return [p for p in names if _PROFILE_NAME.fullmatch(p)][:MAX_PROFILES]


def layered(path: Path, text: str, base: RawConfig, env: Mapping[str, str] | None,
            read: Callable[[Path], list[RawConfig]]) -> RawConfig:
    """``base`` (read from ``path``, whose text is ``text``) with the active profiles' files and the SPRING_MAIL_*
    variables over it."""
    out = base
    active = active_profiles(text, env) if is_base_file(path) else []
    if is_base_file(path) and not active and inactive_mail_profiles(path, read):
        note(out, "readers.note.spring_profile_inactive")
    for profile in active:
        for suffix in (".yml", ".yaml", ".properties"):  # later wins: .properties over .yml
            layer = path.with_name(f"application-{profile}{suffix}")
            if layer.is_file():
                for c in read(layer):
                    if c.framework == "spring":
                        out.values.update(c.values)
    for name, value in sorted((env or {}).items()):
        if name.startswith(_ENV_PREFIX) and (key := env_key(name)) is not None:
            was = out.values.get(key)  # the files' value, when it differs (lint SD125)
            given = raw(key, Ev(ValueKind.STRING, value, name), value, Origin(ENVIRONMENT, 1, 1, name))
            out.values[key] = replace(given, overrides=was if was is not None and str(was.value) != value else None)
    if env is not None:  # the app's environment is known: a ${VAR} without default it lacks stops Spring at start
        out.values = {k: replace(v, kind=ValueKind.EXPRESSION) if v.kind is ValueKind.ENV else v
                      for k, v in out.values.items()}
    return out


def inactive_mail_profiles(path: Path, read: Callable[[Path], list[RawConfig]]) -> list[str]:
    """The profiles whose file beside ``path`` (application-prod.yml …) sets spring.mail.*: with no profile active,
    Boot never reads them — the usual reason settings "in the config" are not the ones the app uses."""
    found = sorted(p for p in path.parent.glob("application-*") if p.suffix in (".properties", ".yml", ".yaml"))
    names = [layer.stem.removeprefix("application-") for layer in found[:MAX_PROFILES]
             if any(c.framework == "spring" and any(k.startswith("spring.mail.") for k in c.values)
                    for c in read(layer))]
    return [n for n in dict.fromkeys(names) if _PROFILE_NAME.fullmatch(n)]


#: MailProperties' own names below spring.mail. An environment variable names one with '.' as '_' and '-' left out
#: (SystemEnvironmentPropertyMapper: SPRING_MAIL_SSL_ENABLED is ssl.enabled, SPRING_MAIL_DEFAULTENCODING is
#: default-encoding, SPRING_MAIL_DEFAULT_ENCODING would be default.encoding, which nothing reads)
_MAIL_KEYS = ("host", "port", "username", "password", "protocol", "default-encoding", "jndi-name", "test-connection",
              "ssl.enabled", "ssl.bundle")
_BY_ENV = {k.replace("-", "").replace(".", "_"): k for k in _MAIL_KEYS}


def env_key(name: str) -> str | None:
    """The ``spring.mail.*`` key an environment variable binds to (relaxed binding), or None."""
    rest = name[len(_ENV_PREFIX):].lower()
    if not rest:
        return None
    if rest.startswith("properties_"):
        return "spring.mail.properties." + rest.removeprefix("properties_").replace("_", ".")
    return "spring.mail." + _BY_ENV.get(rest, rest.replace("_", "."))
