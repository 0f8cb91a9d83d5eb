"""One typed function per command, for a CI plugin, a web page or a notebook: what the CLI runs.

Each function takes what the command's arguments say, returns a result object and prints nothing; the
result's ``exit_code`` is the one the command exits with (docs/exit-codes.md). Bad input raises
:class:`smtp_doctor.errors.UserError` (``.message()`` is the one translated line the CLI prints).
The pipeline behind them: readers (``configs``) → ``settings`` → ``plan`` → ``probe`` → facts →
``diagnose`` / ``predict`` → findings; ``repair`` is the fix loop; ``render/`` turns results into text
or JSON. Examples in docs/api.md (run by tests/test_api.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import probe, probe_async
from .errors import ExitCode, UserError

if TYPE_CHECKING:
    from .check import Checked
    from .credentials import AuthPolicy, Credentials
    from .diagnose.host import HostReport
    from .explain import Explanation
    from .explain.live import ProbeCheck
    from .facts import TLSFacts
    from .findings import Finding, Severity
    from .predict import Prediction
    from .probe.options import ProbeOptions
    from .probe.send import Delivery
    from .repair import Repair
    from .settings import RawConfig, Settings
    from .trust.engine import Assessment
    from .trust.report import Server
    from .trust.runtimes import RuntimeStore
    from .writers.config import Written

__all__ = ["CheckResult", "ConfigResult", "ExplainResult", "FixResult", "LintResult", "LintedConfig", "ProbeResult",
           "SendResult", "TrustResult", "check", "config", "exit_code_for", "explain", "fix", "lint", "probe",
           "probe_async", "probe_hosts", "send", "trust"]

StrPath = str | os.PathLike[str]


# -- probe ------------------------------------------------------------------------------------------------------


def exit_code_for(severity: Severity, reachable: bool, strict: bool = False) -> ExitCode:
    """The exit code of probe, scan, domain and audit: 3 when a server cannot be reached, 1 for an error
    (or a warning with ``strict``), else 0."""
    from .findings import Severity

    if not reachable:
        return ExitCode.UNREACHABLE
    if severity.rank >= Severity.ERROR.rank or (strict and severity is Severity.WARNING):
        return ExitCode.PROBLEMS
    return ExitCode.OK


@dataclass
class ProbeResult:
    reports: list[HostReport]  #: one per host, in the order given
    strict: bool = False  #: warnings fail too

    @property
    def exit_code(self) -> ExitCode:
        from .findings import Severity

        worst = max((r.severity for r in self.reports), key=lambda s: s.rank, default=Severity.OK)
        return exit_code_for(worst, all(r.reachable for r in self.reports), self.strict)


def probe_hosts(ports: Mapping[str, Sequence[int]], options: ProbeOptions | None = None,
                credentials: Mapping[str, Credentials | None] | None = None, policy: AuthPolicy | None = None,
                strict: bool = False) -> ProbeResult:
    """Probe every host on its ports, all at once (``smtp-doctor probe HOST… ``); ``probe`` does one host."""
    import asyncio

    creds = credentials or {}

    async def run() -> list[HostReport]:
        return list(await asyncio.gather(*(probe_async(h, p, options, creds.get(h), policy)
                                           for h, p in ports.items())))

    return ProbeResult(asyncio.run(run()), strict)


# -- lint -------------------------------------------------------------------------------------------------------


@dataclass
class LintedConfig:
    raw: RawConfig  #: what the file says, with locations
    settings: Settings  #: what the framework will do with it
    findings: list[Finding]


@dataclass
class LintResult:
    configs: list[LintedConfig]
    strict: bool = False  #: warnings fail too

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.configs for f in c.findings]

    @property
    def severity(self) -> Severity:
        from .findings import worst

        return worst(self.findings)

    @property
    def exit_code(self) -> ExitCode:
        from .findings import Severity

        sev = self.severity
        failed = sev.rank >= Severity.ERROR.rank or (self.strict and sev is Severity.WARNING)
        return ExitCode.PROBLEMS if failed else ExitCode.OK


def lint(paths: Sequence[StrPath] | StrPath, *, env_file: StrPath | None = None, framework: str | None = None,
         framework_version: str | None = None, strict: bool = False) -> LintResult:
    """Read every mail config under ``paths`` (files or folders) and report its mistakes; no network."""
    from .configs import collect
    from .frameworks import model, to_settings
    from .lint import lint as lint_config
    from .readers import load_env_file

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if framework is not None:
        model(framework)  # unknown id → UserError
    env_path = Path(env_file) if env_file is not None else None
    if env_path is not None and not env_path.is_file():
        raise UserError("lint.cli.env_missing", path=str(env_path))
    env = load_env_file(env_path) if env_path is not None else None
    configs = collect([Path(p) for p in items], env, framework)
    if framework_version:
        configs = [replace(c, framework_version=framework_version) for c in configs]
    return LintResult([LintedConfig(c, to_settings(c), lint_config(c)) for c in configs], strict)


# -- check and fix ----------------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    configs: list[Checked]  #: per config: plan, what was probed, the prediction and its fix
    repairs: list[Repair | None] = field(default_factory=list)  #: with ``with_fix``: the corrected file

    @property
    def exit_code(self) -> ExitCode:
        from .check import exit_code

        return exit_code(self.configs)


def _load(path: StrPath, env_file: StrPath | None, framework: str | None, framework_version: str | None,
          probe_host: str | None, ca_file: str | None) -> tuple[list[RawConfig], dict[str, str] | None]:
    from .check import load_configs

    configs, env = load_configs(Path(path), Path(env_file) if env_file is not None else None, framework,
                                probe_host, ca_file)
    if framework_version:
        configs = [replace(c, framework_version=framework_version) for c in configs]
    return configs, env


def check(path: StrPath, *, env_file: StrPath | None = None, framework: str | None = None,
          framework_version: str | None = None, probe_host: str | None = None, ca_file: str | None = None,
          timeout: float = 30.0, with_fix: bool = False, login: bool = True,
          envelope: tuple[str, str] | None = None) -> CheckResult:
    """Predict what the app configured at ``path`` will do against the live server (``probe_host``
    stands in for the server the config names), and what to change; ``with_fix`` adds the repaired file.
    ``login``: log in with the app's own password where it is available and safe; ``envelope`` (sender,
    recipient): ask the server's MAIL FROM / RCPT TO answers (never DATA)."""
    from .check import check as check_configs
    from .login import envelope_of
    from .repair import repair, wants_repair

    asked = envelope_of(envelope)  # a bad address is exit 2 before anything is read
    configs, env = _load(path, env_file, framework, framework_version, probe_host, ca_file)
    results = check_configs(configs, probe_host, ca_file, timeout, env=env, login=login, envelope=asked)
    repairs = [repair(c.raw, env, probe_host, ca_file, timeout) if with_fix and wants_repair(c) else None
               for c in results]
    return CheckResult(results, repairs)


