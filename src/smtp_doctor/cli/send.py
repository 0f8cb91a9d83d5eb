"""``smtp-doctor send``: probe, log in, and send one test message (or stop before DATA)."""

from __future__ import annotations

import json

import click

from .common import credential_options


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
    from ..api import send
    from ..credentials import AuthPolicy, Redactor
    from ..errors import UserError
    from ..render.inert import json_inert
    from ..render.text import finding_block, render_port, render_transcript
    from .common import build_credentials, console, parse_port, parse_target

    for address in (sender, *recipients):  # before a password is asked for
        if "@" not in address or any(c in address for c in "<>\r\n "):
            raise UserError("send.bad_address", address=address)
    host, port = parse_target(target)
    candidates = None if port else ([parse_port(p.strip()) for p in ports.split(",")] if ports else None)
    creds = build_credentials(host, user, password_env, password_file, oauth_token_env)
    redact = Redactor([creds] if creds else [])
    policy = AuthPolicy(allow_cleartext_credentials, allow_unverified_tls_credentials)
    result = send(target, sender, recipients, subject=subject, dry_run=dry_run, ports=candidates, ca_file=ca_file,
                  timeout=timeout, credentials=creds, policy=policy)
    delivery = result.delivery
    out = console(redact=redact)
    if as_json:
        doc = {"host": host, "delivery": None if delivery is None else {
            "failed_phase": delivery.failed_phase, "broken": delivery.broken, "dry_run": delivery.dry_run,
            "queued": delivery.queued, "message_id": delivery.message_id,
            "replies": {k: {"code": r.code, "lines": list(r.lines)} for k, r in delivery.replies.items()}},
            "findings": [x.to_dict() for x in result.findings]}
        click.echo(json_inert(redact(json.dumps(doc, indent=2, ensure_ascii=False))))
    else:
        for d in result.report.ports:
            render_port(out, d, transcript=False)
        for finding in result.findings:
            finding_block(out, finding, indent="")
        if transcript and delivery is not None:
            render_transcript(out, delivery.transcript)
    raise SystemExit(int(result.exit_code))
