"""``smtp-doctor probe HOST[:PORT] ...``"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from .common import credential_options


@click.command("probe")
@click.argument("targets", nargs=-1, required=True, metavar="HOST[:PORT]...")
@click.option("--ports", "-p", default=None, metavar="LIST",
              help="Comma-separated ports for targets without one (default 587,465,25).")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
              help="Deadline for the whole probe of one port, in seconds.")
@click.option("--ca-file", type=click.Path(), default=None,
              help="Also verify against this CA bundle (file) or hashed directory.")
@click.option("--servername", default=None, help="Name to send as SNI and check against the certificate.")
@click.option("--runtimes", default=None, metavar="LIST",
              help="Also verify against these runtimes' own trust stores (ruby,python,node,java,php,go,openssl "
                   "or all): will the app's runtime trust the server?")
@click.option("--tls-versions", is_flag=True,
              help="Also try TLS 1.0, 1.1, 1.2 and 1.3 one by one (four more connections per TLS port).")
@click.option("--audit", "with_audit", is_flag=True,
              help="Also run the security audit on the same ports (STARTTLS injection, TLS, …; see `audit`).")
@click.option("--transcript", is_flag=True, help="Show the raw dialogue (credentials are masked).")
@click.option("--details", is_flag=True, help="Show technical details of each finding.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (docs/json-schema.md).")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@credential_options
def command(targets: tuple[str, ...], ports: str | None, timeout: float, ca_file: str | None,
            servername: str | None, runtimes: str | None, tls_versions: bool, with_audit: bool, transcript: bool,
            details: bool,
            as_json: bool, strict: bool,
            user: str | None, password_env: str | None, password_file: str | None, oauth_token_env: str | None,
            allow_cleartext_credentials: bool, allow_unverified_tls_credentials: bool) -> None:
    """Work out what each SMTP port really speaks, and check its TLS, certificate and AUTH."""
    from ..api import probe_hosts
    from ..audit.render import render_text as render_audit
    from ..credentials import AuthPolicy, Redactor
    from ..errors import UserError
    from ..i18n import current_language
    from ..probe import DEFAULT_PORTS, ProbeOptions
    from ..render.inert import json_inert
    from ..render.json import host_json
    from ..render.text import render_host
    from ..trust.knowledge import runtimes as trust_runtimes
    from .common import build_credentials, console, parse_port, parse_target

    default_ports = tuple(parse_port(p.strip()) for p in ports.split(",") if p.strip()) if ports else DEFAULT_PORTS
    if not default_ports:
        raise UserError("probe.bad_port", port=ports)
    if ca_file and not os.path.exists(ca_file):
        raise UserError("probe.ca_file_missing", path=ca_file)
    plan: dict[str, list[int]] = {}
    for target in targets:
        host, port = parse_target(target)
        for p in ([port] if port else default_ports):
            if p not in plan.setdefault(host, []):
                plan[host].append(p)
    selected = tuple(r.strip() for r in runtimes.split(",") if r.strip()) if runtimes else ()
    known = set(trust_runtimes()) | {"all"}
    if unknown := [r for r in selected if r not in known]:
        raise UserError("probe.bad_runtime", runtime=unknown[0], known=", ".join(sorted(known)))
    opts = ProbeOptions(timeout=timeout, ca_file=ca_file, servername=servername, runtimes=selected,
                        tls_versions=tls_versions, connect_timeout=min(5.0, timeout))
    creds = {h: build_credentials(h, user, password_env, password_file, oauth_token_env) for h in plan}
    redact = Redactor(c for c in creds.values() if c)
    policy = AuthPolicy(allow_cleartext_credentials, allow_unverified_tls_credentials)
    result = probe_hosts(plan, opts, creds, policy, strict)
    reports = result.reports
    audits = _audits(plan, opts) if with_audit else {}
    exit_code = max([int(result.exit_code)] + [int(_audit_exit(a, strict)) for a in audits.values()])
    if as_json:
        objs = [host_json(r, transcript) for r in reports]
        for obj, report in zip(objs, reports, strict=True):
            if report.facts.host in audits:
                obj["audit"] = audits[report.facts.host].to_dict(current_language())
        if len(objs) == 1:
            click.echo(json_inert(redact(json.dumps(objs[0], indent=2, ensure_ascii=False))))
        else:
            for obj in objs:
                click.echo(json_inert(redact(json.dumps(obj, ensure_ascii=False))))
    else:
        out = console(redact=redact)
        for report in reports:
            render_host(out, report, transcript, details)
            if report.facts.host in audits:
                render_audit(audits[report.facts.host], out)
    raise SystemExit(exit_code)


def _audits(plan: dict[str, list[int]], opts: Any) -> dict[str, Any]:
    """The audit of every probed host, on the same ports and options (its own connections)."""
    from ..audit import AuditOptions, audit

    return {host: audit(host, ports, AuditOptions(opts)) for host, ports in plan.items()}


def _audit_exit(result: Any, strict: bool) -> int:
    from .common import exit_code

    return int(exit_code(result.worst, result.reachable, strict))
