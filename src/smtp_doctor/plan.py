"""Settings → ConnectionPlan: what the app will do on the wire, in the terms the probe measures.

``Settings`` says what the configuration means; the plan adds what the framework does with it that
the settings model does not spell out — which trust store a CA option joins or replaces, whether it
waits forever without a timeout, which failures the configuration alone already guarantees (refused at
start-up, or certain at connect). Pure: no I/O; the facts come from knowledge/predict.toml.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import UserError
from .settings import Origin, RawConfig, Setting, Settings, TLSMode


@dataclass(frozen=True)
class Refusal:
    """A failure the configuration causes whatever the server does (frameworks.predict)."""

    mode: str  #: failure-mode id (knowledge/errors.toml) the app shows
    text: str  #: what the framework prints
    at: str  #: "startup" or "connect"
    origin: Origin | None
    source: str
    cause: str | None = None  #: what in the config causes it, when the app's words name another failure


@dataclass(frozen=True)
class ConnectionPlan:
    """The app's connection, decided by its configuration alone. ``None`` = the config cannot tell."""

    framework: str
    source: str  #: the config file
    host: str | None
    port: int | None
    mode: TLSMode | None
    verify_peer: bool | None
    verify_hostname: bool | None
    ca_file: str | None
    ca_path: str | None
    #: trust stores the chain is verified against: "system" (the runtime's default), "ca-file" (the app's own)
    trust: tuple[str, ...]
    ca_unknown: bool  #: a CA option is written, but as code or an unresolved env var the reader cannot evaluate
    auth_mechanism: str | None  #: None = no AUTH; "auto" = the framework picks from what is offered
    credentials: bool  #: a user name or password is configured (never the secret itself)
    read_timeout: float | None  #: None = the framework waits as long as the server keeps the socket open
    framework_version: str | None
    runtime: str | None  #: whose TLS stack prints the errors: "ruby", "python" …
    refusals: tuple[Refusal, ...] = ()
    origins: dict[str, Origin | None] = field(default_factory=dict)  #: plan field → where it was written
    #: the app's own CA file as OpenSSL will find it (frameworks/apptrust.py): readable | missing | unreadable |
    #: empty; None = not looked at (pure plan) or no CA file
    ca_state: str | None = None
    #: files the app's TLS stack loads when TLS starts (client certificate, key, CRL) that are not there (check.py)
    tls_files_missing: tuple[str, ...] = ()
    #: the client certificate file the app loads with no key beside it, when it holds no private key (a CA file
    #: named as the client certificate): Python's load_cert_chain fails when TLS starts (check.py)
    client_cert_keyless: str | None = None
    trust_env: tuple[str, ...] = ()  #: trust variables of the app's environment its runtime reads
    trust_ignored: tuple[str, ...] = ()  #: trust variables set that its runtime does not read
    ignored_keys: tuple[str, ...] = ()  #: written, but never read by the framework (mail gem: string keys)
    #: the env file the app's code loads below settings that read the environment (they got the process's own)
    env_loaded_late: str | None = None
    #: variables of the app's environment that give host or port over what a file of the app sets (a stale
    #: SPRING_MAIL_PORT): the target is theirs, not the file's (RawValue.overrides)
    env_overrides: tuple[str, ...] = ()
    #: the framework's key for the port, when nothing sets it and its default applies (Flask-Mail's MAIL_PORT: 25)
    port_default: str | None = None
    servername: str | None = None  #: the certificate is checked against this name, not host (Node tls.servername)
    #: the TLS versions the app may use when it pins them (OpenSSL's names, "TLSv1.2"); empty: its runtime's own
    tls_versions: tuple[str, ...] = ()
    #: the server certificate's fingerprint the app pins (hex digits, no colons, upper case); it then trusts that
    #: certificate alone, whatever its chain and names
    pinned: str | None = None
    #: the host as written, when the framework connects elsewhere than it reads (PHP streams: the name before its
    #: first colon, at the port after it) while it checks the certificate against this whole string
    host_written: str | None = None
    #: where the app goes on when its implicit TLS handshake fails on a plaintext port (Settings.tls_fallback)
    fallback: TLSMode | None = None

    @property
    def target(self) -> str:
        return f"{self.host or '?'}:{self.port or '?'}"


