"""``smtp-doctor audit``: parse, call ``smtp_doctor.audit.audit`` (or the attacker lab), render."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from pathlib import Path

import click

from ..audit import AuditOptions, Role, audit
from ..audit.render import render_client, render_text
from ..errors import ExitCode, UserError
from ..i18n import current_language, t
from ..lab.attack import AttackLabInfo, serve
from ..probe import DEFAULT_PORTS, ProbeOptions
from ..render.inert import json_inert
from .common import console, exit_code, parse_port, parse_target


def _ports(target: str, ports: str | None) -> tuple[str, tuple[int, ...]]:
    host, port = parse_target(target)
    if port:
        return host, (port,)
    chosen = tuple(parse_port(p.strip()) for p in ports.split(",") if p.strip()) if ports else DEFAULT_PORTS
    if not chosen:
        raise UserError("probe.bad_port", port=ports or "")
    return host, tuple(dict.fromkeys(chosen))


def _client(directory: str | None, duration: float, as_json: bool) -> None:
    """The attacker lab: print where it listens, wait, report what each client connection did."""
    base = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="smtp-doctor-attack-"))
    out = console()

    def ready(info: AttackLabInfo) -> None:
        if as_json:  # JSON lines: where it listens now, the report at the end
            where = {"host": info.host, "ports": info.ports, "ca_file": str(info.ca_file)}
            click.echo(json.dumps({"listening": where}))
            return
        out.print(f"[bold]{t('audit.client.title')}[/]")
        for scenario, port in info.ports.items():
            out.print(f"  {info.host}:{port}  {t(f'audit.client.scenario.{scenario}')}")
        out.print(t("audit.client.ca", path=str(info.ca_file)))
        out.print(f"[dim]{t('audit.client.waiting', seconds=duration)}[/]")

    report = None
    with contextlib.suppress(KeyboardInterrupt):
        report = asyncio.run(serve(base, duration, ready))
    if report is None:
        return
    if as_json:
        click.echo(json_inert(json.dumps({"report": report.to_dict()}, ensure_ascii=False)))
    else:
        render_client(report, out)
    raise SystemExit(int(ExitCode.PROBLEMS if report.unsafe else ExitCode.OK))


@click.command("audit")
@click.argument("target", required=False)
@click.option("--ports", "-p", default=None, metavar="LIST", help="Ports to audit (default 587,465,25).")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=None,
              help="Rate every port as submission or relay (default: 25 relay, others submission).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
              help="Seconds allowed for each connection's whole dialogue.")
@click.option("--ca-file", type=click.Path(), default=None, help="Extra CA (also used to find the issuer).")
@click.option("--servername", default=None, help="Name to send as SNI.")
@click.option("--revocation", is_flag=True,
              help="Also fetch the CRL/OCSP URLs the certificate names (the only other hosts ever contacted).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--client", is_flag=True, help="Run the attacker lab instead: test your app, not a server.")
@click.option("--duration", type=click.FloatRange(0.1, 86400), default=300.0, show_default=True,
              help="With --client: how long to wait for the app's connections.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="With --client: where to write the lab's CA and certificates.")
def command(target: str | None, ports: str | None, role: str | None, timeout: float, ca_file: str | None,
            servername: str | None, revocation: bool, as_json: bool, strict: bool, client: bool,
            duration: float, directory: str | None) -> None:
    """Is this mail server safe? STARTTLS injection, AUTH/mail before TLS, TLS, certificate, revocation."""
    if client:
        _client(directory, duration, as_json)
        return
    if not target:
        raise UserError("probe.bad_target", target="")
    if ca_file and not os.path.exists(ca_file):
        raise UserError("probe.ca_file_missing", path=ca_file)
    host, chosen = _ports(target, ports)
    probe = ProbeOptions(timeout=timeout, ca_file=ca_file, servername=servername,
                         connect_timeout=min(5.0, timeout))
    result = audit(host, chosen, AuditOptions(probe, Role(role) if role else None, revocation))
    if as_json:
        click.echo(json_inert(json.dumps(result.to_dict(current_language()), indent=2, ensure_ascii=False)))
    else:
        render_text(result, console())
    raise SystemExit(int(exit_code(result.worst, result.reachable, strict)))
