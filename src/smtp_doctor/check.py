"""Check: lint the app's mail settings, probe the server they point at, predict what the app will do there.

The pipeline in order: readers (``configs.collect``) → settings (``frameworks.to_settings``) → ``plan`` →
``probe`` (the only I/O; each distinct target once, concurrently) → ``predict`` → ``predict.fix_for``.
Nothing here prints: ``render/check.py`` turns a :class:`Checked` into text or JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .address import parse_target
from .errors import ExitCode, UserError
from .facts import PortFacts
from .findings import Finding, Severity
from .frameworks import model, to_settings
from .frameworks.apptrust import AppTrust, app_environ, app_trust, apply, with_app_trust
from .lint import lint
from .plan import ConnectionPlan, Refusal, knowledge, password_as_token, plan
from .predict import Fix, Prediction, Verdict, fix_for, predict
from .readers import read_text
from .remedy import accepted_value, ca_in_place, env_names, trim_secret_fix, trim_value_fix, without_key
from .settings import RawConfig, Settings, ValueKind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .frameworks.model import Model
    from .login import Asked, Envelope

ProbeKey = tuple[str, int, str | None, str | None, bool]  #: host, port, CA file, server name (SNI), test versions


@dataclass
class Checked:
    """One configuration, checked: what it says, what the app will do, what the server did, the verdict."""

    raw: RawConfig
    settings: Settings
    plan: ConnectionPlan
    findings: list[Finding]
    target: tuple[str, int] | None = None  #: what was probed (None: not probed)
    facts: PortFacts | None = None
    prediction: Prediction | None = None
    fix: Fix | None = None
    asked: Asked | None = None  #: the login and envelope check asked the server (login.py)
    trust: AppTrust | None = None  #: the app's own trust, read once (its CA file, its trust variables, a JVM store)


def app_ca(p: ConnectionPlan, ca_file: str | None) -> str | None:
    """The CA file the app verifies with, readable here; --ca-file stands in when the app's is not."""
    own = p.ca_file or p.ca_path
    if own and os.path.exists(own):
        return own
    return ca_file if (own or p.ca_unknown) and ca_file else None


def _with_candidate(facts: PortFacts, ca_file: str | None) -> PortFacts:
    """Add the --ca-file verification as the "candidate" store: the fix may suggest it, the outcome ignores it."""
    from .x509.verify import user_source, verify_chain

    if not ca_file or facts.tls is None or not facts.tls.chain:
        return facts
    v = replace(verify_chain(facts.tls.chain, user_source(ca_file)), source="candidate")
    return replace(facts, tls=replace(facts.tls, verifications=facts.tls.verifications + (v,)))


async def _probe_all(jobs: dict[ProbeKey, None], timeout: float) -> dict[ProbeKey, PortFacts]:
    from .probe import ProbeOptions, probe_host

    async def one(host: str, port: int, ca: str | None, servername: str | None, versions: bool) -> PortFacts:
        opts = ProbeOptions(timeout=timeout, ca_file=ca, servername=servername,
                            connect_timeout=min(5.0, timeout), tls_versions=versions)
        return (await probe_host(host, [port], opts)).ports[0]

    keys = list(jobs)
    results = await asyncio.gather(*(one(*k) for k in keys))
    return dict(zip(keys, results, strict=True))


def _servername(c: Checked, host: str, overridden: bool) -> str | None:
    """The name the app checks the certificate against when it is not the host probed: its own servername
    option, or its host when --probe-host sends the probe elsewhere."""
    if c.plan.servername:
        return c.plan.servername
    return c.plan.host if overridden and c.plan.host and c.plan.host != host else None


def _probe_key(c: Checked, ca_file: str | None, overridden: bool) -> ProbeKey:
    """What the probe of ``c.target`` depends on: configs that share it share one probe."""
    assert c.target is not None
    host, port = c.target
    return host, port, app_ca(c.plan, ca_file), _servername(c, host, overridden), bool(c.plan.tls_versions)


def _missing(path: object) -> bool:
    """Only an absolute path is judged: a relative one depends on the folder the app runs in."""
    return isinstance(path, str) and os.path.isabs(path) and not os.path.exists(path)


