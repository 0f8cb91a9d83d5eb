"""Hostile and broken servers: everything a probe must survive without hanging or a traceback.

Each behaviour is a small asyncio stream handler. All of them are bounded: they stop talking
after a fixed amount of data or time even if the client keeps listening.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .certs import LabPKI

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
#: No hostile connection lives longer than this, whatever the client does.
MAX_LIFETIME = 90.0

EHLO_STARTTLS = b"250-hostile.lab\r\n250-PIPELINING\r\n250 STARTTLS\r\n"


async def _line(reader: asyncio.StreamReader) -> bytes:
    return await reader.readline()


async def _up_to_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: bytes,
                          ready: bytes = b"220 2.0.0 Ready to start TLS\r\n") -> None:
    """Greet, answer EHLO offering STARTTLS, and answer STARTTLS with ``ready``: the common preamble
    of every server that misbehaves around the upgrade."""
    writer.write(b"220 " + name + b" ESMTP\r\n")
    await _line(reader)
    writer.write(EHLO_STARTTLS)
    await _line(reader)
    writer.write(ready)
    await writer.drain()


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST instead of a FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(MAX_LIFETIME)


async def one_byte_per_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for byte in b"220 drip.lab ESMTP one byte per second\r\n":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1.0)


async def endless_multiline(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for i in range(200_000):
        writer.write(b"220-endless.lab still greeting you, line %d\r\n" % i)
        await writer.drain()


async def huge_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 " + b"A" * 1_000_000 + b"\r\n")
    await writer.drain()
    await asyncio.sleep(5)


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(random.Random(4).randbytes(4096))
    await writer.drain()
    await asyncio.sleep(5)


async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)
    writer.write(b"HTTP/1.1 400 Bad Request\r\nServer: lab-nginx\r\nContent-Length: 0\r\n"
                 b"Connection: close\r\n\r\n")
    await writer.drain()


#: Dovecot's IMAP greeting (RFC 9051 §7.1.1 "* OK"): the server a user meets who gave the IMAP port, 143 or 993
IMAP_GREETING = (b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] "
                 b"Dovecot (Debian) ready.\r\n")


async def imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An IMAP server: greets first, as SMTP does, in words an SMTP client cannot read; answers a few lines
    with Dovecot's BAD, then closes."""
    writer.write(IMAP_GREETING)
    await writer.drain()
    for _ in range(4):
        line = await reader.readline()
        if not line:
            return
        tag = line.split(b" ", 1)[0].strip()[:20] or b"*"
        writer.write(tag + b" BAD Error in IMAP command received by server.\r\n")
        await writer.drain()


async def close_on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return


async def close_after_greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 closer.lab ESMTP\r\n")
    await writer.drain()


async def close_after_ehlo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 closer.lab ESMTP\r\n")
    await _line(reader)


async def close_after_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _up_to_starttls(reader, writer, b"closer.lab")


async def busy_421(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"421 4.3.2 busy.lab Service not available, closing transmission channel\r\n")
    await writer.drain()


async def reset_mid_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _up_to_starttls(reader, writer, b"reset.lab")
    await reader.read(1)  # the first byte of the ClientHello
    _rst(writer)


