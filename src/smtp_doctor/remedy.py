"""Remedies beyond a failure's fix: a config that delivers but is unsafe, and provider conventions.

``check`` stops at "it will deliver"; a config with ``openssl_verify_mode: 'none'`` or opportunistic
STARTTLS delivers too, and is the one RFC 8314 and the seeds warn about. Which risk is removed by which
change is data (``[[harden]]`` in knowledge/writers.toml); the lines themselves are the same ``[[fix]]``
rows of knowledge/predict.toml that ``fix`` uses for failures, so every key is spelled in one place.
A known provider's documented conventions (knowledge/providers.toml: SendGrid's login, the ports it
serves) need no probe at all. Pure: settings, plan, prediction and probe facts in, ``Fix`` values out.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from .facts import Mode, PortFacts
from .plan import ConnectionPlan, env_loaded_late, framework_facts, plan
from .predict import Fix, Prediction, Verdict, fix_row, fix_syntax, literal, render_line, row_lines
from .providers import identify
from .settings import Origin, RawConfig, Settings, TLSMode, ValueKind
from .writers.config import writers_knowledge
from .writers.edit import renamed_word

#: trust sources whose success means "this CA file verifies the server here": --ca-file first, then the
#: machine's own bundle (what the issue calls "this machine's CA bundle")
_CA_SOURCES = ("candidate", "system", "certifi")


def risks(plan: ConnectionPlan, prediction: Prediction, facts: PortFacts) -> tuple[str, ...]:
    """The prediction's risks, plus STARTTLS taken only when offered on a port that does offer it (a
    stripping attacker turns it into plaintext, password included)."""
    found = list(prediction.risks)
    if plan.mode is TLSMode.STARTTLS_AUTO and facts.mode is Mode.STARTTLS and prediction.channel == "starttls":
        found.append("starttls_opportunistic")
    return tuple(found)


def ca_for(facts: PortFacts) -> str | None:
    """A CA file that verified this server's chain: the user's --ca-file, else the machine's bundle."""
    if facts.tls is None:
        return None
    for source in _CA_SOURCES:
        v = next((v for v in facts.tls.verifications if v.source == source and v.ok), None)
        if v is not None and v.location:
            return v.location
    return None


def harden(plan: ConnectionPlan, prediction: Prediction, facts: PortFacts,
           present: Mapping[str, str]) -> list[tuple[str, Fix]]:
    """(risk, fix) for every risk of a delivering config that a row can remove, in the table's order.

    A risk whose fix needs a value the probe could not supply (no CA verifies the server, so turning
    verification on would break delivery) gets no fix: never trade a working config for a failing one.
    """
    if prediction.verdict is not Verdict.DELIVERED:
        return []
    found = risks(plan, prediction, facts)
    params: dict[str, Any] = {"host": plan.host or "", "port": plan.port or ""}
    ca = ca_for(facts)
    if ca is not None:
        params["ca_file"] = ca
        params["ca_file_q"] = "'" + ca.replace("\\", "\\\\").replace("'", "\\'") + "'"
    syntax = framework_facts(plan.framework).get("syntax", "dotenv")
    out: list[tuple[str, Fix]] = []
    for row in writers_knowledge().get("harden", []):
        if row["risk"] not in found or any(r == row["risk"] for r, _ in out):
            continue
        for group in row["fix"]:
            fix = _fix(plan.framework, group, facts.mode.value, params, present, syntax, plan.framework_version)
            if fix is not None:
                out.append((row["risk"], fix))
                break
    return out


def _fix(framework: str, group: str, port_mode: str, params: Mapping[str, Any], present: Mapping[str, str],
         syntax: str, version: str | None = None) -> Fix | None:
    row = fix_row(framework, group, port_mode, version)
    if row is None or not (row.get("set") or row.get("code")):  # an environment-only row cannot change the file
        return None
    values = {**row.get("set", {}), **row.get("code", {})}
    wanted = {n for v in values.values() if isinstance(v, str) for n in re.findall(r"{(\w+)}", v)}
    if not wanted <= params.keys():
        return None
    remove = tuple((k, present[k]) for k in row.get("remove", []) if k in present)
    return Fix(group, row_lines(row, params, syntax), remove, keys=(*row.get("set", {}), *row.get("code", {})))


