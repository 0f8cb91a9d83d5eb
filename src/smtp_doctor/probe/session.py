"""Open an SMTP session in a mode the probe already established, ready for AUTH or MAIL.

The diagnostic probe (engine.py) records facts at every step; this is the plain path for the
actions that come after it — trying each AUTH mechanism on a fresh connection, sending a test
message — and reuses the engine's deadline-bounded I/O helpers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..facts import Mode
from ..smtp.dialogue import Dialogue
from ..smtp.ehlo import Capabilities, parse_ehlo
from ..smtp.reply import Reply
from .channel import Channel
from .engine import command, connect, read_reply, start_tls
from .options import ProbeOptions


class SessionRefused(Exception):
    """The server answered a set-up step with an error reply."""

    def __init__(self, phase: str, reply: Reply) -> None:
        super().__init__(f"{phase}: {reply.code}")
        self.phase = phase
        self.reply = reply


@dataclass
class Session:
    channel: Channel
    dialogue: Dialogue
    capabilities: Capabilities
    opts: ProbeOptions

    async def command(self, line: str, phase: str, shown: str | None = None) -> Reply:
        await self.channel.write(self.dialogue.command(line, shown=shown))
        return await read_reply(self.channel, self.dialogue, phase, self.opts.phase(self.opts.command_timeout))

    async def quit(self) -> None:
        try:
            async with asyncio.timeout(2):
                await self.command("QUIT", "quit")
        except Exception:  # noqa: BLE001 - a goodbye that fails changes nothing
            pass
        self.channel.close()


async def open_session(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions) -> Session:
    """Connect, greet, EHLO, and (for STARTTLS) upgrade and EHLO again."""
    channel = await connect(address, port, opts)
    dialogue = Dialogue()
    try:
        if mode is Mode.IMPLICIT_TLS:
            await start_tls(channel, host, opts)
        greeting = await read_reply(channel, dialogue, "greeting", opts.phase(opts.greeting_timeout))
        if greeting.code != 220:
            raise SessionRefused("greeting", greeting)
        ehlo = await command(channel, dialogue, f"EHLO {opts.ehlo_name}", "ehlo", opts)
        if ehlo.code != 250:
            raise SessionRefused("ehlo", ehlo)
        if mode is Mode.STARTTLS:
            reply = await command(channel, dialogue, "STARTTLS", "starttls", opts)
            if reply.code != 220:
                raise SessionRefused("starttls", reply)
            dialogue.restart_after_tls()
            await start_tls(channel, host, opts)
            dialogue.note("TLS established")
            ehlo = await command(channel, dialogue, f"EHLO {opts.ehlo_name}", "ehlo_tls", opts)
            if ehlo.code != 250:
                raise SessionRefused("ehlo_tls", ehlo)
    except BaseException:
        channel.close()
        raise
    return Session(channel, dialogue, parse_ehlo(ehlo), opts)
