"""One normalised model of "how will this app connect to its SMTP server".

Readers turn a framework's file into ``RawConfig`` (the keys exactly as written, with where they
were written); a framework model turns that into ``Settings`` (what the framework will actually do
with them: mail gem's truthiness rules, Django's defaults …). Lint rules see both: the raw form for
mistakes of spelling (``tls: 587``), the settings for mistakes of meaning (implicit TLS on 587).

Secrets never enter this model: a password is kept as a *reference* ("ENV[SMTP_PASSWORD]",
"literal at settings.py:41") plus the fact that one is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class TLSMode(StrEnum):
    IMPLICIT = "implicit"  #: TLS from the first byte ("SMTPS", RFC 8314 port 465)
    STARTTLS = "starttls"  #: plaintext, then STARTTLS; fail if it is not offered
    STARTTLS_AUTO = "starttls-auto"  #: STARTTLS when offered, otherwise carry on in plaintext
    NONE = "none"  #: never TLS


class ValueKind(StrEnum):
    """How a raw value was written, which matters for truthiness traps."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STRING = "string"
    SYMBOL = "symbol"  #: a Ruby symbol such as :plain
    NIL = "nil"  #: nil / None / null
    ENV = "env"  #: a reference to an environment variable that could not be resolved
    EXPRESSION = "expression"  #: code the reader does not evaluate (never executed)


#: the origin's file name for a value the app's environment gives, not a file (env files, Spring's layers)
ENVIRONMENT = "(environment)"


@dataclass(frozen=True)
class Origin:
    """Where a value was written: file, 1-based line and column, and the key as spelled there."""

    file: str
    line: int
    column: int = 1
    key: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class RawValue:
    """A value as the config file wrote it.

    ``text`` is the source text (masked when the key holds a secret); ``value`` the literal it
    denotes when the reader could tell (``True``, ``587``, ``"false"`` …); ``env`` the variable it
    came from when it was read through ``ENV[...]``/``os.environ``/``process.env`` …
    """

    value: Any
    kind: ValueKind
    text: str
    origin: Origin | None = None
    env: str | None = None
    secret: bool = False
    file: tuple[str, bool] | None = None  #: (path, trimmed) when the app reads the value from that file
    #: (data file, its parser, the keys down to the value) when app code loads the value from YAML, TOML or JSON
    data: tuple[str, str, tuple[str | int, ...]] | None = None
    #: the file a literal secret is read back from when that is not ``origin.file``: fix's patched copy, whose
    #: lines a removed line has moved and a trimmed value has changed (repair._reread; login.py reads it)
    read_from: str | None = None
    #: the value a file of the app gives this key, which this one (from the app's environment) replaces: a stale
    #: SPRING_MAIL_PORT over application.properties. fix reads the files without it (repair._environment_fix)
    overrides: RawValue | None = None


@dataclass
class RawConfig:
    """Everything a reader found in one file for one framework."""

    framework: str  #: id from knowledge/frameworks.toml, e.g. "actionmailer", "mastodon", "django"
    file: str
    values: dict[str, RawValue] = field(default_factory=dict)  #: framework key → value
    framework_version: str | None = None
    notes: list[str] = field(default_factory=list)  #: catalogue keys of reader remarks
    version_from: str | None = None  #: the lock file framework_version was read from (readers/versions.py)
    #: the trust variables (SSL_CERT_FILE …) of the app's environment as given with the config (--env);
    #: frameworks/apptrust.py adds this process's own
    app_env: dict[str, str] = field(default_factory=dict)
    #: the env file the app's own code loads at start-up (readers/loaded_env.py), and whether it overrides the
    #: environment: login.py reads the password there when the environment does not hold it
    env_file: tuple[str, bool] | None = None
    #: keys an options object sets beside its ``url`` that the url does not set: whether the framework reads
    #: them depends on its version (Nodemailer before 10.0.0 reads the url alone: frameworks.toml url_alone_until)
    beside_url: tuple[str, ...] = ()
    #: one transport of a list the framework tries in turn until one sends (Symfony's ``failover(a b)`` /
    #: ``roundrobin(a b)`` DSN): (the list's kind, this one's place from 1, how many); the app delivers when any does
    alternative: tuple[str, int, int] | None = None


@dataclass(frozen=True)
class Setting(Generic[T]):
    """A normalised value and the raw value(s) it was derived from (for locations in reports)."""

    value: T
    origin: Origin | None = None
    default: bool = False  #: True when the framework's default applies (nothing was written)


@dataclass
class Settings:
    """What the app will do when it connects: the single language of readers, checks, probe, writers."""

    framework: str
    source: str
    host: Setting[str] | None = None
    port: Setting[int] | None = None
    tls_mode: Setting[TLSMode] | None = None
    #: the mode the app goes on in when its implicit TLS handshake fails (Jakarta Mail's socket factory with
    #: socketFactory.fallback: a plain socket, then STARTTLS as its keys say); None: it fails there
    tls_fallback: Setting[TLSMode] | None = None
    verify_peer: Setting[bool] | None = None  #: chain verification
    verify_hostname: Setting[bool] | None = None
    servername: Setting[str] | None = None  #: the name the certificate is checked against (and SNI), if not host
    tls_versions: Setting[str] | None = None  #: the TLS versions the app offers, when it pins them (Java "TLSv1.2")
    #: the one certificate the app accepts, by fingerprint, whatever its issuer and names (msmtp tls_fingerprint)
    pinned: Setting[str] | None = None
    ca_file: Setting[str] | None = None
    ca_path: Setting[str] | None = None
    client_cert: Setting[str] | None = None
    auth_mechanism: Setting[str] | None = None  #: "plain", "login", "cram-md5", "xoauth2", "none", "auto"
    username: Setting[str] | None = None
    password_ref: Setting[str] | None = None  #: never the secret: "ENV[SMTP_PASSWORD]", "literal"
    has_password: bool = False
    open_timeout: Setting[float] | None = None
    read_timeout: Setting[float] | None = None
    helo_domain: Setting[str] | None = None
    sender: Setting[str] | None = None
    framework_version: str | None = None
    raw: RawConfig | None = None
