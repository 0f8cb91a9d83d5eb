"""Open an SMTP session in a mode the probe already established, ready for AUTH or MAIL.

The diagnostic probe (engine.py) records facts at every step; this is the plain path for the
actions that come after it — trying each AUTH mechanism on a fresh connection, sending a test
message — and reuses the engine's deadline-bounded I/O helpers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..facts import Mode, Outcome
from ..smtp.dialogue import Dialogue
from ..smtp.ehlo import Capabilities, parse_ehlo
from ..smtp.reply import ProtocolError, Reply
from .channel import Channel, ConnectError, TLSFailure, display_address
from .engine import Closed, PhaseTimeout, command, connect, read_reply, start_tls
from .options import ProbeOptions

#: What can end a dialogue without a reply; ``what_broke`` names each for the verdict.
BREAKS = (Closed, PhaseTimeout, TimeoutError, ProtocolError, TLSFailure, ConnectError)


def what_broke(exc: BaseException) -> str:
    """What the server did instead of replying, as an ``auth.reason.<what>`` catalogue key suffix."""
    if isinstance(exc, Closed):
        return "closed"
    if isinstance(exc, PhaseTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ProtocolError):
        return str(exc.kind)  # malformed, line_too_long, too_many_lines, nul_byte, inconsistent_codes
    if isinstance(exc, TLSFailure):
        return "tls"
    if isinstance(exc, ConnectError):
        return "reset" if exc.outcome is Outcome.RESET else "connect"
    return "broken"


class SessionBroken(Exception):
    """A set-up step ended without a reply: the server closed, reset, stalled or sent no SMTP."""

    def __init__(self, phase: str, what: str, dialogue: Dialogue) -> None:
        super().__init__(f"{phase}: {what}")
        self.phase = phase
        self.what = what
        self.dialogue = dialogue


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
    """Connect, greet, EHLO, and (for STARTTLS) upgrade and EHLO again.

    Raises ``SessionRefused`` (an error reply) or ``SessionBroken`` (no reply: closed, reset,
    timeout, not SMTP), each naming the phase, so every caller can give a verdict.
    """
    dialogue = Dialogue()
    try:
        channel = await connect(address, port, opts)
    except BREAKS as exc:
        raise SessionBroken("connect", what_broke(exc), dialogue) from None
    dialogue.note(f"connected to {display_address(address, port)}")
    phase = "tls" if mode is Mode.IMPLICIT_TLS else "greeting"
    try:
        if mode is Mode.IMPLICIT_TLS:
            await start_tls(channel, host, opts)
            phase = "greeting"
        greeting = await read_reply(channel, dialogue, phase, opts.phase(opts.greeting_timeout))
        if greeting.code != 220:
            raise SessionRefused("greeting", greeting)
        phase = "ehlo"
        ehlo = await command(channel, dialogue, f"EHLO {opts.ehlo_name}", phase, opts)
        if ehlo.code != 250:
            raise SessionRefused("ehlo", ehlo)
        if mode is Mode.STARTTLS:
            phase = "starttls"
            reply = await command(channel, dialogue, "STARTTLS", phase, opts)
            if reply.code != 220:
                raise SessionRefused("starttls", reply)
            dialogue.restart_after_tls()
            phase = "tls"
            await start_tls(channel, host, opts)
            dialogue.note("TLS established")
            phase = "ehlo_tls"
            ehlo = await command(channel, dialogue, f"EHLO {opts.ehlo_name}", phase, opts)
            if ehlo.code != 250:
                raise SessionRefused("ehlo_tls", ehlo)
    except BREAKS as exc:
        channel.close()
        raise SessionBroken(phase, what_broke(exc), dialogue) from None
    except BaseException:
        channel.close()
        raise
    return Session(channel, dialogue, parse_ehlo(ehlo), opts)

