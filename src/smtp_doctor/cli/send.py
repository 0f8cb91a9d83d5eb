"""``smtp-doctor send``: probe, log in, and send one test message (or stop before DATA)."""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import version

import click

from .. import probe_async
from ..credentials import AuthPolicy, Redactor
from ..diagnose.auth import delivery_findings
from ..errors import ExitCode, UserError
from ..facts import AuthOutcome, Mode
from ..findings import Finding, Severity, worst
from ..probe import DEFAULT_PORTS, ProbeOptions
from ..probe.auth import recommended
from ..probe.send import Delivery, build_message, send_test
from ..probe.session import SessionRefused
from ..render.inert import json_inert
from ..render.text import finding_block, render_port, render_transcript
from .common import build_credentials, console, credential_options, parse_port, parse_target


@click.command("send")
@click.argument("target", metavar="HOST[:PORT]")
@click.option("--from", "sender", required=True, help="Envelope sender and From: address.")
@click.option("--to", "recipients", required=True, multiple=True, help="Recipient (repeatable).")
@click.option("--subject", default="smtp-doctor test message", show_default=True)
@click.option("--dry-run", is_flag=True, help="Stop before DATA: check sender and recipients only.")
@click.option("--ports", "-p", default=None, metavar="LIST", help="Ports to consider (default 587,465,25).")
@click.option("--ca-file", type=click.Path(exists=True), default=None, help="Extra CA bundle to trust.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True)
@click.option("--transcript", is_flag=True, help="Show the dialogue (credentials masked).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@credential_options
def command(target: str, sender: str, recipients: tuple[str, ...], subject: str, dry_run: bool, ports: str | None,
            ca_file: str | None, timeout: float, transcript: bool, as_json: bool, user: str | None,
            password_env: str | None, password_file: str | None, oauth_token_env: str | None,
            allow_cleartext_credentials: bool, allow_unverified_tls_credentials: bool) -> None:
    """Send one small test message through HOST, stopping at the first phase that fails."""
    for address in (sender, *recipients):
        if "@" not in address or any(c in address for c in "<>\r\n "):
            raise UserError("send.bad_address", address=address)
    host, port = parse_target(target)
    candidates = [port] if port else ([parse_port(p.strip()) for p in ports.split(",")] if ports else
                                      list(DEFAULT_PORTS))
    creds = build_credentials(host, user, password_env, password_file, oauth_token_env)
    redact = Redactor([creds] if creds else [])
    policy = AuthPolicy(allow_cleartext_credentials, allow_unverified_tls_credentials)
    opts = ProbeOptions(timeout=timeout, ca_file=ca_file, greeting_timeout=min(20.0, timeout))

    async def run() -> tuple[object, Delivery | None, list[Finding], object]:
        report = await probe_async(host, candidates, opts, creds, policy)
        usable = [d for d in report.ports if d.facts.mode in (Mode.IMPLICIT_TLS, Mode.STARTTLS, Mode.PLAINTEXT)
                  and (d.usable_as or (creds is None and d.facts.mode is not Mode.PLAINTEXT))]
        if creds is not None:
            usable = [d for d in report.ports if any(a.outcome is AuthOutcome.OK for a in d.facts.auth_attempts)]
        if not usable:
            return report, None, [Finding("send.no_usable_port", Severity.ERROR, {"host": host})], None
        chosen = usable[0]
        f = chosen.facts
        assert f.address is not None
        msg = build_message(sender, list(recipients), subject, f"{host}:{f.port}", version("smtp-doctor"))
        delivery = await send_test(host, f.address, f.port, f.mode, opts, msg, sender, list(recipients),
                                   dry_run=dry_run, creds=creds,
                                   mechanism=recommended(f.auth_attempts) if creds is not None else None)
        session = delivery.transcript
        return report, delivery, delivery_findings(delivery, f"{host}:{f.port}"), session

    try:
        report, delivery, findings, session = asyncio.run(run())
    except SessionRefused as exc:
        raise UserError("send.session_refused", exit_code=ExitCode.PROBLEMS, phase=exc.phase,
                        reply=" ".join(exc.reply.wire())[:200]) from None
    out = console(redact=redact)
    if as_json:
        doc = {"host": host, "delivery": None if delivery is None else {
            "failed_phase": delivery.failed_phase, "broken": delivery.broken, "dry_run": delivery.dry_run,
            "queued": delivery.queued, "message_id": delivery.message_id,
            "replies": {k: {"code": r.code, "lines": list(r.lines)} for k, r in delivery.replies.items()}},
            "findings": [x.to_dict() for x in findings]}
        click.echo(json_inert(redact(json.dumps(doc, indent=2, ensure_ascii=False))))
    else:
        for d in report.ports:  # type: ignore[attr-defined]
            render_port(out, d, transcript=False)
        for finding in findings:
            finding_block(out, finding, indent="")
        if transcript and session is not None:
            render_transcript(out, session)  # type: ignore[arg-type]
    ok = delivery is not None and delivery.failed_phase is None
    if not report.reachable:  # type: ignore[attr-defined]
        raise SystemExit(int(ExitCode.UNREACHABLE))
    raise SystemExit(int(ExitCode.OK if ok and worst(findings) is not Severity.ERROR else ExitCode.PROBLEMS))
