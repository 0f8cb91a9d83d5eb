"""Probe one SMTP port: what does it speak, what does it offer, what certificate does it show.

Mode detection races two connections: one waits for a plaintext greeting, the other starts a TLS
handshake at once. Whichever gets positive evidence first decides: a completed handshake means
implicit TLS, a ``220`` means plaintext SMTP. A wrong-mode port is therefore identified in about
one round trip plus one handshake, never after a read timeout, and a slow greeting (greet-pause)
is simply waited for on the plaintext side while the TLS side fails on the plaintext it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..facts import Mode, Outcome, PortFacts, TLSFacts, Verification
from ..smtp.dialogue import Dialogue
from ..smtp.ehlo import parse_ehlo
from ..smtp.reply import ProtocolError, Reply, looks_like_smtp
from ..x509.hostname import match_hostname
from ..x509.verify import cert_info_cached, certifi_source, system_source, user_source, verify_chain, verify_known
from .channel import Channel, ConnectError, TLSFailure, display_address
from .options import ProbeOptions
from .wire import KEEP_FIRST, Closed, PhaseTimeout, command, connect, read_reply, sni_for, start_tls

__all__ = ["KEEP_FIRST", "Closed", "PhaseTimeout", "command", "connect", "probe_port", "read_reply", "sni_for",
           "start_tls"]


@dataclass
class _Plain:
    channel: Channel | None = None
    dialogue: Dialogue | None = None
    greeting: Reply | None = None
    greeting_seconds: float | None = None
    first: bytes = b""
    failure: BaseException | None = None


@dataclass
class _TLS:
    channel: Channel | None = None
    dialogue: Dialogue | None = None
    failure: BaseException | None = None


async def _open_plain(address: str, port: int, opts: ProbeOptions, out: _Plain) -> None:
    out.channel = await connect(address, port, opts)
    out.dialogue = Dialogue()
    out.dialogue.note(f"connected to {display_address(address, port)} (plaintext)")
    first = bytearray()
    started = time.monotonic()
    try:
        out.greeting = await read_reply(out.channel, out.dialogue, "greeting",
                                         opts.phase(opts.greeting_timeout), first)
        out.greeting_seconds = round(time.monotonic() - started, 3)
    finally:
        out.first = bytes(first)


async def _open_tls(address: str, port: int, host: str, opts: ProbeOptions, out: _TLS, delay: float = 0.0) -> None:
    if delay:  # scan mode: a healthy plaintext port greets within this, and the race never opens its socket
        await asyncio.sleep(delay)
    out.channel = await connect(address, port, opts)
    out.dialogue = Dialogue()
    out.dialogue.note(f"connected to {display_address(address, port)}; TLS handshake at once (implicit TLS)")
    await start_tls(out.channel, host, opts)
    out.dialogue.note("TLS established")


async def _tls_facts(ch: Channel, host: str, opts: ProbeOptions,
                     verdicts: Callable[[tuple[bytes, ...]], Awaitable[tuple[Verification, ...]]] | None = None
                     ) -> TLSFacts:
    """TLS parameters and the chain as sent, verified offline against every trust source.

    Verification loads whole trust stores (hundreds of files the first time), so it runs in a
    worker thread: the other ports' probes, racing on the same event loop, must not stall.
    ``verdicts``: a scan's own per-run cache (probe/many.py), which skips the per-probe store lookups.
    """
    obj = ch.tls_object
    assert obj is not None
    chain: tuple[bytes, ...]
    try:  # the chain exactly as sent (public API from Python 3.13, present in _ssl since 3.10)
        chain = tuple(c.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
                      for c in obj._sslobj.get_unverified_chain() or ())  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - other Python builds: the leaf only
        leaf = obj.getpeercert(binary_form=True)
        chain = (leaf,) if leaf else ()
    name, _, bits = obj.cipher() or ("", "", None)
    certs = tuple(cert_info_cached(der) for der in chain)
    reference = opts.servername or host
    if verdicts is not None:
        verifications = await verdicts(chain) if chain else ()
    else:
        sources = [system_source(), certifi_source()] + ([user_source(opts.ca_file)] if opts.ca_file else [])
        verifications = (verify_known(chain, sources) or tuple(
            await asyncio.to_thread(lambda: [verify_chain(chain, s) for s in sources]))) if chain else ()
    matched, via_cn = match_hostname(certs[0], reference) if certs else (None, False)
    return TLSFacts(obj.version() or "", name, bits, chain, certs, verifications, reference, matched, via_cn,
                    sni_for(host, opts))


def _note_failure(facts: PortFacts, exc: BaseException, phase: str) -> None:
    """Record why a dialogue stopped; every hostile behaviour ends up here, not in a traceback."""
    if isinstance(exc, PhaseTimeout):
        facts.timed_out = exc.phase
    elif isinstance(exc, Closed):
        facts.closed_at = str(exc)
    elif isinstance(exc, ProtocolError):
        facts.protocol_error, facts.protocol_error_phase = str(exc.kind), phase
    elif isinstance(exc, TLSFailure):
        facts.tls_error = exc.error
    elif isinstance(exc, ConnectError):
        facts.closed_at = phase


async def _session(facts: PortFacts, ch: Channel, dlg: Dialogue, host: str, opts: ProbeOptions,
                   implicit: bool) -> None:
    """After the mode is known: EHLO, STARTTLS when offered, EHLO again, QUIT."""
    phase = "greeting"
    try:
        if implicit:
            first = bytearray()
            started = time.monotonic()
            try:
                facts.greeting = await read_reply(ch, dlg, "greeting", opts.phase(opts.greeting_timeout), first)
                facts.greeting_seconds = round(time.monotonic() - started, 3)
            except (PhaseTimeout, Closed, ProtocolError):
                facts.mode = Mode.TLS_NOT_SMTP
                facts.first_bytes = bytes(first)
                raise
        assert facts.greeting is not None
        if facts.greeting.code != 220:
            return
        phase = "ehlo"
        ehlo = await command(ch, dlg, f"EHLO {opts.ehlo_name}", phase, opts)
        if implicit:
            facts.ehlo_tls = parse_ehlo(ehlo) if ehlo.code == 250 else None
        else:
            facts.ehlo_reply_plain = ehlo
            facts.ehlo_plain = parse_ehlo(ehlo) if ehlo.code == 250 else None
            facts.mode = Mode.STARTTLS if facts.ehlo_plain and facts.ehlo_plain.starttls else Mode.PLAINTEXT
            if facts.mode is Mode.STARTTLS:
                phase = "starttls"
                facts.starttls_reply = await command(ch, dlg, "STARTTLS", phase, opts)
                if facts.starttls_reply.code != 220:
                    return
                facts.bytes_after_starttls = dlg.restart_after_tls()
                if facts.bytes_after_starttls:
                    dlg.note(f"discarded {len(facts.bytes_after_starttls)} bytes sent after 220 (before TLS)")
                phase = "tls"
                await start_tls(ch, host, opts)
                dlg.note("TLS established")
                facts.tls = await _tls_facts(ch, host, opts)
                phase = "ehlo_tls"
                ehlo = await command(ch, dlg, f"EHLO {opts.ehlo_name}", phase, opts)
                facts.ehlo_tls = parse_ehlo(ehlo) if ehlo.code == 250 else None
        phase = "quit"
        with contextlib.suppress(Exception):
            await ch.write(dlg.command("QUIT"))
            await read_reply(ch, dlg, "quit", min(2.0, opts.command_timeout))
    except (PhaseTimeout, Closed, ProtocolError, TLSFailure, ConnectError) as exc:
        _note_failure(facts, exc, phase)


async def probe_port(host: str, addresses: tuple[str, ...], port: int, opts: ProbeOptions,
                     race_delay: float = 0.0) -> PortFacts:
    """Probe ``port`` on the first of ``addresses`` that accepts a connection.

    ``race_delay`` > 0 starts the implicit-TLS side only when no greeting came within it: one connection
    per healthy port instead of two, which is what a fleet scan needs (half the load on every server).
    """
    facts = PortFacts(host, port)
    started = time.monotonic()
    try:
        async with asyncio.timeout(opts.timeout):
            for address in addresses[:4]:
                facts.address = address
                facts.outcome = Outcome.CONNECTED
                await _probe_address(facts, address, host, port, opts, started, race_delay)
                if facts.outcome not in (Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.TIMEOUT):
                    break
    except TimeoutError:
        facts.timed_out = facts.timed_out or "total"
    facts.total_seconds = round(time.monotonic() - started, 4)
    return facts


async def _probe_address(facts: PortFacts, address: str, host: str, port: int, opts: ProbeOptions,
                         started: float, race_delay: float = 0.0) -> None:
    plain, tls = _Plain(), _TLS()
    tasks: dict[asyncio.Task[None], _Plain | _TLS] = {
        asyncio.create_task(_open_plain(address, port, opts, plain)): plain,
        asyncio.create_task(_open_tls(address, port, host, opts, tls, race_delay)): tls,
    }
    winner: _Plain | _TLS | None = None
    try:
        pending = set(tasks)
        while pending and winner is None:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                side = tasks[task]
                side.failure = task.exception()
                if side.failure is None:
                    winner = side
                elif isinstance(side.failure, ConnectError) and side.channel is None:
                    facts.outcome, facts.outcome_detail = side.failure.outcome, side.failure.detail
                    return
            if winner is None and tls.failure is not None and isinstance(tls.failure, TLSFailure):
                got = tls.failure.error.received
                if got and not looks_like_smtp(got) and not (plain.first and looks_like_smtp(plain.first)):
                    break  # it answered our ClientHello with neither TLS nor SMTP: identified
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        facts.detect_seconds = round(time.monotonic() - started, 4)
        for side in (plain, tls):
            if side is not winner and side.channel is not None:
                side.channel.close()

    if isinstance(tls.failure, TLSFailure):
        facts.tls_error = tls.failure.error
    facts.first_bytes = plain.first
    if winner is plain:
        assert plain.channel and plain.dialogue
        facts.greeting, facts.greeting_seconds = plain.greeting, plain.greeting_seconds
        facts.mode = Mode.PLAINTEXT
        plain.dialogue.note("plaintext greeting received first: not implicit TLS")
        facts.tls_error = None  # the TLS attempt failed because the port is plaintext: expected
        await _session(facts, plain.channel, plain.dialogue, host, opts, implicit=False)
        facts.transcript = plain.dialogue.transcript
        plain.channel.close()
    elif winner is tls:
        assert tls.channel and tls.dialogue
        facts.mode = Mode.IMPLICIT_TLS
        facts.tls = await _tls_facts(tls.channel, host, opts)
        await _session(facts, tls.channel, tls.dialogue, host, opts, implicit=True)
        facts.transcript = tls.dialogue.transcript
        tls.channel.close()
    else:
        _undetected(facts, plain, tls)
    if opts.tls_versions and facts.tls is not None and facts.mode in (Mode.STARTTLS, Mode.IMPLICIT_TLS):
        from .versions import tls_versions

        facts.tls_versions = await tls_versions(host, address, port, facts.mode, opts)


def _undetected(facts: PortFacts, plain: _Plain, tls: _TLS) -> None:
    """Neither side got positive evidence: say what the port did instead."""
    received = tls.failure.error.received if isinstance(tls.failure, TLSFailure) else b""
    if plain.dialogue is not None:
        facts.transcript = plain.dialogue.transcript
    _note_failure(facts, plain.failure or TimeoutError(), "greeting")
    if isinstance(plain.failure, PhaseTimeout) and looks_like_smtp(plain.first):
        facts.mode = Mode.PLAINTEXT  # it is SMTP, just too slow: a tarpit or a drip-feeding server
    elif isinstance(plain.failure, ProtocolError) or (plain.first and not looks_like_smtp(plain.first)):
        facts.mode = Mode.NOT_SMTP
    elif received and not looks_like_smtp(received):
        facts.mode = Mode.NOT_SMTP
        facts.first_bytes = facts.first_bytes or received
    elif isinstance(plain.failure, Closed) and isinstance(tls.failure, TLSFailure) and (
            tls.failure.error.kind in ("closed", "reset")) or isinstance(plain.failure, Closed):
        facts.mode = Mode.CLOSED
    elif isinstance(plain.failure, ConnectError):
        facts.mode = Mode.CLOSED
        facts.closed_at = "greeting"
    else:
        facts.mode = Mode.SILENT
        facts.timed_out = facts.timed_out or "greeting"