#: the probed port mode each planned TLS mode is made for
_SPEAKS = {TLSMode.IMPLICIT: Mode.IMPLICIT_TLS, TLSMode.STARTTLS: Mode.STARTTLS, TLSMode.STARTTLS_AUTO: Mode.STARTTLS}


def without_key(raw: RawConfig, present: Mapping[str, str], fix: Fix) -> Fix:
    """A key whose presence alone stops the app at start-up (``spring.mail.jndi-name`` where no server binds
    it; frameworks.toml ``remove``): the fix removes it. Whether the app then delivers with the rest of its
    settings is the re-check's to say. ``fix`` unchanged when it already writes something."""
    from .frameworks import predict as refusals_of

    if fix.lines or fix.remove:
        return fix
    hit = next((p for p in refusals_of(raw) if p.at == "startup" and p.remove), None)
    keys = tuple((k, present[k]) for k in (hit.remove if hit else ()) if k in present)
    return replace(fix, remove=keys) if keys else fix


def accepted_value(raw: RawConfig, facts: PortFacts, fix: Fix) -> Fix:
    """A value the framework refuses at start-up (``MAIL_MAILER=smpt``, ``spring.mail.protocol=SMTP``, a DSN
    scheme ``ssl://``) written as one it takes: the same word in the framework's spelling, else the accepted
    value whose connection fits the probed port (``smtps`` for implicit TLS), else the nearest word. Each
    candidate is read as the app would read it (settings → plan), so one that is refused too, or connects
    the wrong way, is never offered. ``fix`` unchanged when no value is right without a guess."""
    from .frameworks import predict as refusals_of
    from .frameworks import to_settings

    if fix.lines:
        return fix
    hit = next((p for p in refusals_of(raw) if p.at == "startup"), None)
    if hit is None or not hit.accepts or hit.key not in raw.values:
        return fix
    rv = raw.values[hit.key]
    written = str(rv.value if rv.value is not None else rv.text).strip()
    ranked = []
    for value in hit.accepts:
        if value.casefold() == written.casefold():
            ranked.append((0, 0.0, value))
            continue
        trial = replace(raw, values={**raw.values, hit.key: replace(rv, value=value, kind=ValueKind.STRING,
                                                                  text=value)})
        p = plan(to_settings(trial))
        if any(r.at == "startup" for r in p.refusals):
            continue
        fits = p.mode is not None and _SPEAKS.get(p.mode) is facts.mode
        ranked.append((1 if fits else 2, -difflib.SequenceMatcher(None, written.casefold(), value).ratio(), value))
    modes = {rank for rank, _, _ in ranked}
    best = min(ranked, default=None)
    # the port decides only when the values connect differently; else the word must be close (a typo)
    if best is None or not (best[0] == 0 or (best[0] == 1 and modes == {1, 2}) or -best[1] >= 0.6):
        return fix
    line = render_line(hit.key, best[2], fix_syntax(raw.framework, raw.file))
    return replace(fix, lines=(line,), keys=(hit.key,))


def trim_secret_fix(raw: RawConfig, text: str, padded_file: str | None) -> Fix | None:
    """A login refused because the password file ends with a line break the app keeps (login.padded): the
    Python line that reads it, with ``.strip()`` (writers/trim.py); the line shown is that line, no secret."""
    from .login import password_key
    from .writers.trim import strip_file_read

    key = password_key(raw)
    rv = raw.values.get(key) if key else None
    if padded_file is None or rv is None or rv.file is None or rv.origin is None or rv.origin.file != raw.file:
        return None
    trimmed = strip_file_read(text, rv.origin)
    if trimmed is None or key is None:
        return None
    changed = next((ln.strip() for ln, was in zip(trimmed.splitlines(), text.splitlines(), strict=True)
                    if ln != was), None)
    return Fix("strip_secret", (changed,), text_key="check.fix.strip_secret", keys=(key,)) if changed else None


