"""The few SMTP-over-a-channel steps every probe stage shares: connect, read a reply, send a command, start TLS.

Each step runs under its own deadline and says which phase ran out. They live apart from ``engine`` so that
``versions``, ``session``, ``send`` and the audits can use them without importing the mode-detection race
(and so that ``engine`` ↔ ``versions`` is no import circle).
"""

from __future__ import annotations

import asyncio
import ssl

from ..facts import Outcome, TLSError
from ..smtp.dialogue import Dialogue
from ..smtp.reply import Reply
from .channel import Channel, ConnectError, TLSFailure, probe_tls_context
from .options import ProbeOptions

KEEP_FIRST = 512


class Closed(Exception):
    """The server closed the connection where a reply was due."""


class PhaseTimeout(Exception):
    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


async def receive_reply(ch: Channel, dlg: Dialogue, phase: str, first: bytearray | None = None) -> Reply:
    """The next reply, with no timer of its own (the scan's probes carry one deadline each: probe/many.py)."""
    while (reply := dlg.next_reply()) is None:
        data = await ch.read()
        if not data:
            raise Closed(phase)
        if first is not None and len(first) < KEEP_FIRST:
            first += data[: KEEP_FIRST - len(first)]
        dlg.receive(data)
    return reply


async def read_reply(ch: Channel, dlg: Dialogue, phase: str, seconds: float, first: bytearray | None = None
                      ) -> Reply:
    try:
        async with asyncio.timeout(seconds):
            return await receive_reply(ch, dlg, phase, first)
    except TimeoutError:
        raise PhaseTimeout(phase) from None


async def command(ch: Channel, dlg: Dialogue, line: str, phase: str, opts: ProbeOptions) -> Reply:
    await ch.write(dlg.command(line))
    return await read_reply(ch, dlg, phase, opts.phase(opts.command_timeout))


def sni_for(host: str, opts: ProbeOptions) -> str | None:
    name = opts.servername or host
    return None if name.replace(".", "").isdigit() or ":" in name else name


async def connect(address: str, port: int, opts: ProbeOptions) -> Channel:
    try:
        async with asyncio.timeout(opts.phase(opts.connect_timeout)):
            return await Channel.connect(address, port)
    except TimeoutError:
        raise ConnectError(Outcome.TIMEOUT, "no answer to the connection attempt") from None


async def start_tls(ch: Channel, host: str, opts: ProbeOptions, context: ssl.SSLContext | None = None) -> None:
    """The TLS handshake under its deadline; the probe's accept-anything context unless one is given."""
    try:
        async with asyncio.timeout(opts.phase(opts.tls_timeout)):
            await ch.start_tls(context or probe_tls_context(), sni_for(host, opts))
    except TimeoutError:
        raise TLSFailure(TLSError("timeout", "no answer to the TLS ClientHello")) from None