@dataclass
class FixResult:
    repairs: list[Repair]  #: per config: the steps, the corrected text (``.fixed``) and ``.diff``
    written: bool = False  #: ``write`` changed a file

    @property
    def exit_code(self) -> ExitCode:
        from .repair import exit_code

        return exit_code(self.repairs, self.written)


def fix(path: StrPath, *, env_file: StrPath | None = None, framework: str | None = None,
        framework_version: str | None = None, probe_host: str | None = None, ca_file: str | None = None,
        timeout: float = 30.0, write: bool = False) -> FixResult:
    """The corrected config, each change checked against the server; ``write`` applies the ones that deliver."""
    from .repair import repair
    from .repair import write as write_files

    configs, env = _load(path, env_file, framework, framework_version, probe_host, ca_file)
    repairs = [repair(raw, env, probe_host, ca_file, timeout) for raw in configs]
    return FixResult(repairs, write_files(repairs) if write else False)


# -- explain ----------------------------------------------------------------------------------------------------


@dataclass
class ExplainResult:
    explanation: Explanation  #: ``.best.mode.id``, ``.matches``, ``.fields`` (host, port, codes …)
    probe: ProbeCheck | None = None  #: with ``probe=True``: what the live server showed

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.explanation.recognised else ExitCode.PROBLEMS


