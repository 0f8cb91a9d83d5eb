"""``smtp-doctor domain example.com``: will mail to this domain be delivered, and securely?"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from ..domain import DomainOptions, check_domain
from ..domain.render import render_text, to_json
from ..errors import ExitCode, UserError
from .common import console, exit_code


@click.command("domain")
@click.argument("domain")
@click.option("--resolver", metavar="IP[:PORT]", default=None,
              help="Resolver to ask (default: the system's). Use a validating one to judge DNSSEC and DANE.")
@click.option("--port", type=click.IntRange(1, 65535), default=25, show_default=True,
              help="MX port to probe (only labs and tests move it).")
@click.option("--policy-port", type=click.IntRange(1, 65535), default=443, show_default=True,
              help="HTTPS port of mta-sts.<domain> (only labs and tests move it).")
@click.option("--ca-file", type=click.Path(dir_okay=False), default=None,
              help="Also trust this CA bundle for MX and policy certificates (a lab or private CA).")
@click.option("--timeout", type=click.FloatRange(0.5, 120), default=10.0, show_default=True,
              help="Seconds per DNS query, HTTPS fetch and SMTP phase.")
@click.option("--remember", type=click.Path(dir_okay=False), default=None,
              help="JSON file keeping the MTA-STS id and policy hash, to catch a policy changed without a new id.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--details", is_flag=True, help="Show each finding's technical details and RFC source.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def command(domain: str, resolver: str | None, port: int, policy_port: int, ca_file: str | None, timeout: float,
            remember: str | None, as_json: bool, details: bool, strict: bool) -> None:
    """Check MX, MTA-STS, DANE (with DNSSEC) and TLS-RPT for DOMAIN, as sending servers see them."""
    if ca_file and not Path(ca_file).is_file():
        raise UserError("domain.error.bad_ca_file", ExitCode.USAGE, path=ca_file)
    opts = DomainOptions(resolver=resolver, port=port, policy_port=policy_port, ca_file=ca_file, timeout=timeout,
                         remember=remember)
    report = asyncio.run(check_domain(domain, opts))
    if as_json:
        click.echo(to_json(report))
    else:
        render_text(console(), report, details=details)
    click.get_current_context().exit(int(exit_code(report.severity, True, strict)))
