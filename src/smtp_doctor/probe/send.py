"""Send one small test message through a session, stopping at the first phase that fails.

Like ``swaks --quit-after RCPT`` with ``dry_run``: the envelope is checked (sender and relay
permission), but no message is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..credentials import Credentials
from ..errors import UserError
from ..facts import AuthOutcome, Mode
from ..smtp.dialogue import TranscriptLine
from ..smtp.reply import Reply
from .options import ProbeOptions
from .session import BREAKS, Session, SessionBroken, SessionRefused, open_session, what_broke

#: Phases before MAIL: a refusal there is the session's, not the message's.
SESSION_PHASES = ("connect", "greeting", "ehlo", "starttls", "tls", "ehlo_tls")


@dataclass
class Delivery:
    """Replies per phase; ``failed_phase`` names where the server said no, or where it stopped
    answering (then ``broken`` says what it did: ``closed``, ``reset``, ``timeout``, ``malformed`` …)."""

    replies: dict[str, Reply] = field(default_factory=dict)
    failed_phase: str | None = None
    dry_run: bool = False
    message_id: str | None = None
    broken: str | None = None
    mechanism: str | None = None  #: the AUTH mechanism used, if any
    transcript: tuple[TranscriptLine, ...] = ()

    @property
    def queued(self) -> bool:
        return self.failed_phase is None and not self.dry_run and "data_end" in self.replies


def usable_address(address: str) -> bool:
    """An address that can go into ``MAIL FROM:<…>``/``RCPT TO:<…>`` as typed: one ``@``, no brackets,
    spaces or control characters, valid UTF-8 (SMTPUTF8), at most 256 octets (RFC 5321 §4.5.3.1.3)."""
    try:
        size = len(address.encode("utf-8"))
    except UnicodeEncodeError:  # bytes that are not UTF-8 in argv arrive as surrogates
        return False
    return "@" in address and size <= 256 and not any(
        c in "<>" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in address)


def build_message(sender: str, recipients: list[str], subject: str, server: str, version: str) -> EmailMessage:
    """The test message; an address that cannot go on the wire as typed is the user's error (exit 2)."""
    for address in (sender, *recipients):
        if not usable_address(address):
            raise UserError("send.bad_address", address=address)
    try:
        subject.encode("utf-8")
    except UnicodeEncodeError:  # --subject with bytes that are not UTF-8
        raise UserError("input.not_utf8", what="--subject") from None
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["X-Mailer"] = f"smtp-doctor {version}"
    msg.set_content(f"This is a test message sent by smtp-doctor {version} from {socket.gethostname()}\n"
                    f"through {server}, to check that this server accepts and relays mail.\n"
                    "No reply is needed.\n")
    return msg


def dot_stuffed(msg: EmailMessage) -> bytes:
    """The message as DATA wants it: CRLF line ends, leading dots doubled (RFC 5321 §4.5.2)."""
    body = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    lines = [b"." + line if line.startswith(b".") else line for line in body.split(b"\r\n")]
    return b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n.\r\n"


async def deliver(session: Session, sender: str, recipients: list[str], msg: EmailMessage, dry_run: bool
                  ) -> Delivery:
    """MAIL, RCPT…, DATA: stop at the first refusal, or at the first phase the server broke off."""
    result = Delivery(dry_run=dry_run, message_id=str(msg["Message-ID"]))
    phase = "mail"
    try:
        steps = [("mail", f"MAIL FROM:<{sender}>")] + [("rcpt", f"RCPT TO:<{r}>") for r in recipients]
        for phase, line in steps:
            reply = await session.command(line, phase)
            result.replies[phase if phase == "mail" else f"rcpt:{line[9:-1]}"] = reply
            if reply.code not in (250, 251):
                result.failed_phase = phase
                await _rset(session)
                return result
        if dry_run:
            await _rset(session)
            return result
        phase = "data"
        reply = await session.command("DATA", phase)
        result.replies["data"] = reply
        if reply.code != 354:
            result.failed_phase = "data"
            return result
        phase = "data_end"
        session.dialogue.note(f"sending the test message ({msg['Message-ID']})")
        await session.channel.write(dot_stuffed(msg))
        from .engine import read_reply

        async with asyncio.timeout(session.opts.phase(60.0)):  # RFC 5321 allows 10 min; ours is small
            reply = await read_reply(session.channel, session.dialogue, "data_end", 60.0)
        result.replies["data_end"] = reply
        if reply.code != 250:
            result.failed_phase = "data_end"
    except BREAKS as exc:
        result.failed_phase, result.broken = phase, what_broke(exc)
    return result


async def _rset(session: Session) -> None:
    """Reset after a refusal; a server that hangs up after its 5xx has already said what matters."""
    with contextlib.suppress(*BREAKS):
        await session.command("RSET", "rset")


async def send_test(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions, msg: EmailMessage,
                    sender: str, recipients: list[str], *, dry_run: bool = False,
                    creds: Credentials | None = None, mechanism: str | None = None) -> Delivery:
    """Open a session, log in with ``mechanism`` when ``creds`` are given, and deliver.

    Never raises for anything the server does: every phase ends in a ``Delivery`` that names the
    phase and either the server's reply or what it did instead (closed, reset, timeout, garbage).
    """
    from .auth import authenticate

    result = Delivery(dry_run=dry_run, message_id=str(msg["Message-ID"]), mechanism=mechanism)
    try:
        session = await open_session(host, address, port, mode, opts)
    except SessionRefused as exc:
        result.failed_phase, result.replies[exc.phase] = exc.phase, exc.reply
        return result
    except SessionBroken as exc:
        result.failed_phase, result.broken = exc.phase, exc.what
        result.transcript = tuple(exc.dialogue.transcript)
        return result
    try:
        if creds is not None and mechanism is not None:
            try:
                attempt = await authenticate(session, mechanism, creds, port)
            except BREAKS as exc:
                result.failed_phase, result.broken = "auth", what_broke(exc)
                return result
            if attempt.reply is not None:
                result.replies["auth"] = attempt.reply
            if attempt.outcome is not AuthOutcome.OK:
                result.failed_phase = "auth"
                if attempt.reason and attempt.reason.startswith("auth.reason."):
                    result.broken = attempt.reason.removeprefix("auth.reason.")
                return result
        delivered = await deliver(session, sender, recipients, msg, dry_run)
        delivered.mechanism = mechanism
        result = delivered
        return result
    finally:
        await session.quit()
        result.transcript = tuple(session.dialogue.transcript)
