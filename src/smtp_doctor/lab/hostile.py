"""Hostile and broken servers: everything a probe must survive without hanging or a traceback.

Each behaviour is a small asyncio stream handler. All of them are bounded: they stop talking
after a fixed amount of data or time even if the client keeps listening.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable

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

    return {"tls-not-smtp": tls_not_smtp, "starttls-injection": starttls_injection}


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


def names(pki_free: bool = False) -> tuple[str, ...]:
    return tuple(HANDLERS) + (() if pki_free else ("tls-not-smtp", "starttls-injection"))
