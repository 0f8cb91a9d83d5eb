"""``smtp-doctor config --for FRAMEWORK HOST[:PORT]``: probe, then write that framework's config from scratch.

The port and mode are what the probe found usable (implicit TLS preferred, as RFC 8314 advises), the CA
file only when your --ca-file is what verifies the server, the AUTH mechanism one the server offers. The
written config is then read back by the framework's reader and checked against the same server, so what
is printed is what ``check`` predicts will deliver. The snippet goes to stdout (redirect it into the
file); the notes go to stderr.

Exit codes: 0 written, and check predicts it delivers; 1 no port is usable as it is (or the check
disagrees); 2 bad input; 3 the host cannot be reached.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from .. import ProbeOptions, probe
from ..check import check
from ..errors import ExitCode, UserError
from ..facts import Outcome
from ..findings import Severity
from ..i18n import Term, t
from ..predict import Prediction, Verdict
from ..readers import read_file
from ..render.check import verdict_line
from ..render.inert import escape, json_inert
from ..writers.config import write_config, writers
from .common import console, parse_target

#: AUTH mechanisms in the order an app should prefer them (inside TLS), in the frameworks' spelling.
MECHANISMS = {"PLAIN": "plain", "LOGIN": "login", "CRAM-MD5": "cram_md5"}


@click.command("config")
@click.option("--for", "framework", required=True, metavar="FRAMEWORK",
              help=f"The framework to write the config for: {', '.join(sorted(writers()))}.")
@click.argument("target", metavar="HOST[:PORT]")
@click.option("--user", default=None, help="The login (user name) to write into the config.")
@click.option("--sender", default=None, help="The From address to write, where the framework has one.")
@click.option("--ca-file", type=click.Path(), default=None,
              help="Your private CA: written as the app's CA file when it is what verifies the server.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
              help="Deadline for probing one port, in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(framework: str, target: str, user: str | None, sender: str | None, ca_file: str | None,
            timeout: float, as_json: bool) -> None:
    """Probe HOST and print a correct mail config for FRAMEWORK, in its own syntax."""
    if framework not in writers():
        raise UserError("config.unknown_framework", name=framework, names=", ".join(sorted(writers())))
    host, port = parse_target(target)
    if ca_file is not None and not os.path.exists(ca_file):
        raise UserError("check.cli.ca_file_missing", path=ca_file)
    ca_file = os.path.abspath(ca_file) if ca_file else None  # written into the config: relative to nothing
    opts = ProbeOptions(timeout=timeout, ca_file=ca_file, greeting_timeout=min(20.0, timeout),
                        connect_timeout=min(5.0, timeout))
    report = probe(host, [port] if port else [465, 587], opts)
    if all(d.facts.outcome is not Outcome.CONNECTED for d in report.ports):
        raise UserError("config.unreachable", ExitCode.UNREACHABLE, target=target)
    usable = [d for d in report.ports if d.usable_as]
    usable.sort(key=lambda d: d.usable_as != "implicit_tls")
    notes = console(stderr=True)
    if not usable:
        notes.print(escape(t("config.none_usable", target=target)), highlight=False)
        for d in report.ports:
            for finding in d.findings:
                if finding.severity.rank >= Severity.ERROR.rank:  # what stands in the way
                    notes.print(f"  ✖ {escape(finding.verdict())}", highlight=False)
        raise SystemExit(int(ExitCode.PROBLEMS))
    best = usable[0]
    f = best.facts
    assert f.tls is not None
    publicly = any(v.ok for v in f.tls.verifications if v.source in ("system", "certifi"))
    offered = [m for m in (f.ehlo_tls.auth if f.ehlo_tls else ()) if m in MECHANISMS]
    offered.sort(key=list(MECHANISMS).index)
    written = write_config(framework, host, f.port, f.mode.value, user=user, sender=sender,
                           ca_file=None if publicly else ca_file,
                           mechanism=MECHANISMS[offered[0]] if offered else None)
    pred = _self_check(written.file, written.text, framework, f"{host}:{f.port}", ca_file, timeout)
    # check reads the file only; where the CA goes into the environment (SSL_CERT_FILE) it cannot see it,
    # and the probe already verified the chain with that very CA file
    env_carries_ca = bool(written.env) and (pred.failure or "").startswith("cert_")
    ok = pred.verdict is Verdict.DELIVERED or env_carries_ca
    if as_json:
        click.echo(json_inert(json.dumps({"schema_version": 1, "tool": "smtp-doctor", "command": "config",
                               "framework": framework, "file": written.file, "host": host, "port": f.port,
                               "mode": f.mode.value, "text": written.text, "env": list(written.env),
                               "check": pred.verdict.value, "needs_env": env_carries_ca}, indent=2,
                              ensure_ascii=False)))
    else:
        mode = Term(f"modename.{f.mode.value}")
        notes.print(escape(t("config.head", file=written.file, target=f"{host}:{f.port}", mode=mode)),
                    highlight=False)
        click.echo(written.text, nl=False)
        if written.env:
            notes.print(escape(t("check.cli.env")), highlight=False)
            for line in written.env:
                notes.print("  " + escape(line), highlight=False)
        notes.print(escape(t("config.password")), highlight=False)
        if env_carries_ca:
            notes.print(escape(t("config.checked_env")), highlight=False)
        else:
            notes.print(escape(t("config.checked", line=verdict_line(pred))), highlight=False)
    raise SystemExit(int(ExitCode.OK if ok else ExitCode.PROBLEMS))


def _self_check(file: str, text: str, framework: str, target: str, ca_file: str | None, timeout: float
                ) -> Prediction:
    """Read the written config back with the framework's reader and check it against the server."""
    with tempfile.TemporaryDirectory(prefix="smtp-doctor-config-") as tmp:
        path = Path(tmp) / Path(file).name
        path.write_text(text, encoding="utf-8")
        raws = [r for r in read_file(path, framework=framework) if r.framework == framework]
        if not raws:
            return Prediction(Verdict.UNKNOWN)
        [c] = check(raws[:1], target, ca_file, timeout)
    return c.prediction or Prediction(Verdict.UNKNOWN)
