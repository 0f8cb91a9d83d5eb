"""``smtp-doctor domain example.com``: will mail to this domain be delivered, and securely?"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import click

from ..domain import DomainOptions, check_domain
from ..domain.render import render_text, to_json
from ..errors import ExitCode, UserError
from ..i18n import t
from ..render.inert import escape
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


def serve_lab(base: Path, duration: float | None, as_json: bool) -> None:
    """``smtp-doctor lab --domain``: the domain lab until Ctrl-C (or --duration), with the options to use."""
    import json

    from ..lab.dns import binaries_missing
    from ..lab.domain import DomainLab

    if missing := binaries_missing():
        raise UserError("domain.error.lab_missing", ExitCode.USAGE, detail=", ".join(missing))

    async def run() -> None:
        async with DomainLab(base) as info:
            if as_json:
                click.echo(json.dumps({"resolver": info.resolver, "non_validating_resolver":
                                       info.non_validating_resolver, "authoritative": info.auth,
                                       "smtp_port": info.smtp_port, "https_port": info.https_port,
                                       "ca_file": str(info.ca_file), "trust_anchor": str(info.anchor_file),
                                       "domains": {c.domain: sorted(c.expect) for c in info.cases.values()}},
                                      indent=2))
            else:
                out = console()
                out.print(f"[bold]{t('domain.label.lab_title')}[/]")
                for c in info.cases.values():
                    out.print(f"  {c.domain:<28} {escape(t(f'domain.case.{c.name}'))}", highlight=False)
                args = " ".join(info.domain_args())
                out.print(t("domain.label.lab_try", command=f"smtp-doctor domain clean.test {args}"))
                out.print(f"[dim]{t('lab.stop')}[/]")
            await asyncio.sleep(duration if duration is not None else 10**9)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