def _keyless_cert(raw: RawConfig, m: Model) -> str | None:
    """The client certificate file named with no key file, when it holds no private key: load_cert_chain(certfile)
    then has nothing to pair the certificate with ("[SSL] PEM lib"). A file that cannot be read is not judged."""
    certs = [rv.value for k in m.keys_with_role("client_cert") if (rv := raw.values.get(k)) is not None
             and rv.kind is ValueKind.STRING and isinstance(rv.value, str) and os.path.isabs(rv.value)]
    keys = [k for k in m.keys_with_role("client_key") if (rv := raw.values.get(k)) is not None
            and rv.kind is not ValueKind.NIL and rv.value not in (None, "")]
    if not certs or keys:
        return None
    try:
        with open(certs[0], "rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return None
    return certs[0] if b"-----BEGIN CERTIFICATE" in head and b"PRIVATE KEY-----" not in head else None


def _with_files(p: ConnectionPlan, raw: RawConfig) -> ConnectionPlan:
    """The files the app itself opens, looked at here: its TLS files (client certificate, key, CRL: loaded when
    TLS starts) and the file it reads its password from (read at start: the app stops before it connects)."""
    from .login import secret_file

    with contextlib.suppress(UserError):
        m = model(raw.framework)
        files = [rv.value for role in ("client_cert", "client_key", "tls_file") for k in m.keys_with_role(role)
                 if (rv := raw.values.get(k)) is not None and rv.kind is ValueKind.STRING]
        if missing := tuple(f for f in files if _missing(f)):
            p = replace(p, tls_files_missing=missing)
        elif (cert := _keyless_cert(raw, m)) is not None and p.runtime == "python":
            p = replace(p, client_cert_keyless=cert)
    found = secret_file(raw)
    if found is None or not _missing(found[0]):
        return p
    row = next((r for r in knowledge().get("secret_file", []) if r.get("framework", p.framework) == p.framework
                and r.get("runtime", p.runtime) == p.runtime), None)
    if row is None:
        return p
    text = row["text"].replace("{path}", found[0]).replace("{code}", found[1])
    return replace(p, refusals=(*p.refusals, Refusal("config_unresolved", text, "startup", found[2], row["source"])))


def present(raw: RawConfig) -> dict[str, str]:
    """Each key the config sets → where it is set (the writers edit those places, not new ones)."""
    return {k: str(v.origin) if v.origin else raw.file for k, v in raw.values.items()}


def check(configs: list[RawConfig], probe_target: str | None, ca_file: str | None, timeout: float, *,
          env: Mapping[str, str] | None = None, login: bool = True, envelope: Envelope | None = None
          ) -> list[Checked]:
    """Plan, probe (each distinct target once, concurrently) and predict every configuration; then ask the
    server what only it can say (the app's login, ``envelope``) and let its answers decide."""
    override = parse_target(probe_target) if probe_target else None
    out: list[Checked] = []
    jobs: dict[ProbeKey, None] = {}
    for raw in configs:
        s = to_settings(raw)
        p = plan(s)
        trust = app_trust(p, app_environ(raw), raw.app_env)
        c = Checked(raw, s, _with_files(with_app_trust(p, trust), raw), lint(raw), trust=trust)
        out.append(c)
        host = (override[0] if override else None) or c.plan.host
        port = (override[1] if override and override[1] else None) or c.plan.port
        if not host or not port:  # settings elsewhere (config_for without its YAML …): predict says so
            continue  # a startup refusal is still probed: fix needs the port's facts for its lines
        c.target = (host, port)
        jobs[_probe_key(c, ca_file, override is not None)] = None
    facts = asyncio.run(_probe_all(jobs, timeout)) if jobs else {}
    for c in out:
        if c.target is None:
            c.prediction = predict(c.plan, _unprobed(c))
            continue
        c.facts = _with_candidate(facts[_probe_key(c, ca_file, override is not None)], ca_file)
        assert c.trust is not None
        c.facts = apply(c.facts, c.trust)  # SSL_CERT_FILE … as the app reads them
        sender = c.settings.sender.value if c.settings.sender else "app@example.com"
        c.prediction = predict(c.plan, c.facts, sender=sender)
    _ask_all(out, env, login, envelope, override is not None, timeout)
    for c in out:
        if c.facts is not None and c.prediction is not None:
            c.fix = _fix(c, c.prediction, c.facts, env)
    return out


def _fix(c: Checked, pred: Prediction, facts: PortFacts, env: Mapping[str, str] | None) -> Fix | None:
    """The failure's fix (predict.fix_for), then what only the config's own text can give where that is words:
    a refused value as one the framework takes, a trimmed secret file, the variable of a close name."""
    fix = fix_for(c.plan, pred, facts, present(c.raw))
    if fix is None or fix.lines or pred.verdict is Verdict.DELIVERED:
        return fix
    if pred.stage == "startup":
        fix = without_key(c.raw, present(c.raw), accepted_value(c.raw, facts, fix))
    fix = ca_in_place(c.raw, c.plan, facts, fix)
    try:
        text = read_text(Path(c.raw.file))
    except UserError:  # a config built in code (the library), not read from a file: nothing to edit in place
        text = ""
    if c.asked is not None and c.asked.login == "refused" and c.asked.padded_file:
        fix = trim_secret_fix(c.raw, text, c.asked.padded_file) or fix
    elif c.asked is not None and c.asked.login == "refused" and c.asked.padded_value:
        fix = trim_value_fix(c.raw, text) or fix
    return env_names(c.raw, env, text, fix)


def _askable(c: Checked) -> bool:
    """The app gets as far as its login and MAIL: delivered so far, or a refusal there that is only a guess
    (the 530, the password sent as an OAuth token)."""
    pred = c.prediction
    return pred is not None and c.facts is not None and pred.channel is not None and (
        pred.verdict is Verdict.DELIVERED or (pred.verdict is Verdict.FAILS and not pred.certain
                                              and pred.stage in ("auth", "mail")))


def _ask_all(out: list[Checked], env: Mapping[str, str] | None, login: bool, envelope: Envelope | None,
             override: bool, timeout: float) -> None:
    """Every config's login / envelope session, concurrently; then their answers replace the guesses."""
    from .credentials import Credentials
    from .login import Asked, app_password, choose, converse, not_tried, padded

    sessions = []
    for c in out:
        if not _askable(c) or (c.plan.auth_mechanism is None and envelope is None):
            continue
        assert c.prediction is not None and c.facts is not None and c.prediction.channel is not None
        asked = Asked(envelope=envelope)
        creds = mechanism = None
        if c.plan.auth_mechanism is not None:
            password = app_password(c.raw, env) if login else None
            reason = not_tried(c.plan, c.prediction, c.facts, c.settings, password, login)
            if reason is not None:
                asked.login, asked.login_reason = "not_tried", reason
                c.asked = asked
                if envelope is not None:
                    asked.asked, asked.asked_reason = "not_asked", "login_not_tried"
                continue
            assert c.settings.username is not None and password is not None
            mechanism = choose(c.plan, c.facts, c.prediction.channel)
            creds = Credentials(str(c.settings.username.value), password,
                                oauth_token=password if mechanism in password_as_token(c.plan.framework) else None)
            asked.mechanism = mechanism
            asked.padded_file, asked.padded_value = padded(c.raw, password)
        c.asked = asked
        servername = c.plan.host if override and c.plan.host and c.plan.host != c.facts.host else None
        sessions.append(converse(c.facts, c.prediction.channel, servername, timeout, creds, mechanism,
                                 envelope, asked))
    if sessions:
        async def run() -> None:
            await asyncio.gather(*sessions)

        asyncio.run(run())
    for c in out:
        if c.asked is not None:
            c.prediction = _answered(c)


def _answered(c: Checked) -> Prediction:
    """The prediction once the server has answered: its refusal is the app's failure, in the app's words."""
    from .predict import refused_by_server

    pred, asked = c.prediction, c.asked
    assert pred is not None and asked is not None
    params = {"mechanism": asked.mechanism or "-"}
    if asked.envelope is not None:
        params |= {"sender": asked.envelope.sender, "recipient": asked.envelope.recipient}
    if asked.login == "refused" and pred.verdict is Verdict.FAILS and pred.stage == "auth":
        # the guessed refusal happened (a password sent as an OAuth token): its cause is known whatever the
        # server's words, and each mailer reports a different line of that exchange
        return replace(pred, certain=True, params={**pred.params, **params})
    if asked.login == "refused" and asked.auth_reply is not None:
        return refused_by_server(c.plan, "auth", asked.auth_reply, pred.params, pred.channel, **params)
    if asked.asked == "refused" and asked.failed_phase in asked.replies:
        phase = asked.failed_phase or "mail"
        return refused_by_server(c.plan, phase, asked.replies[phase], pred.params, pred.channel, **params)
    if asked.login == "ok" and pred.verdict is Verdict.FAILS and pred.stage == "auth":  # the guess was wrong
        return Prediction(Verdict.DELIVERED, None, "done", pred.channel, True, None, None,
                          "check.why.delivered_login", {**pred.params, **params}, (), pred.verification)
    if asked.asked == "accepted" and pred.verdict is Verdict.FAILS:  # the 530 guess: the server accepts
        risks = ("plaintext",) if pred.channel == "plaintext" else ()
        return Prediction(Verdict.DELIVERED, None, "done", pred.channel, True, None, None,
                          "check.why.delivered_asked", {**pred.params, **params}, risks, pred.verification)
    if pred.verdict is Verdict.DELIVERED and asked.asked == "accepted":
        return replace(pred, why="check.why.delivered_asked", params={**pred.params, **params})
    if pred.verdict is Verdict.DELIVERED and asked.login == "ok":
        return replace(pred, why="check.why.delivered_login", params={**pred.params, **params})
    return pred


def _unprobed(c: Checked) -> PortFacts:
    return PortFacts(c.plan.host or "", c.plan.port or 0)


#: which verdict of a transport list's members is the app's: the first that delivers does, else one that might
_LIST_ORDER = (Verdict.DELIVERED, Verdict.UNKNOWN, Verdict.FAILS, Verdict.UNREACHABLE)


def list_outcomes(results: list[Checked]) -> dict[tuple[str, str], tuple[Verdict, int | None]]:
    """Per transport list (RawConfig.alternative, by file and framework): the app's verdict and the transport it
    sends through. The app tries each in turn until one sends (Symfony RoundRobinTransport::send), so the list
    delivers when any transport does; when none does the app fails ("All transports failed.")."""
    members: dict[tuple[str, str], list[Checked]] = {}
    for c in results:
        if c.raw.alternative is not None and c.prediction is not None:
            members.setdefault((c.raw.file, c.raw.framework), []).append(c)
    out: dict[tuple[str, str], tuple[Verdict, int | None]] = {}
    for key, cs in members.items():
        best = min((c.prediction.verdict for c in cs if c.prediction), key=_LIST_ORDER.index)
        through = next((c.raw.alternative[1] for c in cs if c.prediction and c.raw.alternative
                        and c.prediction.verdict is Verdict.DELIVERED), None)
        out[key] = (best, through)
    return out


def exit_code(results: list[Checked]) -> ExitCode:
    """1 when any config fails or cannot be told, else 3 when a server cannot be reached, else 0. A transport
    list is one app: its verdict is the list's (list_outcomes)."""
    lists = list_outcomes(results)
    verdicts = {c.prediction.verdict for c in results if c.prediction and c.raw.alternative is None}
    verdicts |= {verdict for verdict, _ in lists.values()}
    lint_error = any(f.severity.rank >= Severity.ERROR.rank for c in results for f in c.findings)
    if Verdict.FAILS in verdicts or Verdict.UNKNOWN in verdicts or lint_error:  # docs/exit-codes.md: lint error
        return ExitCode.PROBLEMS
    if Verdict.UNREACHABLE in verdicts:
        return ExitCode.UNREACHABLE
    return ExitCode.OK


def load_configs(path: Path, env_file: Path | None, framework: str | None, probe_target: str | None,
                 ca_file: str | None) -> tuple[list[RawConfig], dict[str, str] | None]:
    """Every bad argument is one line and exit 2 before anything is read or probed."""
    from .configs import collect
    from .readers import load_env_file

    if framework is not None:
        model(framework)
    if env_file is not None and not env_file.is_file():
        raise UserError("lint.cli.env_missing", path=str(env_file))
    if ca_file is not None and not os.path.exists(ca_file):
        raise UserError("check.cli.ca_file_missing", path=ca_file)
    if probe_target is not None:
        parse_target(probe_target)
    env = load_env_file(env_file) if env_file is not None else None
    from .credentials import app_auth_args

    configs = [app_auth_args(c, env) for c in collect((path,), env, framework)]  # an unset ENV[...] is nil
    if not configs:
        raise UserError("check.cli.no_configs", path=str(path))
    return configs, env
