"""TLS checks beyond what the probe learns: weak suite classes per version, and OCSP stapling.

Suites: one handshake per (version, class) with the client offering only that class (``set_ciphers``),
as sslyze does per suite but bounded to the classes BCP 195 forbids: a handful of connections, not a
hundred. A class this machine's OpenSSL cannot offer (RC4, 3DES and export are gone from OpenSSL 3's
default provider) is reported as untested, never as refused. Stapling needs pyOpenSSL: the stdlib
``ssl`` module cannot ask for the status_request extension.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct

from OpenSSL import SSL

from ..facts import Mode
from ..probe.channel import ConnectError, TLSFailure
from ..probe.engine import Closed, PhaseTimeout, command, connect, read_reply, sni_for, start_tls
from ..probe.options import ProbeOptions
from ..probe.versions import pinned_context
from ..smtp.dialogue import Dialogue
from ..smtp.reply import ProtocolError, ReplyParser
from .model import Staple, SuiteCheck

#: OpenSSL cipher-string classes (openssl-ciphers(1)) that RFC 9325 / RFC 7465 rule out.
CLASSES = {"null": "eNULL", "anon": "aNULL", "export": "EXP", "rc4": "RC4", "3des": "3DES", "no_fs": "kRSA"}
PRE_13 = ("TLSv1", "TLSv1.1", "TLSv1.2")
_PARALLEL = 6  #: connections at once to one server (politeness: well under MTAs' per-client limits)


def class_context(version: str, spec: str) -> ssl.SSLContext | None:
    ctx = pinned_context(version)
    if ctx is None:
        return None
    try:
        ctx.set_ciphers(f"{spec}:@SECLEVEL=0")
    except ssl.SSLError:
        return None
    return ctx


async def _handshake(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions, ctx: ssl.SSLContext
                     ) -> tuple[bool | None, str, str]:
    """(accepted, cipher, detail) of one handshake offering only what ``ctx`` offers."""
    try:
        ch = await connect(address, port, opts)
    except ConnectError as exc:
        return None, "", exc.detail
    dlg = Dialogue()
    try:
        if mode is Mode.STARTTLS:
            await read_reply(ch, dlg, "greeting", opts.phase(opts.greeting_timeout))
            await command(ch, dlg, f"EHLO {opts.ehlo_name}", "ehlo", opts)
            if (await command(ch, dlg, "STARTTLS", "starttls", opts)).code != 220:
                return None, "", "STARTTLS refused"
            dlg.restart_after_tls()
        await start_tls(ch, host, opts, ctx)
        obj = ch.tls_object
        return True, (obj.cipher() or ("",))[0] if obj else "", ""
    except TLSFailure as exc:
        return False, "", exc.error.message
    except (PhaseTimeout, Closed, ProtocolError, ConnectError) as exc:
        return None, "", f"the session ended before TLS ({exc})"
    finally:
        ch.close()


async def weak_suites(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions,
                      versions: tuple[str, ...]) -> tuple[SuiteCheck, ...]:
    """Each weak class with each accepted pre-1.3 version (TLS 1.3 has no weak suites to offer)."""
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(category: str, version: str) -> SuiteCheck:
        ctx = class_context(version, CLASSES[category])
        if ctx is None:
            return SuiteCheck(category, version, None, detail="this machine's OpenSSL cannot offer it")
        async with gate:
            accepted, cipher, detail = await _handshake(host, address, port, mode, opts, ctx)
        return SuiteCheck(category, version, accepted, cipher, detail)

    jobs = [one(c, v) for v in versions if v in PRE_13 for c in CLASSES]
    return tuple(await asyncio.gather(*jobs))


def _read_reply(sock: socket.socket, parser: ReplyParser) -> int:
    for _ in range(200):
        reply = parser.next_reply()
        if reply is not None:
            return reply.code
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("closed")
        parser.feed(data)
    raise ConnectionError("no complete reply")


def _staple_blocking(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions) -> Staple:
    got: list[bytes] = []

    def callback(conn: SSL.Connection, data: bytes, _: object) -> bool:
        got.append(data)
        return True  # judging happens afterwards; the handshake must go on either way

    timeout = opts.phase(opts.command_timeout)
    with socket.create_connection((address, port), timeout=timeout) as sock:
        if mode is Mode.STARTTLS:
            parser = ReplyParser()
            if _read_reply(sock, parser) != 220:
                return Staple(True, None, detail="no greeting")
            sock.sendall(f"EHLO {opts.ehlo_name}\r\n".encode())
            _read_reply(sock, parser)
            sock.sendall(b"STARTTLS\r\n")
            if _read_reply(sock, parser) != 220:
                return Staple(True, None, detail="STARTTLS refused")
        # pyOpenSSL on a socket with a Python timeout is non-blocking (WantReadError); a kernel-level
        # timeout keeps the handshake blocking and still bounded
        sock.settimeout(None)
        tv = struct.pack("ll", int(timeout), int((timeout % 1) * 1e6))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_verify(SSL.VERIFY_NONE)
        with contextlib.suppress(SSL.Error):
            ctx.set_cipher_list(b"ALL:@SECLEVEL=0")
        ctx.set_ocsp_client_callback(callback)
        conn = SSL.Connection(ctx, sock)
        conn.set_connect_state()
        name = sni_for(host, opts)
        if name:
            conn.set_tlsext_host_name(name.encode("idna"))
        conn.request_ocsp()
        conn.do_handshake()
        with contextlib.suppress(SSL.Error, OSError):
            conn.shutdown()
    data = got[0] if got else b""
    return Staple(True, bool(data), response=data)


async def ocsp_staple(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions) -> Staple:
    """Ask for a stapled OCSP response (status_request, RFC 6066 §8); the raw answer goes in ``detail``."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(_staple_blocking, host, address, port, mode, opts),
                                      opts.phase(opts.tls_timeout) + opts.phase(opts.command_timeout))
    except (OSError, SSL.Error, ConnectionError, ProtocolError, TimeoutError) as exc:
        return Staple(True, None, detail=f"{type(exc).__name__}: {exc}"[:200])
