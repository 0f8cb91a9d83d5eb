"""``smtp-doctor trust [HOST[:PORT]]``: which CA store each runtime uses, and does it trust the server."""

from __future__ import annotations

import json

import click

from .. import i18n
from ..errors import ExitCode, UserError
from ..trust.knowledge import frameworks, runtimes


def _export(chain: tuple[bytes, ...], path: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from ..render.inert import shown

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
    from ..api import trust
    from ..render.inert import json_inert
    from ..trust.report import render_assessment, render_stores, to_json
    from .common import console

    if explain and not as_json:
        click.echo(i18n.t("trust.insecure.explain"))
        if target is None:
            raise SystemExit(int(ExitCode.OK))
        click.echo()
    if export_chain and not target:
        raise UserError("trust.error.export_needs_server")
    result = trust(target, runtimes=selected, ca_file=ca_file, interpreters=_interpreters(interp),
                   servername=servername, timeout=timeout)
    if export_chain:
        _export(result.chain, export_chain)
    doc = to_json(result.stores, result.assessment, result.server, chosen)
    if as_json:
        if explain:
            doc["disable_verify_risk"] = i18n.t("trust.insecure.explain")
        click.echo(json_inert(json.dumps(doc, indent=2, ensure_ascii=False)))
    else:
        out = console()
        render_stores(out, result.stores)
        if result.assessment is not None and result.server is not None:
            render_assessment(out, result.assessment, result.server, chosen)
    raise SystemExit(int(ExitCode.OK if doc["ok"] else ExitCode.PROBLEMS))
