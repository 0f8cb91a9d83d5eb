"""Credentials: where they come from, and the guarantee that they never leave in any output.

A password is never taken as a plain command-line argument (it would show in ``ps`` and shell
history): it comes from an environment variable, a file, ``~/.netrc`` or an interactive prompt.
``Redactor`` is the last line of defence: every command that handles credentials passes its
whole output through it, so even a server echoing a secret back cannot make it appear.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError
from .i18n import Term

if TYPE_CHECKING:
    from .settings import RawConfig

#: the AUTH arguments a framework checks before it connects, per framework: net-smtp's do_start runs
#: check_auth_args(user, secret) ``if user or secret`` (net-smtp-0.3.1 lib/net/smtp.rb:635-637, 867-873;
#: ruby/net-smtp v0.5.0 the same), so a nil one is "SMTP-AUTH requested but missing secret phrase"
AUTH_ARGS = {"actionmailer": ("user_name", "password")}

MASK = "********"
#: Longer than any password or OAuth access token (Microsoft's run to ~2.5 KB).
MAX_SECRET = 64 * 1024


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """SASL sends UTF-8 (RFC 4616); bytes that are not UTF-8 (an argv or environment variable in
        Latin-1 arrives as surrogates) cannot be sent, so they are refused here, before any I/O."""
        for what, value in (("user", self.user), ("password", self.password), ("token", self.oauth_token)):
            if value is not None and not _is_utf8(value):
                raise UserError("input.not_utf8", what=Term(f"input.what.{what}"))

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.oauth_token) if s]


@dataclass(frozen=True)
class AuthPolicy:
    """What the user explicitly allowed; by default credentials go only to verified TLS."""

    allow_cleartext: bool = False  #: --allow-cleartext-credentials
    allow_unverified: bool = False  #: --allow-unverified-tls-credentials


def load_password(*, env: str | None, file: str | None, host: str, user: str,
                  netrc_file: str | None = None, prompt: bool = False) -> str | None:
    """The password from the first source the user named; ``None`` when none was named."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise UserError("auth.password_env_missing", var=env)
        return value
    if file:
        try:
            with open(file, "rb") as fh:  # the first line, bounded: --password-file /dev/zero must end
                return fh.readline(MAX_SECRET).decode("utf-8").rstrip("\r\n")
        except OSError as exc:
            raise UserError("auth.password_file_unreadable", path=file, error=exc.strerror or str(exc)) from None
        except UnicodeDecodeError:
            raise UserError("input.not_utf8", what=f"--password-file {file}") from None
    import netrc  # here: every command that masks output imports this module, few read ~/.netrc (issue 16)

    try:
        entry = netrc.netrc(netrc_file).authenticators(host) if (netrc_file or _has_netrc()) else None
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
        raise UserError("auth.netrc_unreadable", error=str(exc).splitlines()[0]) from None
    if entry and entry[0] in (user, None, "") and entry[2]:
        return entry[2]
    if prompt:
        import click

        return str(click.prompt(f"Password for {user}@{host}", hide_input=True, err=True))
    return None


def app_auth_args(raw: RawConfig, env: Mapping[str, str] | None) -> RawConfig:
    """``check`` only, and only when ``--env`` describes the app's environment: an AUTH argument read from a
    variable set neither there nor in this process is the nil the app passes (``ENV['SMTP_PASSWORD']``
    unset), so net-smtp's ArgumentError is predicted. Without ``--env`` the variable's absence here says
    nothing about the server the app runs on (a laptop has no production secrets): the reference stays, and
    the login is reported as not tried. ``lint`` reads the file alone and keeps the reference too."""
    from .settings import ValueKind

    if env is None:
        return raw
    given = {**os.environ, **env}
    values = dict(raw.values)
    for key in AUTH_ARGS.get(raw.framework, ()):
        rv = values.get(key)
        if rv is not None and rv.kind is ValueKind.ENV and rv.env and rv.env not in given:
            values[key] = replace(rv, kind=ValueKind.NIL, value=None)
    return replace(raw, values=values) if values != raw.values else raw


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_netrc() -> bool:
    return (Path.home() / ".netrc").is_file()


def wire_forms(user: str, secret: str) -> set[str]:
    """Every encoding in which ``secret`` could travel in SMTP AUTH, to be masked in output."""
    raw = secret.encode()
    blobs = {raw, b"\0" + user.encode() + b"\0" + raw, user.encode() + b"\0" + raw,
             f"user={user}\x01auth=Bearer {secret}\x01\x01".encode()}
    forms = {secret}
    for blob in blobs:
        encoded = base64.b64encode(blob).decode()
        forms.add(encoded)
        forms.add(encoded.rstrip("="))
    return {f for f in forms if len(f) >= 4}


class Redactor:
    """Replace every known secret, in every wire form, by ``********``."""

    def __init__(self, credentials: Iterable[Credentials] = ()) -> None:
        self._forms: list[str] = []
        for cred in credentials:
            for secret in cred.secrets():
                self.add(cred.user, secret)

    def add(self, user: str, secret: str) -> None:
        self._forms = sorted(set(self._forms) | wire_forms(user, secret), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
