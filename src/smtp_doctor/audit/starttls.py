"""The STARTTLS state-machine checks: command injection (with a sanity run), bytes after ``220``,
mail accepted before TLS, STARTTLS offered or accepted again inside TLS.

Why a sanity run and a reply count: the anchors that skip them (testssl.sh ``--SI``, OpenVAS NVT
103935, naive scripts) call a server vulnerable when it merely talks inside TLS on its own. Here a
server that sends anything unprompted on the clean run gets INCONCLUSIVE, never VULNERABLE.
Nothing here sends AUTH, a credential or DATA: MAIL FROM is followed by RSET.
"""

from __future__ import annotations

import asyncio
import contextlib

from ..probe.channel import Channel, ConnectError, TLSFailure
from ..probe.engine import Closed, PhaseTimeout, command, connect, read_reply, start_tls
from ..probe.options import ProbeOptions
from ..smtp.dialogue import Dialogue
from ..smtp.ehlo import parse_ehlo
from ..smtp.reply import ProtocolError, ReplyParser
from .model import InjectionResult, InjectionTry, SessionFacts, Verdict

#: Pipelined after STARTTLS: each alone makes a vulnerable server answer inside TLS before we speak.
PAYLOADS = ("NOOP", "EHLO inject.invalid", "QUIT")
#: How long to listen inside TLS before speaking: a buffering server answers at once, over loopback in
#: microseconds and over the Internet within one RTT; 1.5 s covers a slow far-away server.
LISTEN = 1.5
#: Bytes kept of anything unsolicited (enough to show the reply, bounded against a flood).
KEEP = 2048
PROBE_SENDER = "audit-probe@example.invalid"  #: RFC 2606 name: a MAIL FROM no one receives
PROBE_RECIPIENT = "postmaster"  #: RFC 5321 §4.5.1: every server knows it; never followed by DATA

_ERRORS = (ConnectError, TLSFailure, PhaseTimeout, Closed, ProtocolError, OSError)


async def _listen(ch: Channel, seconds: float) -> bytes:
    """Everything the peer sends within ``seconds`` (or until it closes), bounded by ``KEEP``."""
    got = bytearray()
    with contextlib.suppress(TimeoutError, ConnectError):
        async with asyncio.timeout(seconds):
            while len(got) < KEEP:
                data = await ch.read()
                if not data:
                    break
                got += data
    return bytes(got[:KEEP])


def _count_replies(data: bytes) -> int:
    parser = ReplyParser()
    parser.feed(data)
    count = 0
    with contextlib.suppress(ProtocolError):
        while parser.next_reply() is not None:
            count += 1
    return count


async def _greet_ehlo(ch: Channel, dlg: Dialogue, opts: ProbeOptions) -> bool:
    """Greeting and EHLO; True when the server offered STARTTLS."""
    greeting = await read_reply(ch, dlg, "greeting", opts.phase(opts.greeting_timeout))
    if greeting.code != 220:
        return False
    ehlo = await command(ch, dlg, f"EHLO {opts.ehlo_name}", "ehlo", opts)
    return ehlo.code == 250 and parse_ehlo(ehlo).starttls