@cache
def knowledge() -> dict[str, Any]:
    """knowledge/predict.toml, loaded once."""
    text = (resources.files("smtp_doctor") / "knowledge" / "predict.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def framework_facts(framework: str) -> dict[str, Any]:
    """The plan facts of one framework (predict.toml [framework.<id>]); {} when nothing is recorded."""
    return dict(knowledge().get("framework", {}).get(framework, {}))


def password_as_token(framework: str) -> tuple[str, ...]:
    """The token mechanisms a framework feeds its password to as the token (Swiftmailer's and Symfony's
    XOAuth2Authenticator): the app sends it there, so check's own login may too."""
    return tuple(framework_facts(framework).get("password_as_token", ()))


def _value(s: Setting[Any] | None) -> Any:
    return None if s is None else s.value


def _trust(facts: dict[str, Any], ca: bool) -> tuple[str, ...]:
    """Which stores verify the chain. ``ca`` = "adds": the CA option joins the default store (Ruby's
    set_params keeps DEFAULT_CERT_STORE); "replaces": only the CA option (Python's cafile=, Node's ca);
    "ignored": the framework has no CA option at all; "none": no CA is loaded when the option is set."""
    how = facts.get("ca", "replaces")
    if not ca or how == "ignored":
        return ("system",)
    if how == "adds":
        return ("system", "ca-file")
    return ("ca-file",)


def _ca_written(settings: Settings) -> bool:
    """A CA key is in the file but its value is not known (``File.expand_path(...) + '/bundle.crt'``)."""
    from .frameworks import model
    from .frameworks.truth import KNOWN

    raw = settings.raw
    if raw is None:
        return False
    try:
        keys = model(raw.framework).keys_with_role("ca")
    except UserError:
        return False
    return any(k in raw.values and raw.values[k].kind not in KNOWN for k in keys)


def _split_host(facts: dict[str, Any], host: Any) -> tuple[str, int] | None:
    """(name, port) where the framework's socket layer connects for a host with a colon in it: for
    ``host_colon = "first"`` (PHP streams) "name:587" connects to name at 587 whatever the port setting says;
    None elsewhere, where the host is resolved whole (a [[reach]] row of predict.toml then says why it fails)."""
    m = re.match(r"([^\s:\[\]/]+):(\d{1,5})(?!\d)", host) if isinstance(host, str) else None
    if facts.get("host_colon") != "first" or m is None or not 0 < int(m[2]) < 65536:
        return None
    return m[1], int(m[2])


def env_loaded_late(raw: RawConfig) -> str | None:
    """The name of the env file the app's code loads below settings that read the environment (readers'
    note env_loaded_late): those settings got the process's own variables."""
    if "readers.note.env_loaded_late" not in raw.notes or raw.env_file is None:
        return None
    return Path(raw.env_file[0]).name


def plan(settings: Settings) -> ConnectionPlan:
    """The connection ``settings`` lead to (no network, no file access)."""
    from .frameworks import predict as refusals_of

    facts = framework_facts(settings.framework)
    ca_file, ca_path = _value(settings.ca_file), _value(settings.ca_path)
    ca_unknown = ca_file is None and ca_path is None and _ca_written(settings)
    auth = _value(settings.auth_mechanism)
    credentials = bool(settings.username) or settings.has_password
    if auth in (None, "none", "") or not credentials:
        auth = None
    timeout = _value(settings.read_timeout)
    refusals = tuple(Refusal(p.shows or p.mode, p.text, p.at, p.origin, p.source, p.mode if p.shows else None)
                     for p in (refusals_of(settings.raw, settings) if settings.raw is not None else []))
    origins = {name: s.origin for name in ("host", "port", "tls_mode", "verify_peer", "verify_hostname", "ca_file",
                                             "auth_mechanism", "username", "read_timeout")
               if (s := getattr(settings, name)) is not None}
    host, port, written = _value(settings.host), _value(settings.port), None
    if (split := _split_host(facts, host)) is not None:
        (host, port), written = split, host
        if "host" in origins:
            origins["port"] = origins["host"]
    ignored: tuple[str, ...] = ()
    target = {origins.get("host"), origins.get("port")} - {None}
    overrides = tuple(sorted({v.env for v in settings.raw.values.values() if v.overrides is not None and v.env
                              and v.origin in target})) if settings.raw is not None else ()
    from .frameworks import model

    port_default = None
    if settings.port is not None and settings.port.default and written is None:
        with contextlib.suppress(UserError):
            port_default = model(settings.framework).source_key("port", settings.raw)
    if settings.raw is not None:
        from .frameworks.conditions import string_key

        with contextlib.suppress(UserError):
            if model(settings.raw.framework).string_keys == "ignored":
                ignored = tuple(k for k, v in settings.raw.values.items() if string_key(v))
    return ConnectionPlan(
        ignored_keys=ignored, env_overrides=overrides, port_default=port_default,
        env_loaded_late=env_loaded_late(settings.raw) if settings.raw is not None else None,
        framework=settings.framework, source=settings.source, host=host, port=port, host_written=written,
        mode=_value(settings.tls_mode), fallback=_value(settings.tls_fallback),
        verify_peer=_value(settings.verify_peer), verify_hostname=_value(settings.verify_hostname),
        ca_file=ca_file, ca_path=ca_path,
        trust=_trust(facts, bool(ca_file or ca_path or ca_unknown)), ca_unknown=ca_unknown,
        auth_mechanism=auth, credentials=credentials,
        read_timeout=float(timeout) if timeout is not None else None,
        framework_version=settings.framework_version, runtime=facts.get("runtime"), refusals=refusals,
        origins=origins, servername=_value(settings.servername) or written,
        pinned=re.sub(r"[^0-9A-F]", "", str(_value(settings.pinned)).upper()) if settings.pinned else None,
        tls_versions=tuple(re.findall(r"TLSv1(?:\.[0-3])?", str(_value(settings.tls_versions) or ""))))