def explain(text: str, *, probe: bool = False, target: str | None = None, ca_file: str | None = None,
            timeout: float = 20.0, on_probe: Callable[[str], None] | None = None) -> ExplainResult:
    """What an SMTP/TLS error text means; ``probe`` confirms it against the server the text (or ``target``)
    names (``on_probe`` hears "host:port" before the probe starts)."""
    from .address import parse_target
    from .explain import explain as explain_text

    if not text.strip():
        raise UserError("explain.error.empty")
    exp = explain_text(text)
    if not probe or exp.best is None:
        return ExplainResult(exp)
    from .explain.live import confirm, rerank
    from .probe import ProbeOptions

    host, port = parse_target(target) if target else (exp.fields.host, exp.fields.port)
    if not host or not port:
        raise UserError("explain.probe.no_target")
    exp.fields.host, exp.fields.port = exp.fields.host or host, exp.fields.port or port
    if on_probe is not None:
        on_probe(f"{host}:{port}")
    opts = ProbeOptions(timeout=timeout, ca_file=ca_file, connect_timeout=min(5.0, timeout))
    return ExplainResult(exp, rerank(exp, confirm(exp.best.mode, host, port, opts)))  # live evidence re-ranks


# -- trust ------------------------------------------------------------------------------------------------------

DEFAULT_TRUST_PORT = 587  #: submission with STARTTLS: what apps are told to use


@dataclass
class TrustResult:
    stores: list[RuntimeStore]  #: each runtime's CA store on this machine
    assessment: Assessment | None = None  #: with a server: which stores trust its chain, what fixes it
    server: Server | None = None
    chain: tuple[bytes, ...] = ()  #: the certificates the server sent (DER)

    @property
    def ok(self) -> bool:
        from .trust.report import to_json

        return bool(to_json(self.stores, self.assessment, self.server, ())["ok"])

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.PROBLEMS


def trust(target: str | None = None, *, runtimes: Sequence[str] = ("all",), ca_file: str | None = None,
          interpreters: Mapping[str, str] | None = None, servername: str | None = None,
          timeout: float = 30.0) -> TrustResult:
    """Which CA store each runtime here uses and, with ``target``, whether each trusts the server's chain."""
    from .address import parse_target
    from .trust.engine import assess
    from .trust.report import Server
    from .trust.runtimes import discover, user_location

    user = None
    if ca_file is not None:
        if not os.path.exists(ca_file):
            raise UserError("trust.error.ca_file_missing", path=ca_file)
        user = user_location(ca_file)
        if not user.certificates and user.unhashed:
            raise UserError("trust.note.unhashed", path=ca_file, count=user.unhashed)
        if not user.certificates:
            raise UserError("trust.error.ca_file_empty", path=ca_file)
    host_port = parse_target(target) if target else None
    names = None if "all" in runtimes else list(dict.fromkeys(runtimes))
    stores = discover(names, interpreters=dict(interpreters or {}))
    if host_port is None:
        return TrustResult(stores)
    host, port = host_port[0], host_port[1] or DEFAULT_TRUST_PORT
    tls = _server_chain(host, port, timeout, servername)
    return TrustResult(stores, assess(tls.chain, stores, user), Server(host, port, tls.hostname, tls.hostname_ok),
                       tls.chain)


def _server_chain(host: str, port: int, timeout: float, servername: str | None) -> TLSFacts:
    """The chain as the server sends it, through the probe engine (the one SMTP client we have)."""
    import asyncio

    from . import i18n
    from .facts import Outcome
    from .probe import ProbeOptions, probe_host

    opts = ProbeOptions(timeout=timeout, servername=servername, connect_timeout=min(5.0, timeout))
    facts = asyncio.run(probe_host(host, [port], opts)).ports[0]
    if facts.outcome is not Outcome.CONNECTED:
        raise UserError("trust.error.unreachable", ExitCode.UNREACHABLE, host=host, port=port,
                        detail=facts.outcome_detail or str(facts.outcome))
    if facts.tls is None or not facts.tls.chain:
        detail = facts.tls_error.message if facts.tls_error else i18n.t(f"modename.{facts.mode}")
        raise UserError("trust.error.no_tls", ExitCode.PROBLEMS, host=host, port=port, mode=detail)
    return facts.tls


