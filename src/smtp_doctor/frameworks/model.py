"""Load knowledge/frameworks.toml and run it: RawConfig → Settings, predicted failures, error texts.

The TOML holds every framework fact; this module is the interpreter. It is checked when loaded, so a
typo in the data (an unknown field, condition or truth rule) fails with the framework's name instead
of silently producing a wrong connection plan.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..settings import Origin, RawConfig, RawValue, Setting, Settings, TLSMode, ValueKind
from . import conditions as C
from .truth import KNOWN, RULES, known_value, truthy

ROLES = frozenset({"implicit_switch", "starttls_switch", "tls_switch", "implicit_value", "auth", "auth_switch",
                   "verify", "scheme", "ca", "client_cert", "client_key", "tls_file", "password", "user"})
CONVERSIONS = frozenset({"int", "float", "str", "bool", "lower", "host", "port", "ms", "text", "readfile",
                         "tls_upto", "tls_from", "spring_resource"})
#: TLS versions in order, and Node's default range (nodejs.org/api/tls.html tls.DEFAULT_MIN_VERSION 'TLSv1.2',
#: DEFAULT_MAX_VERSION 'TLSv1.3'): tls_upto / tls_from turn a maxVersion / minVersion into the versions offered
_TLS_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_TLS_DEFAULT_MIN = "TLSv1.2"  #: the default maximum is the last of _TLS_ORDER
#: Node apps hand the CA over as contents read from a file: ``ca: [fs.readFileSync('/etc/ssl/ca.pem')]``
_READFILE = re.compile(r"""readFileSync\(\s*(['"`])([^'"`$]+)\1""")
_TEXT_CONVERSIONS = frozenset({"text", "readfile"})
_SETTING_FIELDS = {f.name for f in fields(Settings)} - {"framework", "source", "has_password", "framework_version",
                                                        "raw"}
_INT_FIELDS = {"port"}
_BOOL_FIELDS = {"verify_peer", "verify_hostname"}
_FLOAT_FIELDS = {"open_timeout", "read_timeout"}
_HOSTPORT = re.compile(r"^\[?(?P<host>[^\]]*?)\]?(?::(?P<port>\d+))?$")


def parse_version(text: str) -> tuple[int, ...]:
    """"2.9.1" → (2, 9, 1); "16.0.0-ee" → (16, 0, 0). Non-numeric tails are dropped."""
    out = []
    for part in str(text).split("."):
        digits = re.match(r"\d+", part)
        if not digits:
            break
        out.append(int(digits.group()))
    return tuple(out)


def in_range(version: tuple[int, ...] | None, since: str | None, until: str | None) -> bool:
    if version is None:
        return since is None and until is None
    if since is not None and version < parse_version(since):
        return False
    return not (until is not None and version >= parse_version(until))


@dataclass(frozen=True)
class KeyFacts:
    role: str
    truth: str | None = None
    values: tuple[str, ...] | None = None
    symbols: frozenset[str] = frozenset()
    ci: bool = False


@dataclass(frozen=True)
class Rule:
    when: Mapping[str, Any] | None = None
    value: Any = None
    has_value: bool = False
    source_key: str | None = None
    conversion: str | None = None
    since: str | None = None
    until: str | None = None
    kind: str | None = None
    absent: bool = False
    #: every mechanism the client has, in its default order, each left out when its key is on (JavaMail's
    #: mail.smtp.auth.<mech>.disable); order_from: the key naming the ones tried, in order (others are skipped).
    #: When either changes the default list, the value becomes the list left ("-" when none is)
    without: tuple[tuple[str, str], ...] = ()
    order_from: str | None = None


@dataclass(frozen=True)
class PredictRule:
    mode: str
    when: Mapping[str, Any]
    text: str
    at: str
    source: str
    each: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    shows: str | None = None  #: the failure the app then shows, when not ``mode`` itself (the cause)
    #: the values the framework accepts for the ``each`` key, when the rule refuses every other one
    accepts: tuple[str, ...] = ()
    #: keys whose presence alone is the refusal (a JNDI name no server binds): without them the app goes on
    remove: tuple[str, ...] = ()


def accepted(cond: Mapping[str, Any]) -> tuple[str, ...]:
    """The value list of a rule that refuses a key outside it (``not: {equals: {key: "$", values}}``, alone or
    in an ``all``): the values a fix may write instead."""
    inner = cond.get("not", {}).get("equals") if isinstance(cond.get("not"), Mapping) else None
    if inner is not None and inner.get("key") == "$":
        return tuple(str(v) for v in inner["values"] if str(v).strip())
    return next((found for c in cond.get("all", ()) if (found := accepted(c))), ())


@dataclass(frozen=True)
class ErrorText:
    mode: str
    text: str
    source: str
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class Prediction:
    """Something the framework will do with this configuration alone, before or at connect time."""

    mode: str
    text: str
    at: str  #: "startup" (raised while loading the settings) or "connect"
    origin: Origin | None
    key: str | None
    source: str
    shows: str | None = None  #: the failure mode the app prints, when the cause (``mode``) looks like another
    accepts: tuple[str, ...] = ()  #: what the framework would take for ``key`` instead (PredictRule.accepts)
    remove: tuple[str, ...] = ()  #: keys the app starts without (PredictRule.remove)


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    truth: str
    source: str
    keys: Mapping[str, KeyFacts]
    known: frozenset[str]
    fields: tuple[tuple[str, tuple[Rule, ...]], ...]
    translate: tuple[tuple[str, tuple[Rule, ...]], ...]
    predicts: tuple[PredictRule, ...]
    errors: tuple[ErrorText, ...]
    version_of: str | None = None
    assume_version: str | None = None
    model: str | None = None
    model_version: str | None = None
    string_keys: str = "read"  #: "ignored": keys spelled as strings never reach the framework (mail gem)
    url_alone_until: str | None = None  #: before this version an options object's url is read alone
    #: "yaml": each value reaches the model as the YAML scalar its text renders to (Mastodon's ERB → YAML
    #: email.yml): an empty one is nil, surrounding blanks go, `` #`` starts a comment, ``yes`` is a boolean
    rendered: str = "value"
    #: key prefixes whose every key the framework reads, under names the user picks (Spring's SSL bundles)
    known_under: tuple[str, ...] = ()
    #: {key, under, base}: properties read under the name of the protocol ``key`` names (model._protocol_view)
    protocol_keys: Mapping[str, str] | None = None

    def knows(self, key: str) -> bool:
        if key in self.vocabulary or key.startswith(self.known_under):
            return True
        spec = self.protocol_keys  # mail.smtps.auth is mail.smtp.auth for the smtps transport
        if spec is None or not key.startswith(spec["under"]):
            return False
        _, dot, rest = key[len(spec["under"]):].partition(".")
        return bool(dot) and f"{spec['under']}{spec['base']}.{rest}" in self.vocabulary

    def truth_of(self, key: str) -> str:
        facts = self.keys.get(key)
        return facts.truth if facts and facts.truth else self.truth

    def symbols_of(self, key: str) -> frozenset[str]:
        facts = self.keys.get(key)
        return facts.symbols if facts else frozenset()

    @property
    def vocabulary(self) -> frozenset[str]:
        return self.known | frozenset(self.keys)

    def version(self, raw: RawConfig) -> tuple[int, ...] | None:
        text = raw.framework_version or self.assume_version
        return parse_version(text) if text else None

    def keys_with_role(self, *roles: str) -> list[str]:
        return [k for k, f in self.keys.items() if f.role in roles]

    def source_key(self, name: str, raw: RawConfig | None = None) -> str | None:
        """The first key the setting ``name`` is read from at the config's version: the one a user sets
        (Flask-Mail's MAIL_PORT for port)."""
        v = self.version(raw) if raw is not None else None
        rules = dict(self.fields).get(name, ())
        return next((r.source_key for r in rules if r.source_key and in_range(v, r.since, r.until)), None)


def _rule(table: Mapping[str, Any], where: str) -> Rule:
    unknown = set(table) - {"when", "value", "from", "as", "since", "until", "kind", "absent", "without",
                                 "order_from"}
    if unknown:
        raise ValueError(f"{where}: unknown rule keys {sorted(unknown)}")
    if table.get("as") is not None and table["as"] not in CONVERSIONS:
        raise ValueError(f"{where}: unknown conversion {table['as']!r}")
    if "when" in table:
        C.check(table["when"], set(C.BASE), where)
    return Rule(when=table.get("when"), value=table.get("value"), has_value="value" in table,
                source_key=table.get("from"), conversion=table.get("as"), since=table.get("since"),
                until=table.get("until"), kind=table.get("kind"), absent=bool(table.get("absent")),
                without=tuple((mech, key) for mech, key in table.get("without", {}).items()),
                order_from=table.get("order_from"))


def _model(fid: str, t: Mapping[str, Any]) -> Model:
    where = f"frameworks.toml [{fid}]"
    if t.get("truth") not in RULES:
        raise ValueError(f"{where}: unknown truth rule {t.get('truth')!r}")
    keys: dict[str, KeyFacts] = {}
    for key, facts in t.get("keys", {}).items():
        if facts["role"] not in ROLES or (facts.get("truth") and facts["truth"] not in RULES):
            raise ValueError(f"{where}: bad facts for key {key!r}")
        values = facts.get("values")
        keys[key] = KeyFacts(role=facts["role"], truth=facts.get("truth"),
                             values=tuple(str(v) for v in values) if values is not None else None,
                             symbols=frozenset(C.norm(s) for s in facts.get("symbols", [])), ci=facts.get("ci", False))
    flds = []
    for name, rules in t.get("fields", {}).items():
        if name not in _SETTING_FIELDS:
            raise ValueError(f"{where}: unknown Settings field {name!r}")
        flds.append((name, tuple(_rule(r, f"{where} {name}") for r in rules)))
    trans = tuple((k, tuple(_rule(r, f"{where} translate {k}") for r in rules))
                  for k, rules in t.get("translate", {}).items())
    preds = []
    for p in t.get("predict", []):
        C.check(p["when"], set(C.BASE), f"{where} predict {p['mode']}")
        preds.append(PredictRule(mode=p["mode"], when=p["when"], text=p["text"], at=p.get("at", "startup"),
                                 source=p["source"], each=tuple(p.get("each", ())), since=p.get("since"),
                                 until=p.get("until"), shows=p.get("shows"),
                                 accepts=accepted(p["when"]) if p.get("each") else (),
                                 remove=tuple(p.get("remove", ()))))
    errs = tuple(ErrorText(mode=e["mode"], text=e["text"], source=e["source"], since=e.get("since"),
                           until=e.get("until")) for e in t.get("error", []))
    if not t.get("source") or any(not e.source for e in errs):
        raise ValueError(f"{where}: every framework and error text needs a source")
    return Model(id=fid, name=t["name"], truth=t["truth"], source=t["source"], keys=keys,
                 known=frozenset(t.get("known", [])), fields=tuple(flds), translate=trans, predicts=tuple(preds),
                 errors=errs, version_of=t.get("version_of"), assume_version=t.get("assume_version"),
                 model=t.get("model"), model_version=t.get("model_version"),
                 string_keys=t.get("string_keys", "read"), url_alone_until=t.get("url_alone_until"),
                 rendered=t.get("rendered", "value"), known_under=tuple(t.get("known_under", ())),
                 protocol_keys=t.get("protocol_keys"))


@cache
def models() -> dict[str, Model]:
    """Every framework model, by id (loaded and checked once per process)."""
    text = (resources.files("smtp_doctor") / "knowledge" / "frameworks.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    out = {fid: _model(fid, t) for fid, t in data["framework"].items()}
    for m in out.values():
        if m.model and m.model not in out:
            raise ValueError(f"frameworks.toml [{m.id}]: model {m.model!r} is not defined")
    return out


def model(framework: str) -> Model:
    try:
        return models()[framework]
    except KeyError:
        raise UserError("frameworks.error.unknown", framework=framework,
                        known=", ".join(sorted(models()))) from None


# --------------------------------------------------------------------------------------------------------------


def seen(m: Model, raw: RawConfig) -> dict[str, RawValue]:
    """The values the framework really receives: the mail gem merges the settings over symbol-keyed
    DEFAULTS, so ``'address' => …`` is carried along and never read (frameworks.toml ``string_keys``); a
    version that reads an options object's url alone drops the keys beside it (``url_alone_until``)."""
    values = dict(raw.values)
    if m.url_alone_until and raw.beside_url and in_range(m.version(raw), None, m.url_alone_until):
        values = {k: v for k, v in values.items() if k not in raw.beside_url}
    if m.protocol_keys is not None:
        values = _protocol_view(m.protocol_keys, values)
    if m.string_keys != "ignored":
        return values
    return {k: v for k, v in values.items() if not C.string_key(v)}


def _protocol_view(spec: Mapping[str, str], values: dict[str, RawValue]) -> dict[str, RawValue]:
    """Jakarta Mail reads its properties under the transport's own name (``mail.smtps.auth`` for smtps): the
    keys of the protocol in use, under the base protocol's names the model reads; the base protocol's own keys,
    which that transport never reads, dropped (frameworks.toml ``protocol_keys``)."""
    rv = values.get(spec["key"])
    proto = str(rv.value) if rv is not None and rv.kind in KNOWN and rv.value is not None else spec["base"]
    if proto == spec["base"]:
        return values
    own, base = spec["under"] + proto + ".", spec["under"] + spec["base"] + "."
    return {k: v for k, v in values.items() if not k.startswith(base)} | {
        base + k[len(own):]: v for k, v in values.items() if k.startswith(own)}


def _context(m: Model, values: Mapping[str, RawValue], settings: Settings | None = None) -> C.Context:
    return C.Context(values=values, truth_of=m.truth_of, symbols_of=m.symbols_of, settings=settings)


def _first_origin(keys: list[str], values: Mapping[str, RawValue]) -> tuple[Origin | None, RawValue | None]:
    for key in keys:
        rv = values.get(key)
        if rv is not None and rv.kind is not ValueKind.NIL:
            return rv.origin, rv
    return None, None


def _convert(conv: str | None, rv: RawValue, m: Model, key: str) -> Any:
    """The value a `from` rule produces; raises ValueError when it cannot be converted (the rule is skipped)."""
    if conv == "text":
        return rv.text
    if conv == "readfile":
        read = _READFILE.search(rv.text) if not rv.secret else None
        if read is None and "readFileSync" in rv.text and rv.kind is ValueKind.STRING and rv.value:
            return str(rv.value)  # readFileSync(process.env.SMTP_CA): the path the reader folded (--env)
        if read is None:
            raise ValueError("not a file the config reads")
        return read.group(2)
    if conv == "bool":
        return truthy(m.truth_of(key), rv)
    if conv == "spring_resource":
        return _spring_resource(str(rv.value).strip(), rv.origin)
    if conv in ("tls_upto", "tls_from"):  # Node's maxVersion / minVersion against its default other end
        at = _TLS_ORDER.index(str(rv.value).strip())  # ValueError for anything else: the rule is skipped
        low, high = (_TLS_ORDER.index(_TLS_DEFAULT_MIN), at) if conv == "tls_upto" else (at, len(_TLS_ORDER) - 1)
        return " ".join(_TLS_ORDER[min(low, high):high + 1])
    value = rv.value
    if conv in ("int", "port") and isinstance(value, bool):
        raise ValueError("a boolean is not a port")
    if conv == "int":
        number = int(str(value).strip())
        if number <= 0:
            raise ValueError("not a usable number")
        return number
    if conv in ("float", "ms"):
        seconds = float(str(value).strip())
        return seconds / 1000 if conv == "ms" else seconds
    if conv == "lower":
        return str(value).lower()
    if conv in ("host", "port"):
        match = _HOSTPORT.match(str(value).strip())
        if not match:
            raise ValueError("not host:port")
        part = match.group(conv)
        if not part:
            raise ValueError("missing")
        return int(part) if conv == "port" else part
    return value if isinstance(value, str) else str(value)


def _spring_resource(location: str, origin: Origin | None) -> str:
    """The file a Spring resource location names: ``file:/x`` is /x; ``classpath:x`` is x under the resources
    folder the config is read from (src/main/resources: what the build copies onto the classpath). A plain path
    is read differently across Boot versions (ResourceUtils.getURL in 3.1, the application's ResourceLoader
    since), and PEM text is not a file: those raise ValueError (the rule is skipped)."""
    if location.startswith("file:"):
        return location.removeprefix("file:").removeprefix("//")
    if location.startswith("classpath:") and origin is not None:
        here = Path(origin.file).parent
        root = next((d for d in (here, *here.parents) if d.name == "resources"), here)
        return str(root / location.removeprefix("classpath:").lstrip("/"))
    raise ValueError("not a file location this version reads alike")


def _typed(name: str, value: Any) -> Any:
    if name in ("tls_mode", "tls_fallback"):
        return TLSMode(value)
    if name in _INT_FIELDS:
        return int(value)
    if name in _BOOL_FIELDS:
        return bool(value)
    if name in _FLOAT_FIELDS:
        return float(value)
    return value if isinstance(value, str) else str(value)


def _resolve(m: Model, name: str, rules: tuple[Rule, ...], ctx: C.Context,
             version: tuple[int, ...] | None) -> Setting[Any] | None:
    for rule in rules:
        if not in_range(version, rule.since, rule.until) and (rule.since or rule.until):
            continue
        if rule.when is not None:
            hit = C.evaluate(rule.when, ctx)
            if hit is None:
                return None  # depends on a value nobody can know here
            if not hit:
                continue
        if rule.absent:  # the framework ignores what is written here (see the rule's comment in the TOML)
            return None
        if rule.source_key is not None:
            rv = ctx.values.get(_filled_key(rule.source_key, ctx))
            if rv is None or rv.kind is ValueKind.NIL:
                continue
            if rv.kind not in KNOWN and rule.conversion not in _TEXT_CONVERSIONS:
                return None
            try:
                converted = _convert(rule.conversion, rv, m, rule.source_key)
            except (TypeError, ValueError):
                continue
            if converted is None:
                return None
            return Setting(_typed(name, converted), origin=rv.origin, default=rv.origin is None)
        origin, _ = _first_origin(C.keys_in(rule.when) if rule.when else [], ctx.values)
        value = rule.value
        if rule.without:
            value, origin = _mechanisms_left(rule, ctx, value, origin)
        return Setting(_typed(name, value), origin=origin, default=origin is None)
    return None


def _filled_key(key: str, ctx: C.Context) -> str:
    """A `from` key that names another key's value in braces (Spring's
    ``spring.ssl.bundle.pem.{spring.mail.ssl.bundle}.truststore.certificate``: the bundle the mail sender names)."""
    def value_of(m: re.Match[str]) -> str:
        rv = ctx.values.get(m.group(1))
        return str(rv.value) if rv is not None and rv.kind in KNOWN and rv.value is not None else "\0"
    return re.sub(r"\{([\w.\-]+)\}", value_of, key) if "{" in key else key


def _mechanisms_left(rule: Rule, ctx: C.Context, value: Any, origin: Origin | None) -> tuple[Any, Origin | None]:
    """The mechanisms a client with a fixed set of authenticators tries (Rule.without / order_from)."""
    have = [mech for mech, _ in rule.without]
    order, keys = have, []
    named = ctx.values.get(rule.order_from) if rule.order_from else None
    if named is not None and named.kind is ValueKind.STRING and str(named.value).strip():
        order, keys = [m for m in str(named.value).upper().split() if m in have], [rule.order_from or ""]
    off = {mech for mech, key in rule.without if C.evaluate({"truthy": key}, ctx)}
    left = [m for m in order if m not in off]
    if left == have:
        return value, origin
    keys += [key for mech, key in rule.without if mech in off]
    return " ".join(left) or "-", _first_origin(keys, ctx.values)[0] or origin  # "-": none the server can offer


def _password(m: Model, values: Mapping[str, RawValue], s: Settings) -> None:
    """The reference to the password and whether one is set; never the secret itself."""
    for key in m.keys_with_role("password"):
        rv = values.get(key)
        if rv is None or rv.kind is ValueKind.NIL:
            continue
        known, value = known_value(rv)
        s.has_password = not (known and value == "")
        if s.has_password and s.password_ref is None:
            ref = f"ENV[{rv.env}]" if rv.env else f"literal {rv.origin}" if rv.origin else "literal"
            s.password_ref = Setting(ref, origin=rv.origin)
        return
    if s.password_ref is not None:
        s.has_password = True


def translate(raw: RawConfig) -> RawConfig:
    """For frameworks that feed another framework (Mastodon → ActionMailer): the config that one sees.

    Every produced value keeps the origin of the key it came from, so findings on the translated
    config still point at the user's own line.
    """
    m = model(raw.framework)
    if not m.model:
        return raw
    ctx = _context(m, raw.values)
    version = m.version(raw)
    out: dict[str, RawValue] = {}
    for target, rules in m.translate:
        for rule in rules:
            if (rule.since or rule.until) and not in_range(version, rule.since, rule.until):
                continue
            origin, src = _first_origin(C.keys_in(rule.when) if rule.when else [], raw.values)
            if rule.when is not None:
                hit = C.evaluate(rule.when, ctx)
                if hit is None:
                    out[target] = RawValue(None, ValueKind.ENV, src.text if src else "", origin,
                                           env=src.env if src else None)
                    break
                if not hit:
                    continue
            if rule.absent:
                break
            if rule.source_key is not None:
                rv = raw.values.get(rule.source_key)
                if rv is None or rv.kind is ValueKind.NIL:
                    continue
                if m.rendered == "yaml" and rv.kind is ValueKind.STRING and not rv.secret:
                    value = rendered(m, rv.value)
                    if value is None:
                        break  # set, so no default applies, but nil: the target is absent
                    rv = replace(rv, value=value, kind=_kind_of(value))
                if rule.conversion == "int" and rv.kind in KNOWN and not rv.secret:
                    with contextlib.suppress(TypeError, ValueError):
                        rv = replace(rv, value=_convert("int", rv, m, rule.source_key), kind=ValueKind.INT)
                out[target] = rv
                break
            kind = ValueKind(rule.kind) if rule.kind else _kind_of(rule.value)
            text = f":{rule.value}" if kind is ValueKind.SYMBOL else repr(rule.value).lower() \
                if isinstance(rule.value, bool) else repr(rule.value)
            out[target] = RawValue(rule.value, kind, text, origin, env=src.env if src else None)
            break
    # the version read for this framework is the model's when it names the same package (Mastodon: mail gem)
    same = raw.framework_version is not None and models()[m.model].version_of == m.version_of
    return RawConfig(framework=m.model, file=raw.file, values=out,
                     framework_version=raw.framework_version if same else m.model_version, notes=list(raw.notes))


def rendered(m: Model, text: str) -> Any:
    """The value the framework's model gets for ``text``: itself, or with ``rendered = "yaml"`` the scalar a
    plain YAML value renders to (Psych, YAML 1.1, as PyYAML's safe loader reads it); the text as it is when the
    YAML does not parse into a scalar (the app then does not start: not told here)."""
    if m.rendered != "yaml":
        return text
    try:
        value = yaml.safe_load(f"value: {text}")
    except yaml.YAMLError:
        return text
    if not isinstance(value, dict) or not isinstance(value.get("value"), str | int | float | bool | None):
        return text  # a list, a mapping, a date: not a value these settings take
    return value["value"]


def _kind_of(value: Any) -> ValueKind:
    if value is None:
        return ValueKind.NIL
    if isinstance(value, bool):
        return ValueKind.BOOL
    if isinstance(value, int):
        return ValueKind.INT
    if isinstance(value, float):
        return ValueKind.FLOAT
    return ValueKind.STRING


def to_settings(raw: RawConfig) -> Settings:
    """What the framework will actually do with ``raw``: host, port, TLS mode, verification, auth …

    Fields the configuration leaves undecidable (an unresolved env var deciding the TLS mode) are None.
    """
    m = model(raw.framework)
    if m.model:
        inner = to_settings(translate(raw))
        inner.framework, inner.source, inner.raw = raw.framework, raw.file, raw
        inner.framework_version = raw.framework_version
        return inner
    s = Settings(framework=raw.framework, source=raw.file, framework_version=raw.framework_version, raw=raw)
    values = seen(m, raw)
    ctx = _context(m, values, s)
    version = m.version(raw)
    for name, rules in m.fields:
        setattr(s, name, _resolve(m, name, rules, ctx, version))
    _password(m, values, s)
    return s


def predict(raw: RawConfig, settings: Settings | None = None) -> list[Prediction]:
    """Failures the configuration causes by itself (refused at startup, or certain at connect time).
    ``settings``: ``to_settings(raw)`` when the caller has it (rules may look at what it derived)."""
    m = model(raw.framework)
    out: list[Prediction] = []
    if m.model:  # a translated framework's settings are its model's (to_settings)
        settings = settings or to_settings(raw)
        out += predict(translate(raw), settings)
    version = m.version(raw)
    values = seen(m, raw)
    ctx = _context(m, values, (settings or to_settings(raw)) if m.predicts else None)
    for p in m.predicts:
        if (p.since or p.until) and not in_range(version, p.since, p.until):
            continue
        for key in p.each or (None,):
            if key is not None and key not in values:
                continue
            ctx.key = key
            if C.evaluate(p.when, ctx) is not True:
                continue
            rv = values.get(key) if key else None
            origin = rv.origin if rv else _first_origin(C.keys_in(p.when), values)[0]
            text = p.text.replace("{key}", key or "").replace("{value}", rv.text if rv else "")
            text = text.replace("{VALUE}", str(rv.value).upper() if rv else "")  # Ruby's `upcase` of it
            out.append(Prediction(mode=p.mode, text=text, at=p.at, origin=origin, key=key, source=p.source,
                                  shows=p.shows, accepts=p.accepts, remove=p.remove))
    ctx.key = None
    return out


def expected_error(framework: str, failure_mode: str, version: str | None = None, *,
                   params: Mapping[str, Any] | None = None) -> str | None:
    """The text ``framework`` prints when ``failure_mode`` happens (None when nobody recorded it).

    ``failure_mode`` uses the ids of knowledge/errors.toml (``implicit_tls_on_plain_port`` …).
    Placeholders such as ``{host}`` are filled from ``params`` when given, left as they are otherwise.
    """
    m = model(framework)
    wanted = version or m.assume_version
    v = parse_version(wanted) if wanted else None
    text: str | None = None
    for e in m.errors:
        if e.mode == failure_mode and (not (e.since or e.until) or in_range(v, e.since, e.until)):
            text = e.text
            break
    else:
        for p in m.predicts:
            if p.mode == failure_mode and (not (p.since or p.until) or in_range(v, p.since, p.until)):
                text = p.text
                break
    if text is None and m.model:
        same = version is not None and models()[m.model].version_of == m.version_of
        return expected_error(m.model, failure_mode, version if same else m.model_version, params=params)
    if text is not None and params:
        for k, val in params.items():
            text = text.replace("{" + k + "}", str(val))
    return text