def ca_in_place(raw: RawConfig, plan: ConnectionPlan, facts: PortFacts, fix: Fix) -> Fix:
    """The app's own CA file, named in another of its files the framework reads beside the config (Laravel 8's
    ``'stream' => ['ssl' => ['cafile' => …]]`` in config/mail.php: predict.toml ``reread_with``), replaces the
    default store, so the trust fix's environment line (SSL_CERT_FILE) is never read: the value is replaced
    where it is written, by the CA file that verified the server's chain. ``fix`` unchanged otherwise."""
    origin = plan.origins.get("ca_file")
    beside = framework_facts(raw.framework).get("reread_with", [])
    # (one the environment gives through env() is the environment's to change, not the file's)
    key = next((k for k, v in raw.values.items() if v.origin is not None and v.origin == origin and not v.env), None)
    candidate = next((v for v in facts.tls.verifications if v.source == "candidate" and v.ok), None) \
        if facts.tls else None
    if (fix.group != "trust_ca" or fix.lines or origin is None or key is None or candidate is None
            or not any(origin.file.endswith("/" + rel) for rel in beside)):
        return fix
    return Fix("value_in_place", (literal(candidate.location, "php"),), keys=(key,), text_key=fix.text_key,
               note="check.fix.ca_in_place")


def trim_value_fix(raw: RawConfig, text: str) -> Fix | None:
    """A login refused because the password as written starts or ends with blanks the app keeps (login.padded:
    a .properties value's trailing ones, a quoted value's): the same line without them (writers/trim.py). The
    line shown has the password masked; the value itself is only trimmed, never written anew."""
    from .login import password_key
    from .writers.patch import secret_lines
    from .writers.trim import trim_written

    key = password_key(raw)
    rv = raw.values.get(key) if key else None
    if key is None or rv is None or rv.origin is None or rv.origin.file != raw.file:
        return None
    trimmed = trim_written(text, rv.origin)
    if trimmed is None:
        return None
    line = trimmed.splitlines()[rv.origin.line - 1]
    return Fix("trim_value", (secret_lines(trimmed, raw).get(line, "").strip(),), keys=(key,),
               note="check.fix.trim_value")


def env_names(raw: RawConfig, env: Mapping[str, str] | None, text: str, fix: Fix) -> Fix:
    """Settings read from a variable the app's environment does not set, where it sets one of a close name
    (``ENV['SMTP_PASS']`` beside ``SMTP_PASSWORD=…``): the config reads that one instead. Only with the app's
    whole environment (--env): with part of it, an unset variable may be set where the app runs. The line
    shown is the config's own with the name changed; no value is written. ``fix`` unchanged otherwise."""
    from .readers.loaded_env import PartialEnv

    if env is None or isinstance(env, PartialEnv) or fix.lines:
        return fix
    read = {rv.env for rv in raw.values.values() if rv.env}
    spare = [name for name in env if name not in read]
    lines = text.splitlines()
    keys, names, shown = [], [], []
    for key, rv in raw.values.items():
        if not rv.env or rv.env in env or rv.origin is None or rv.origin.file != raw.file:
            continue
        close = difflib.get_close_matches(rv.env, spare, n=2, cutoff=0.75)
        if len(close) != 1 or not 1 <= rv.origin.line <= len(lines):
            continue  # none, or two a user would have to choose between
        line = renamed_word(lines[rv.origin.line - 1], rv.env, close[0])
        if line is not None:
            keys.append(key)
            names.append((rv.env, close[0]))
            shown.append(line.strip())
    if not keys:
        return fix
    return replace(fix, group="env_name", lines=tuple(shown), keys=tuple(keys), env_names=tuple(names),
                   text_key=None)


# -- provider conventions (knowledge/providers.toml) --------------------------------------------------------


def _raw_key(raw: RawConfig, origin: Origin | None) -> str | None:
    """The framework key a normalised setting was read from (what the patcher locates lines by)."""
    if origin is None:
        return None
    return next((k for k, v in raw.values.items() if v.origin == origin), None)


def key_style_fixes(raw: RawConfig) -> list[tuple[str, dict[str, Any], Fix]]:
    """Keys the framework never reads because of how they are spelled (frameworks.toml ``string_keys``:
    the mail gem reads symbols only): one step that re-spells them, values untouched. Pure."""
    from .frameworks import model
    from .frameworks.conditions import string_key

    if model(raw.framework).string_keys != "ignored":
        return []
    keys = tuple(k for k, v in raw.values.items() if string_key(v))
    if not keys:
        return []
    return [("fix.convention.string_keys", {"keys": ", ".join(keys)}, Fix("string_keys", rename=keys))]


def env_load_fixes(raw: RawConfig) -> list[tuple[str, dict[str, Any], Fix]]:
    """Settings read from the environment above the line that loads the env file (readers.note.env_loaded_late):
    one step that moves that line up (writers/hoist.py), every value untouched. Pure."""
    name = env_loaded_late(raw)
    return [("fix.convention.env_loaded_late", {"file": name}, Fix("env_load_first"))] if name else []