# -- config -----------------------------------------------------------------------------------------------------

#: AUTH mechanisms in the order an app should prefer them (inside TLS), in the frameworks' spelling.
MECHANISMS = {"PLAIN": "plain", "LOGIN": "login", "CRAM-MD5": "cram_md5"}


@dataclass
class ConfigResult:
    report: HostReport  #: the probe of the candidate ports
    written: Written | None = None  #: the config (``.file``, ``.text``, ``.env``); None: no port usable as it is
    prediction: Prediction | None = None  #: ``check`` of the written config, read back by the framework's reader
    needs_env: bool = False  #: the CA goes into the app's environment, which the read-back check cannot see
    host: str = ""
    port: int | None = None  #: the port the config uses
    mode: str | None = None  #: what that port speaks (implicit_tls / starttls)

    @property
    def blocking(self) -> list[Finding]:
        """With no usable port: what stands in the way on each."""
        from .findings import Severity

        return [f for d in self.report.ports for f in d.findings if f.severity.rank >= Severity.ERROR.rank]

    @property
    def exit_code(self) -> ExitCode:
        from .predict import Verdict

        ok = self.prediction is not None and (self.prediction.verdict is Verdict.DELIVERED or self.needs_env)
        return ExitCode.OK if ok else ExitCode.PROBLEMS


def config(target: str, framework: str, *, user: str | None = None, sender: str | None = None,
           ca_file: str | None = None, timeout: float = 30.0) -> ConfigResult:
    """Probe ``target`` and write ``framework``'s mail config for it from scratch: the port and mode found
    usable (implicit TLS preferred, RFC 8314), the CA file only when it alone verifies the server, an AUTH
    mechanism the server offers; then read it back and check it against the same server."""
    from .address import parse_target
    from .facts import Outcome
    from .probe.options import ProbeOptions
    from .writers.config import write_config, writers

    if framework not in writers():
        raise UserError("config.unknown_framework", name=framework, names=", ".join(sorted(writers())))
    host, port = parse_target(target)
    if ca_file is not None and not os.path.exists(ca_file):
        raise UserError("check.cli.ca_file_missing", path=ca_file)
    ca_file = os.path.abspath(ca_file) if ca_file else None  # written into the config: relative to nothing
    opts = ProbeOptions(timeout=timeout, ca_file=ca_file, connect_timeout=min(5.0, timeout))
    report = probe(host, [port] if port else [465, 587], opts)
    if all(d.facts.outcome is not Outcome.CONNECTED for d in report.ports):
        raise UserError("config.unreachable", ExitCode.UNREACHABLE, target=target)
    usable = sorted((d for d in report.ports if d.usable_as), key=lambda d: d.usable_as != "implicit_tls")
    if not usable:
        return ConfigResult(report, host=host)
    f = usable[0].facts
    assert f.tls is not None
    publicly = any(v.ok for v in f.tls.verifications if v.source in ("system", "certifi"))
    offered = sorted((m for m in (f.ehlo_tls.auth if f.ehlo_tls else ()) if m in MECHANISMS),
                     key=list(MECHANISMS).index)
    written = write_config(framework, host, f.port, f.mode.value, user=user, sender=sender,
                           ca_file=None if publicly else ca_file,
                           mechanism=MECHANISMS[offered[0]] if offered else None)
    pred = _read_back(written.file, written.text, framework, f"{host}:{f.port}", ca_file, timeout)
    # check reads the file only; where the CA goes into the environment (SSL_CERT_FILE) it cannot see it,
    # and the probe already verified the chain with that very CA file
    return ConfigResult(report, written, pred, bool(written.env) and (pred.failure or "").startswith("cert_"),
                        host, f.port, f.mode.value)


