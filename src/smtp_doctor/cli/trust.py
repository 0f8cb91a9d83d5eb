"""``smtp-doctor trust [HOST[:PORT]]``: which CA store each runtime uses, and does it trust the server."""

from __future__ import annotations

import asyncio
import json
import os

import click
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .. import i18n
from ..errors import ExitCode, UserError
from ..facts import Outcome, PortFacts
from ..probe import ProbeOptions, probe_host
from ..render.inert import json_inert, shown
from ..trust.engine import assess
from ..trust.knowledge import frameworks, runtimes
from ..trust.report import Server, render_assessment, render_stores, to_json
from ..trust.runtimes import discover, user_location
from .common import console, parse_target

DEFAULT_PORT = 587  #: submission with STARTTLS: what apps are told to use (RFC 8314 prefers 465 too)


def _fetch(host: str, port: int, timeout: float, servername: str | None) -> PortFacts:
    """The chain as the server sends it, through the probe engine (the one SMTP client we have)."""
    opts = ProbeOptions(timeout=timeout, servername=servername, greeting_timeout=min(20.0, timeout),
                        connect_timeout=min(5.0, timeout))
    facts = asyncio.run(probe_host(host, [port], opts)).ports[0]
    if facts.outcome is not Outcome.CONNECTED:
        raise UserError("trust.error.unreachable", ExitCode.UNREACHABLE, host=host, port=port,
                        detail=facts.outcome_detail or str(facts.outcome))
    if facts.tls is None or not facts.tls.chain:
        detail = facts.tls_error.message if facts.tls_error else i18n.t(f"modename.{facts.mode}")
        raise UserError("trust.error.no_tls", ExitCode.PROBLEMS, host=host, port=port, mode=detail)
    return facts


def _export(chain: tuple[bytes, ...], path: str) -> None:
    pem = b"".join(x509.load_der_x509_certificate(d).public_bytes(Encoding.PEM) for d in chain)
    try:
        with open(path, "wb") as fh:
            fh.write(pem)
    except OSError as exc:
        raise UserError("trust.error.export_failed", path=path, error=exc.strerror or str(exc)) from None
    click.echo(shown(i18n.t("trust.export.written", count=len(chain), path=path)), err=True)
    click.echo(i18n.t("trust.export.warning"), err=True)


def _interpreters(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or name not in runtimes() or not path:
            raise UserError("trust.error.bad_interpreter", value=value)
        out[name] = path
    return out


@click.command("trust")
@click.argument("target", required=False, metavar="[HOST[:PORT]]")
@click.option("--runtime", "selected", multiple=True, default=("all",), show_default=True,
              type=click.Choice([*runtimes(), "all"]), help="Runtimes to ask (repeatable).")
@click.option("--ca-file", type=click.Path(), default=None,
              help="The CA file (bundle) or c_rehash directory your app is configured with.")
@click.option("--export-chain", type=click.Path(dir_okay=False), default=None,
              help="Write the certificates the server sent to this PEM file.")
@click.option("--framework", "chosen", multiple=True, type=click.Choice(list(frameworks())),
              help="Show the fix only for this framework (repeatable).")
@click.option("--interpreter", "interp", multiple=True, metavar="RUNTIME=PATH",
              help="Ask this interpreter instead of the one on PATH, e.g. ruby=/opt/app/bin/ruby.")
@click.option("--servername", default=None, help="Name to send as SNI and check against the certificate.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
              help="Deadline for fetching the server's chain, in seconds.")
@click.option("--explain-disable-verify", "explain", is_flag=True,
              help="Explain what turning verification off would expose, and why not to.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(target: str | None, selected: tuple[str, ...], ca_file: str | None, export_chain: str | None,
            chosen: tuple[str, ...], interp: tuple[str, ...], servername: str | None, timeout: float,
            explain: bool, as_json: bool) -> None:
    """Which CA store does each runtime here use, and does it trust HOST's certificate chain?"""
    if explain and not as_json:
        click.echo(i18n.t("trust.insecure.explain"))
        if target is None:
            raise SystemExit(int(ExitCode.OK))
        click.echo()
    if export_chain and not target:
        raise UserError("trust.error.export_needs_server")
    user = None
    if ca_file is not None:
        if not os.path.exists(ca_file):
            raise UserError("trust.error.ca_file_missing", path=ca_file)
        user = user_location(ca_file)
        if not user.certificates and user.unhashed:
            raise UserError("trust.note.unhashed", path=ca_file, count=user.unhashed)
        if not user.certificates:
            raise UserError("trust.error.ca_file_empty", path=ca_file)
    interpreters = _interpreters(interp)
    host_port = parse_target(target) if target else None
    names = None if "all" in selected else list(dict.fromkeys(selected))
    stores = discover(names, interpreters=interpreters)

    assessment = server = None
    if host_port is not None:
        host, port = host_port[0], host_port[1] or DEFAULT_PORT
        facts = _fetch(host, port, timeout, servername)
        assert facts.tls is not None
        if export_chain:
            _export(facts.tls.chain, export_chain)
        assessment = assess(facts.tls.chain, stores, user)
        server = Server(host, port, facts.tls.hostname, facts.tls.hostname_ok)

    result = to_json(stores, assessment, server, chosen)
    if as_json:
        if explain:
            result["disable_verify_risk"] = i18n.t("trust.insecure.explain")
        click.echo(json_inert(json.dumps(result, indent=2, ensure_ascii=False)))
    else:
        out = console()
        render_stores(out, stores)
        if assessment is not None and server is not None:
            render_assessment(out, assessment, server, chosen)
    raise SystemExit(int(ExitCode.OK if result["ok"] else ExitCode.PROBLEMS))