_LITERAL = (ValueKind.STRING, ValueKind.INT, ValueKind.FLOAT, ValueKind.BOOL)


def shadowed_env_fixes(raw: RawConfig, writes: Collection[str] = ()) -> list[tuple[str, dict[str, Any], Fix]]:
    """Values the framework reads from a file of its own as literals although the env file it also reads sets
    them (predict.toml ``shadowed_env``: Laravel <= 8's config/mail.php), or although the fix about to be applied
    writes their variable there (``writes``: MAIL_AUTH_MODE beside ``'auth_mode' => 'login'``, which the app would
    never read): one step that reads the variable there again, the literal as its default. Pure."""
    from .frameworks import model
    from .frameworks.model import in_range

    facts = framework_facts(raw.framework).get("shadowed_env")
    if not facts or not in_range(model(raw.framework).version(raw), None, facts["until"]):
        return []
    keys = [key for key, var in facts["keys"].items()
            if (rv := raw.values.get(key)) is not None and rv.env is None and rv.origin is not None
            and rv.origin.file != raw.file and rv.kind in _LITERAL and (var in writes or (
                (ev := raw.values.get(var)) is not None and ev.origin is not None and ev.origin.file == raw.file
                and str(ev.value) != str(rv.value)))]
    if not keys:
        return []
    lines = tuple(f"env('{facts['keys'][k]}', {raw.values[k].text})" for k in keys)
    where = raw.values[keys[0]].origin.file  # type: ignore[union-attr]
    return [("fix.convention.env_shadowed", {"file": where, "vars": ", ".join(facts["keys"][k] for k in keys)},
             Fix("env_restore", lines, keys=tuple(keys)))]


def convention_fixes(raw: RawConfig) -> list[tuple[str, dict[str, Any], Fix]]:
    """The framework's own conventions the file breaks: keys it never reads as spelled, settings read before
    the env file is loaded, literals that shadow the env file. Each changes what the app reads, so they come
    before any other fix is worked out."""
    return key_style_fixes(raw) + env_load_fixes(raw) + shadowed_env_fixes(raw)


def provider_fixes(raw: RawConfig, settings: Settings, present: Mapping[str, str]
                   ) -> list[tuple[str, dict[str, Any], Fix]]:
    """(catalogue key, its params, fix) for each documented convention of the provider the host belongs
    to that the file breaks: a login that is one literal word (SendGrid's "apikey"), a port the provider
    does not serve (Microsoft 365 has no 465) — moved to the provider's implicit-TLS port when it has one
    (RFC 8314), else its STARTTLS submission port, with that mode's lines. Pure: no probe needed."""
    host = settings.host.value if settings.host else None
    port = settings.port.value if settings.port else None
    provider = identify(host, port) if host else None
    if provider is None:
        return []
    syntax = framework_facts(raw.framework).get("syntax", "dotenv")
    out: list[tuple[str, dict[str, Any], Fix]] = []
    user = settings.username
    key = _raw_key(raw, user.origin) if user else None
    if user and key and provider.username_literal and user.value != provider.username_literal:
        line = render_line(key, provider.username_literal, syntax)
        out.append(("fix.provider.username", {"provider": provider.name, "literal": provider.username_literal},
                    Fix("provider_username", (line,), keys=(key,))))
    key = _raw_key(raw, settings.port.origin) if settings.port else None
    if port is not None and key and provider.ports and port not in provider.ports:
        new, mode = min(provider.ports.items(), key=lambda pm: (pm[1] != "implicit", pm[0] not in (465, 587), pm[0]))
        port_mode = "implicit_tls" if mode == "implicit" else "starttls"
        row = fix_row(raw.framework, "implicit_port" if mode == "implicit" else "plain_port", port_mode,
                      raw.framework_version) or {}
        keys = (key, *row.get("set", {}), *row.get("code", {}))
        lines = (render_line(key, new, syntax), *row_lines(row, {"port": new, "host": host}, syntax))
        remove = tuple((k, present[k]) for k in row.get("remove", []) if k in present)
        out.append(("fix.provider.port", {"provider": provider.name, "port": port, "new": new},
                    Fix("provider_port", lines, remove, keys=keys)))
    return out