def _read_back(file: str, text: str, framework: str, target: str, ca_file: str | None, timeout: float
               ) -> Prediction:
    """Read the written config back with the framework's reader and check it against the server."""
    import tempfile

    from .check import check as check_configs
    from .predict import Prediction, Verdict
    from .readers import read_file

    with tempfile.TemporaryDirectory(prefix="smtp-doctor-config-") as tmp:
        path = Path(tmp) / Path(file).name
        path.write_text(text, encoding="utf-8")
        # the written config reads its password from SMTP_PASSWORD, which the app's environment sets: read
        # it as set (an unset one is nil to the app: net-smtp's ArgumentError); the login is not tried
        env = {"SMTP_PASSWORD": "set in the app's environment"}
        raws = [r for r in read_file(path, framework=framework, env=env) if r.framework == framework]
        if not raws:
            return Prediction(Verdict.UNKNOWN)
        [c] = check_configs(raws[:1], target, ca_file, timeout)
    return c.prediction or Prediction(Verdict.UNKNOWN)


# -- send -------------------------------------------------------------------------------------------------------


@dataclass
class SendResult:
    report: HostReport  #: the probe of every candidate port
    delivery: Delivery | None  #: None: no port was usable
    findings: list[Finding]
    host: str = ""

    @property
    def exit_code(self) -> ExitCode:
        from .findings import Severity, worst

        if not self.report.reachable:
            return ExitCode.UNREACHABLE
        ok = self.delivery is not None and self.delivery.failed_phase is None
        return ExitCode.OK if ok and worst(self.findings) is not Severity.ERROR else ExitCode.PROBLEMS


def send(target: str, sender: str, recipients: Sequence[str], *, subject: str = "smtp-doctor test message",
         dry_run: bool = False, ports: Sequence[int] | None = None, ca_file: str | None = None,
         timeout: float = 30.0, credentials: Credentials | None = None,
         policy: AuthPolicy | None = None) -> SendResult:
    """Probe ``target``, log in with ``credentials`` if given, and send one test message through the first
    usable port (``dry_run``: stop before DATA)."""
    import asyncio

    from .address import parse_target
    from .credentials import AuthPolicy
    from .probe import DEFAULT_PORTS, ProbeOptions
    from .probe.session import SessionRefused

    for address in (sender, *recipients):
        if "@" not in address or any(c in address for c in "<>\r\n "):
            raise UserError("send.bad_address", address=address)
    host, port = parse_target(target)
    candidates = [port] if port else list(ports or DEFAULT_PORTS)
    opts = ProbeOptions(timeout=timeout, ca_file=ca_file)
    try:
        return asyncio.run(_send(host, candidates, opts, sender, list(recipients), subject, dry_run, credentials,
                                 policy or AuthPolicy()))
    except SessionRefused as exc:
        raise UserError("send.session_refused", exit_code=ExitCode.PROBLEMS, phase=exc.phase,
                        reply=" ".join(exc.reply.wire())[:200]) from None


async def _send(host: str, candidates: list[int], opts: ProbeOptions, sender: str, recipients: list[str], subject: str,
                dry_run: bool, creds: Credentials | None, policy: AuthPolicy) -> SendResult:
    from importlib.metadata import version

    from .diagnose.auth import delivery_findings
    from .facts import AuthOutcome, Mode
    from .findings import Finding, Severity
    from .probe.auth import recommended
    from .probe.send import build_message, send_test

    report = await probe_async(host, candidates, opts, creds, policy)
    usable = [d for d in report.ports if d.facts.mode in (Mode.IMPLICIT_TLS, Mode.STARTTLS, Mode.PLAINTEXT)
              and (d.usable_as or (creds is None and d.facts.mode is not Mode.PLAINTEXT))]
    if creds is not None:
        usable = [d for d in report.ports if any(a.outcome is AuthOutcome.OK for a in d.facts.auth_attempts)]
    if not usable:
        return SendResult(report, None, [Finding("send.no_usable_port", Severity.ERROR, {"host": host})], host)
    f = usable[0].facts
    assert f.address is not None
    msg = build_message(sender, recipients, subject, f"{host}:{f.port}", version("smtp-doctor"))
    delivery = await send_test(host, f.address, f.port, f.mode, opts, msg, sender, recipients, dry_run=dry_run,
                               creds=creds, mechanism=recommended(f.auth_attempts) if creds is not None else None)
    return SendResult(report, delivery, delivery_findings(delivery, f"{host}:{f.port}"), host)