async def injection_try(host: str, address: str, port: int, opts: ProbeOptions, payload: str) -> InjectionTry:
    """EHLO, then ``STARTTLS\\r\\n<payload>\\r\\n`` in ONE write, a real handshake, then listen before
    sending anything inside TLS; last, one QUIT and count the replies."""
    try:
        ch = await connect(address, port, opts)
    except ConnectError as exc:
        return InjectionTry(payload, error=exc.detail)
    dlg = Dialogue()
    try:
        if not await _greet_ehlo(ch, dlg, opts):
            return InjectionTry(payload, error="STARTTLS not offered")
        data = b"STARTTLS\r\n" + (dlg.command(payload) if payload else b"")
        dlg.note("one write: " + data.decode("ascii", "replace").replace("\r\n", "\\r\\n"))
        await ch.write(data)
        reply = await read_reply(ch, dlg, "starttls", opts.phase(opts.command_timeout))
        if reply.code != 220:
            return InjectionTry(payload, reply.code)
        dlg.restart_after_tls()  # bytes sent after 220 are the other check's subject, never replies
        try:
            await start_tls(ch, host, opts)
        except TLSFailure as exc:
            return InjectionTry(payload, 220, False, error=exc.error.message)
        unsolicited = await _listen(ch, LISTEN)
        quit_replies = None
        with contextlib.suppress(*_ERRORS):
            await ch.write(b"QUIT\r\n")
            quit_replies = _count_replies(await _listen(ch, LISTEN))
        return InjectionTry(payload, 220, True, unsolicited, quit_replies)
    except _ERRORS as exc:
        return InjectionTry(payload, error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        ch.close()


def judge_injection(sanity: InjectionTry, tries: tuple[InjectionTry, ...]) -> InjectionResult:
    """Pure: VULNERABLE only when the clean run was quiet and an injected run was not."""
    if not sanity.handshake or sanity.starttls_code != 220:
        return InjectionResult(Verdict.INCONCLUSIVE, "sanity_failed", sanity, tries)
    if sanity.unsolicited or (sanity.quit_replies or 0) > 1:
        return InjectionResult(Verdict.INCONCLUSIVE, "talks_unprompted", sanity, tries)
    if any(t.unsolicited or (t.quit_replies or 0) > 1 for t in tries):
        return InjectionResult(Verdict.VULNERABLE, "answered_injected", sanity, tries)
    if all(t.error and t.starttls_code is None for t in tries):
        return InjectionResult(Verdict.INCONCLUSIVE, "runs_failed", sanity, tries)
    return InjectionResult(Verdict.NOT_VULNERABLE, "ignored_injected", sanity, tries)


async def check_injection(host: str, address: str, port: int, opts: ProbeOptions) -> InjectionResult:
    """The sanity run and every payload, on parallel connections (one listening window in all)."""
    runs = await asyncio.gather(*(injection_try(host, address, port, opts, p) for p in ("", *PAYLOADS)))
    return judge_injection(runs[0], tuple(runs[1:]))


async def check_session(host: str, address: str, port: int, opts: ProbeOptions) -> SessionFacts:
    """MAIL FROM before TLS (then RSET), bytes arriving late after ``220``, EHLO and STARTTLS inside TLS."""
    mail_code: int | None = None
    try:
        ch = await connect(address, port, opts)
    except ConnectError as exc:
        return SessionFacts(error=exc.detail)
    dlg = Dialogue()
    try:
        starttls = await _greet_ehlo(ch, dlg, opts)
        mail_code = (await command(ch, dlg, f"MAIL FROM:<{PROBE_SENDER}>", "mail", opts)).code
        if mail_code == 250:
            await command(ch, dlg, "RSET", "rset", opts)
        if not starttls:
            return SessionFacts(mail_code)
        if (await command(ch, dlg, "STARTTLS", "starttls", opts)).code != 220:
            return SessionFacts(mail_code, error="STARTTLS refused")
        early = dlg.restart_after_tls()
        late = early + await _listen(ch, 0.3)  # a middlebox may send its trailer in a later segment
        await start_tls(ch, host, opts)
        ehlo = await command(ch, dlg, f"EHLO {opts.ehlo_name}", "ehlo_tls", opts)
        again = parse_ehlo(ehlo).starttls if ehlo.code == 250 else None
        second = (await command(ch, dlg, "STARTTLS", "starttls_again", opts)).code
        with contextlib.suppress(*_ERRORS):
            if second != 220:
                await command(ch, dlg, "QUIT", "quit", opts)
        return SessionFacts(mail_code, late, again, second)
    except _ERRORS as exc:
        return SessionFacts(mail_code, error=f"{type(exc).__name__}: {exc}"[:200])
    finally:
        ch.close()


async def check_fixation(host: str, address: str, port: int, opts: ProbeOptions) -> int | None:
    """MAIL FROM in clear, STARTTLS, EHLO, RCPT TO inside TLS: does the plaintext transaction survive?

    Its own connection: some servers refuse STARTTLS while a transaction is open, which would spoil the
    other checks. The reply code to RCPT, or None when the question cannot be asked (MAIL refused before
    TLS, as a submission port should, or STARTTLS refused mid-transaction). RSET after; never DATA.
    """
    try:
        ch = await connect(address, port, opts)
    except ConnectError:
        return None
    dlg = Dialogue()
    try:
        if not await _greet_ehlo(ch, dlg, opts):
            return None
        if (await command(ch, dlg, f"MAIL FROM:<{PROBE_SENDER}>", "mail", opts)).code != 250:
            return None
        if (await command(ch, dlg, "STARTTLS", "starttls", opts)).code != 220:
            return None
        dlg.restart_after_tls()
        await start_tls(ch, host, opts)
        await command(ch, dlg, f"EHLO {opts.ehlo_name}", "ehlo_tls", opts)
        code = (await command(ch, dlg, f"RCPT TO:<{PROBE_RECIPIENT}>", "rcpt", opts)).code
        with contextlib.suppress(*_ERRORS):
            await command(ch, dlg, "RSET", "rset", opts)
            await command(ch, dlg, "QUIT", "quit", opts)
        return code
    except _ERRORS:
        return None
    finally:
        ch.close()