async def starttls_then_plaintext(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _up_to_starttls(reader, writer, b"liar.lab")
    await reader.read(4096)
    writer.write(b"250 liar.lab still speaking plaintext\r\n")
    await writer.drain()
    await asyncio.sleep(3)


async def invalid_utf8(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 caf\xe9.lab ESMTP \xff\xfe\r\n")
    await _line(reader)
    writer.write(b"250-caf\xe9.lab\r\n250 8BITMIME\r\n")
    await _line(reader)
    writer.write(b"221 bye\r\n")
    await writer.drain()


async def nul_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 nul\x00.lab ESMTP\r\n")
    await writer.drain()
    await asyncio.sleep(3)


def _tls_handlers(pki: LabPKI) -> dict[str, Handler]:
    async def tls_not_smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await writer.start_tls(pki.server_context("good"))
        await asyncio.sleep(MAX_LIFETIME)  # an HTTPS-like server: waits for a request, never greets

    async def imaps(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """IMAP over implicit TLS (993) with the lab's good certificate: the handshake succeeds, the greeting is
        IMAP's."""
        await writer.start_tls(pki.server_context("good"))
        await imap(reader, writer)

    async def starttls_injection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Sends a fake reply right after 220 (response injection) — the client must discard it."""
        await _up_to_starttls(reader, writer, b"inject.lab",
                              b"220 2.0.0 Ready to start TLS\r\n250-inject.lab\r\n250 AUTH PLAIN LOGIN\r\n")
        await writer.start_tls(pki.server_context("good"))
        await _line(reader)
        writer.write(b"250-inject.lab\r\n250 8BITMIME\r\n")
        await writer.drain()
        await _line(reader)
        writer.write(b"221 bye\r\n")
        await writer.drain()

    return {"tls-not-smtp": tls_not_smtp, "starttls-injection": starttls_injection, "imaps": imaps}


HANDLERS: dict[str, Handler] = {
    "silent": silent,
    "one-byte-per-second": one_byte_per_second,
    "endless-multiline": endless_multiline,
    "huge-line": huge_line,
    "garbage": garbage,
    "http": http,
    "close-on-connect": close_on_connect,
    "close-after-greeting": close_after_greeting,
    "close-after-ehlo": close_after_ehlo,
    "close-after-starttls": close_after_starttls,
    "busy-421": busy_421,
    "reset-mid-handshake": reset_mid_handshake,
    "starttls-then-plaintext": starttls_then_plaintext,
    "invalid-utf8": invalid_utf8,
    "nul-bytes": nul_bytes,
    "imap": imap,
}


async def start(name: str, pki: LabPKI, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    handler = {**HANDLERS, **_tls_handlers(pki)}[name]

    async def bounded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(MAX_LIFETIME):
                await handler(reader, writer)
        except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the lab is shutting down: end quietly
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    return await asyncio.start_server(bounded, host, port)


# ---- scripted servers: a normal SMTP dialogue that turns hostile at one chosen command ----------------------

@dataclass(frozen=True)
class Script:
    """Speak SMTP normally until the command ``at`` (``EHLO``, ``AUTH``, ``MAIL``, ``RCPT``, ``DATA``, or ``.``
    for the end of the message), then do ``action``: ``close``, ``reset``, ``reply`` (send ``reply``, then
    close if ``then_close``), ``answer`` (send ``reply`` and go on with the dialogue, as a real server does
    after a refusal), ``endless`` (334 challenges for ever) or ``huge`` (a 20 MB challenge line).
    ``ehlo`` is the EHLO reply's lines after the first; STARTTLS is offered when the lab PKI is given."""

    at: str = ""
    action: str = "close"
    reply: bytes = b""
    then_close: bool = False
    ehlo: tuple[bytes, ...] = (b"AUTH PLAIN", b"8BITMIME")
    greeting: bytes = b"220 script.lab ESMTP\r\n"


SCRIPTS: dict[str, Script] = {
    "ehlo-unicode-size": Script(ehlo=(b"SIZE \xc2\xb2", b"AUTH PLAIN", b"8BITMIME")),
    "ehlo-bad-keywords": Script(ehlo=(b"SIZE 10MB", b"\xe2\x91\xa0TURBO", b"=x", b"AUTH PLAIN")),
    "ehlo-300-lines": Script(ehlo=tuple(b"X-EXT-%d" % i for i in range(300)) + (b"AUTH PLAIN",)),
    "unicode-digit-code": Script("MAIL", "reply", "\uff12\uff15\uff10 ok\r\n".encode()),
    "greeting-garbage": Script(greeting=b"hello, I am not SMTP\r\n"),
    "ehlo-close": Script("EHLO", "close"),
    "starttls-reset": Script("STARTTLS", "reset"),
    "auth-close": Script("AUTH", "close"),
    "auth-reset": Script("AUTH", "reset"),
    "auth-malformed": Script("AUTH", "reply", b"this is not an SMTP reply\r\n"),
    "auth-250": Script("AUTH", "reply", b"250 2.0.0 fine\r\n"),
    "auth-endless-challenges": Script("AUTH", "endless"),
    "auth-huge-challenge": Script("AUTH", "huge"),
    "mail-close": Script("MAIL", "close"),
    "mail-reset": Script("MAIL", "reset"),
    "rcpt-close": Script("RCPT", "close"),
    "rcpt-malformed": Script("RCPT", "reply", b"2x0 what\r\n"),
    "rcpt-refuse-close": Script("RCPT", "reply", b"550 5.7.1 relay denied\r\n", then_close=True),
    "data-close": Script("DATA", "close"),
    "data-reset": Script("DATA", "reset"),
    "data-end-close": Script(".", "close"),
    "data-end-malformed": Script(".", "reply", b"\x00\x00\r\n"),
    "data-end-inconsistent": Script(".", "reply", b"250-queued\r\n550 no\r\n"),
    # Postfix's own words (smtpd.c, smtpd_check.c) for a broken cert/key, an RBL hit and an open-relay refusal
    "starttls-454": Script("STARTTLS", "answer", b"454 4.7.0 TLS not available due to local problem\r\n",
                           greeting=b"220 mx.lab.example ESMTP Postfix (Debian/GNU)\r\n"),
    "rcpt-dnsbl": Script("RCPT", "answer", b"554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                         b"zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1\r\n",
                         greeting=b"220 mx.lab.example ESMTP Postfix (Debian/GNU)\r\n"),
    "rcpt-relay-denied": Script("RCPT", "answer", b"554 5.7.1 <rcpt@example.com>: Relay access denied\r\n",
                                greeting=b"220 mx.lab.example ESMTP Postfix (Debian/GNU)\r\n"),
}

#: How many command lines (message lines included) one scripted connection reads at most.
_MAX_SCRIPT_LINES = 2000


async def _hostile_action(script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if script.action == "reset":
        _rst(writer)
    elif script.action == "reply":
        writer.write(script.reply)
        await writer.drain()
        if not script.then_close:
            await asyncio.sleep(MAX_LIFETIME)
    elif script.action == "endless":
        for i in range(100_000):
            writer.write(b"334 " + base64.b64encode(b"more, please %d" % i) + b"\r\n")
            await writer.drain()
            if not await reader.readline():
                return
    elif script.action == "huge":
        writer.write(b"334 ")
        for _ in range(20):
            writer.write(b"QUFB" * (1 << 18))  # 1 MiB a round, 20 MiB in all
            await writer.drain()
        writer.write(b"\r\n")
        await writer.drain()


async def scripted(script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   pki: LabPKI | None = None) -> None:
    """One connection of a scripted server (bounded in lines read and, by ``start``, in time)."""
    writer.write(script.greeting)
    tls, in_data, no_rcpt = False, False, False
    for _ in range(_MAX_SCRIPT_LINES):
        await writer.drain()
        line = await reader.readline()
        if not line:
            return
        if in_data:
            if line.rstrip(b"\r\n") != b".":
                continue
            in_data, verb = False, "."
        else:
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper().decode("ascii", "replace")
        if verb == script.at and not (verb == "EHLO" and pki is not None and not tls):
            if script.action == "answer":  # a refused RCPT leaves no recipient: DATA is refused, as Postfix does
                writer.write(script.reply)
                no_rcpt = verb == "RCPT"
                continue
            await _hostile_action(script, reader, writer)
            return
        if verb == "DATA" and no_rcpt:
            writer.write(b"554 5.5.1 Error: no valid recipients\r\n")
            continue
        if verb in ("EHLO", "HELO"):
            plain_only = pki is not None and not tls  # AUTH only inside TLS, as a server should
            extra = tuple(x for x in script.ehlo if not (plain_only and x.startswith(b"AUTH"))) + (
                (b"STARTTLS",) if plain_only else ())
            writer.write(b"".join(b"250-" + x + b"\r\n" for x in (b"script.lab",) + extra[:-1])
                         + b"250 " + (extra[-1] if extra else b"") + b"\r\n")
        elif verb == "STARTTLS" and pki is not None and not tls:
            writer.write(b"220 2.0.0 go ahead\r\n")
            await writer.drain()
            await writer.start_tls(pki.server_context("good"))
            tls = True
        else:
            writer.write({"AUTH": b"235 2.7.0 ok\r\n", "DATA": b"354 go ahead\r\n", ".": b"250 2.0.0 queued\r\n",
                          "QUIT": b"221 bye\r\n"}.get(verb, b"250 2.0.0 ok\r\n"))
            in_data = verb == "DATA"
            if verb == "QUIT":
                await writer.drain()
                return


async def start_scripted(name: str, pki: LabPKI | None = None, host: str = "127.0.0.1", port: int = 0
                         ) -> asyncio.Server:
    """Start scripted server ``name`` of ``SCRIPTS``; with ``pki`` it offers STARTTLS (the lab's good cert)."""
    script = SCRIPTS[name]

    async def bounded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(MAX_LIFETIME):
                await scripted(script, reader, writer, pki)
        except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError, ValueError,
                asyncio.CancelledError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    return await asyncio.start_server(bounded, host, port)


@contextlib.contextmanager
def scripted_in_thread(directory: Path, host: str = "127.0.0.1") -> Iterator[tuple[Path, dict[str, int]]]:
    """Every scripted server twice, on its own loop in a daemon thread: ``name`` speaks plaintext only,
    ``name+tls`` offers STARTTLS with a certificate of the CA file yielded alongside the ports."""
    loop = asyncio.new_event_loop()
    pki = LabPKI(directory)
    ports: dict[str, int] = {}

    async def up() -> list[asyncio.Server]:
        started = []
        for name in SCRIPTS:
            for key, with_pki in ((name, None), (f"{name}+tls", pki)):
                srv = await start_scripted(name, with_pki, host)
                ports[key] = int(srv.sockets[0].getsockname()[1])
                started.append(srv)
        return started

    servers = loop.run_until_complete(up())
    thread = threading.Thread(target=loop.run_forever, name="smtp-doctor-scripted", daemon=True)
    thread.start()
    try:
        yield pki.ca_file, ports
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        for srv in servers:
            srv.close()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:  # gather() of nothing would ask for the main thread's (closed) loop
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def names(pki_free: bool = False) -> tuple[str, ...]:
    return tuple(HANDLERS) + (() if pki_free else ("tls-not-smtp", "starttls-injection", "imaps"))
