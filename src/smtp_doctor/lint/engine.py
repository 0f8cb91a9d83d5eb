"""Run the lint rules over one RawConfig: the predicates the rules are written in, and the findings.

A finding names its rule (``SD103``), where the mistake was written (``file:line:col``) and the
parameters of its sentences; the words are in messages/lint.toml. Values shown to the user are the
reader's source text, which readers mask for secrets; this module never looks at a secret's value.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import warnings
from collections.abc import Mapping
from functools import cache
from typing import Any

from .. import i18n
from ..findings import Finding
from ..frameworks import Prediction, expected_error, model, predict, to_settings
from ..frameworks import conditions as C
from ..frameworks.model import Model
from ..providers import identify
from ..settings import ENVIRONMENT, Origin, RawConfig, Settings, ValueKind
from .rules import LintRule, RuleBook, rulebook

MASK = "••••"


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _looks_like_ca(path: str) -> bool:
    """A PEM file with certificates that are CAs (or several certificates) and no private key."""
    from cryptography import x509

    try:
        with open(path, "rb") as fh:
            data = fh.read(4 * 1024 * 1024)
    except OSError:
        return False
    if b"PRIVATE KEY-----" in data or b"-----BEGIN CERTIFICATE-----" not in data:
        return False
    try:
        with warnings.catch_warnings():  # system bundles hold a few old roots cryptography grumbles about
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        return False
    if len(certs) > 1:
        return True
    for cert in certs:
        try:
            if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                return True
        except x509.ExtensionNotFound:
            continue
    return False


class _Run:
    """The state of linting one configuration (settings and predictions computed once)."""

    def __init__(self, raw: RawConfig, book: RuleBook) -> None:
        self.raw = raw
        self.book = book
        self.model: Model = model(raw.framework)
        self.settings: Settings = to_settings(raw)
        self.predictions: list[Prediction] = predict(raw)
        self.hit: Prediction | None = None
        host = self.settings.host.value if self.settings.host else ""
        port = self.settings.port.value if self.settings.port else None
        self.provider = identify(host, port) if host else None  # knowledge/providers.toml, one source
        #: variables another of the app's own settings is read from (config/mail.php's env('MAIL_AUTH_MODE')):
        #: the app reads them, whatever the framework's stock names are
        self.read_by_app = frozenset(rv.env for key, rv in raw.values.items() if rv.env and rv.env != key)
        self.ctx = C.Context(values=raw.values, truth_of=self.model.truth_of, symbols_of=self.model.symbols_of,
                             settings=self.settings, extra=self._predicates())

    # -- lint predicates ------------------------------------------------------------------------------------------
    def _predicates(self) -> dict[str, C.Predicate]:
        return {
            "truth_in": lambda arg, ctx: self.model.truth_of(ctx.key or "") in arg,
            "text_matches": self._text_matches,
            "not_in_values": self._not_in_values,
            "predicts": self._predicts,
            "credentials": lambda arg, ctx: self._credentials() == arg,
            "loopback": lambda arg, ctx: None if self.settings.host is None
            else _is_loopback(self.settings.host.value) == arg,
            "file_missing": self._file_missing,
            "looks_like_ca": self._looks_like_ca,
            "provider_username": self._provider_username,
            "provider_port": self._provider_port,
            "unknown_key": lambda arg, ctx: not (self.model.knows(ctx.name(arg)) or ctx.name(arg) in self.read_by_app),
            "noted": lambda arg, ctx: any(n in self.raw.notes for n in arg),
            "key_under": lambda arg, ctx: ctx.name("$").startswith(arg),
            "overrides_file": self._overrides_file,
        }

    def _overrides_file(self, arg: bool, ctx: C.Context) -> C.Tri:
        """The value comes from a variable of the app's environment over a file's (RawValue.overrides); one finding
        per variable, at the first key it gives (a DSN gives several, Laravel's MAIL_PORT two)."""
        rv = ctx.get("$")
        if rv is None or rv.overrides is None or not rv.env:
            return not arg
        first = next(k for k, v in self.raw.values.items() if v.overrides is not None and v.env == rv.env)
        return (first == ctx.name("$")) == arg

    def _text_matches(self, arg: Mapping[str, Any], ctx: C.Context) -> C.Tri:
        rv = ctx.get(arg["key"])
        return rv is not None and not rv.secret and bool(_regex(arg["re"]).match(rv.text))

    def _not_in_values(self, arg: str, ctx: C.Context) -> C.Tri:
        key = ctx.name(arg)
        facts, rv = self.model.keys.get(key), ctx.get(arg)
        if facts is None or facts.values is None or rv is None or rv.kind is ValueKind.NIL:
            return False
        if rv.kind not in (ValueKind.STRING, ValueKind.SYMBOL, ValueKind.INT, ValueKind.FLOAT, ValueKind.BOOL):
            return None
        allowed = {C.norm(v) if facts.ci else str(v) for v in facts.values}
        written = C.norm(rv.value) if facts.ci or rv.kind is ValueKind.BOOL else str(rv.value)
        return written not in allowed

    def _predicts(self, arg: list[str], ctx: C.Context) -> C.Tri:
        self.hit = next((p for p in self.predictions if p.mode in arg), None)
        return self.hit is not None

    def _credentials(self) -> bool:
        s = self.settings
        auth = s.auth_mechanism.value if s.auth_mechanism else "none"
        return bool(s.username) or s.has_password or auth not in ("none", "")

    def _file_missing(self, arg: str, ctx: C.Context) -> C.Tri:
        s = getattr(self.settings, arg)
        if s is None or s.default or s.origin is None or not os.path.isabs(s.value):
            return False
        return not os.path.exists(s.value)

    def _looks_like_ca(self, arg: str, ctx: C.Context) -> C.Tri:
        s = getattr(self.settings, arg)
        return s is not None and os.path.isabs(s.value) and _looks_like_ca(s.value)

    def _provider_username(self, arg: bool, ctx: C.Context) -> C.Tri:
        """Only a provider whose login is one literal word (SendGrid's "apikey") is certain enough to lint."""
        p, user = self.provider, self.settings.username
        if p is None or p.username_literal is None or user is None:
            return False
        return (user.value != p.username_literal) == arg

    def _provider_port(self, arg: bool, ctx: C.Context) -> C.Tri:
        p, port = self.provider, self.settings.port
        if p is None or not p.ports or port is None:
            return False
        return (port.value not in p.ports) == arg

    # -- findings -------------------------------------------------------------------------------------------------
    def _origin(self, rule: LintRule) -> Origin | None:
        if self.hit is not None and self.hit.origin is not None:
            return self.hit.origin
        for name in rule.at:
            s = getattr(self.settings, name, None)
            if s is not None and getattr(s, "origin", None) is not None:
                return s.origin  # type: ignore[no-any-return]
            rv = self.raw.values.get(name)
            if rv is not None and rv.origin is not None:
                return rv.origin
        return None

    def _params(self, rule: LintRule, key: str | None, origin: Origin | None) -> dict[str, Any]:
        s = self.settings
        params: dict[str, Any] = {"framework": i18n.Term(f"frameworks.name.{self.raw.framework}")}
        if s.port is not None:
            params["port"] = s.port.value
        if s.host is not None:
            params["host"] = s.host.value
        mode = s.tls_mode.value.value if s.tls_mode else "unknown"
        params["mode"] = i18n.Term(f"frameworks.tlsmode.{mode}")
        if key is not None:
            rv = self.raw.values[key]
            params["key"] = rv.origin.key if rv.origin and rv.origin.key else key
            params["key_plain"] = key
            shown = rv.text
            if rv.env and rv.kind in C.KNOWN and rv.text not in (repr(rv.value), str(rv.value)):
                shown = f'{rv.text} = "{rv.value}"'  # resolved from --env: show what the app will see
            params["value"] = MASK if rv.secret else shown
            if rv.overrides is not None:  # the file's value it replaces, and where the file writes it
                params["var"] = rv.env or key
                params["file_value"] = MASK if rv.overrides.secret else rv.overrides.text
            facts = self.model.keys.get(key)
            if facts and facts.values is not None:
                params["allowed"] = ", ".join(v if v else '""' for v in facts.values)
            on = C.evaluate({"truthy": key}, self.ctx)
            params["means"] = i18n.Term("lint.means.on" if on else "lint.means.off")
            if rule.scope == "all_keys":
                near = difflib.get_close_matches(key, sorted(self.model.vocabulary), n=1, cutoff=0.6)
                params["suggestion"] = near[0] if near else "-"
        elif origin is not None and origin.key:
            params["key"] = origin.key
        if self.provider is not None:
            params["provider"] = self.provider.name
            params["provider_user"] = self.provider.username_literal or ""
            params["provider_ports"] = ", ".join(str(p) for p in sorted(self.provider.ports))
        if s.username is not None:
            params["user"] = s.username.value
        ca_keys = self.model.keys_with_role("ca")
        params["ca_key"] = ca_keys[0] if ca_keys else "SSL_CERT_FILE"
        for name in ("ca_file", "ca_path", "client_cert"):
            if (setting := getattr(s, name)) is not None:
                params[name] = setting.value
        version = self.raw.framework_version or self.model.assume_version
        params["version"] = f"{self.model.version_of} {version}" if version and self.model.version_of else "-"
        return params

    def _details(self, rule: LintRule, key: str | None) -> tuple[tuple[str, str], ...]:
        details: list[tuple[str, str]] = [("rule", rule.name)]
        if self.hit is not None:
            details.append(("framework_error", self.hit.text))
        elif rule.failure:
            s = self.settings
            fill = {"host": s.host.value if s.host else "", "port": s.port.value if s.port else ""}
            if key is not None:
                fill |= {"key": key, "value": MASK if self.raw.values[key].secret else self.raw.values[key].text}
            text = expected_error(self.raw.framework, rule.failure, self.raw.framework_version, params=fill)
            if text:
                details.append(("framework_error", text))
        if len(details) > 1 and not self.raw.framework_version and self.model.assume_version:
            details.append(("assumed_version", f"{self.model.version_of} {self.model.assume_version}"))
        return tuple(details)

    def finding(self, rule: LintRule, key: str | None) -> Finding:
        origin = self.raw.values[key].origin if key is not None else self._origin(rule)
        if key is not None and origin is not None and origin.file == ENVIRONMENT:  # shown where a file sets it
            origin = getattr(self.raw.values[key].overrides, "origin", None) or origin
        subject = str(origin) if origin is not None else f"{self.raw.file}:1:1"
        return Finding(id=rule.id, severity=rule.severity, params=self._params(rule, key, origin),
                       details=self._details(rule, key), subject=subject)

    def run(self) -> list[Finding]:
        out: list[Finding] = []
        for rule in self.book.rules:
            if rule.frameworks and self.raw.framework not in rule.frameworks:
                continue
            if rule.scope == "config":
                keys: list[str | None] = [None]
            elif rule.scope == "key":
                keys = [k for k in self.model.keys_with_role(*rule.roles) if k in self.raw.values]
            else:
                keys = list(self.raw.values)
            for key in keys:
                self.ctx.key, self.hit = key, None
                if C.evaluate(rule.when, self.ctx) is True:
                    out.append(self.finding(rule, key))
        self.ctx.key = None
        return out


def lint(raw: RawConfig) -> list[Finding]:
    """All findings for one configuration, in file order."""
    findings = _Run(raw, rulebook()).run()
    return sorted(findings, key=_order)


def _order(f: Finding) -> tuple[str, int, int, str]:
    file, _, rest = f.subject.rpartition(":")
    file, _, line = file.rpartition(":")
    try:
        return file, int(line), int(rest), f.id
    except ValueError:
        return f.subject, 0, 0, f.id
