"""Send one small test message through a session, stopping at the first phase that fails.

Like ``swaks --quit-after RCPT`` with ``dry_run``: the envelope is checked (sender and relay
permission), but no message is queued.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..smtp.reply import Reply
from .session import Session


@dataclass
class Delivery:
    """Replies per phase; ``failed_phase`` names where the server said no."""

    replies: dict[str, Reply] = field(default_factory=dict)
    failed_phase: str | None = None
    dry_run: bool = False
    message_id: str | None = None

    @property
    def queued(self) -> bool:
        return self.failed_phase is None and not self.dry_run and "data_end" in self.replies


def build_message(sender: str, recipients: list[str], subject: str, server: str, version: str) -> EmailMessage:
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
    result = Delivery(dry_run=dry_run, message_id=str(msg["Message-ID"]))
    steps = [("mail", f"MAIL FROM:<{sender}>")] + [("rcpt", f"RCPT TO:<{r}>") for r in recipients]
    for phase, line in steps:
        reply = await session.command(line, phase)
        result.replies[phase if phase == "mail" else f"rcpt:{line[9:-1]}"] = reply
        if reply.code not in (250, 251):
            result.failed_phase = phase
            await session.command("RSET", "rset")
            return result
    if dry_run:
        await session.command("RSET", "rset")
        return result
    reply = await session.command("DATA", "data")
    result.replies["data"] = reply
    if reply.code != 354:
        result.failed_phase = "data"
        return result
    session.dialogue.note(f"sending the test message ({msg['Message-ID']})")
    await session.channel.write(dot_stuffed(msg))
    from .engine import read_reply

    async with asyncio.timeout(session.opts.phase(60.0)):  # RFC 5321 allows 10 min; ours is small
        reply = await read_reply(session.channel, session.dialogue, "data_end", 60.0)
    result.replies["data_end"] = reply
    if reply.code != 250:
        result.failed_phase = "data_end"
    return result
