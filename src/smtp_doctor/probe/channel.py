"""A TCP connection whose TLS runs over memory BIOs.

Why not ``asyncio.open_connection(ssl=...)``: when a handshake fails we need the bytes the peer
sent instead ("220 mail.example ESMTP" means plaintext SMTP, "HTTP/1.1 400" means a web server),
and after STARTTLS we must control exactly which buffered bytes are discarded. Driving
``ssl.SSLObject`` by hand keeps both visible and is still the stdlib's OpenSSL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import socket
import ssl

from ..facts import Outcome, TLSError

READ_CHUNK = 65536
#: How much of what a peer sent during a failed handshake is kept to identify it.
KEEP_RAW = 512


class ConnectError(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


class TLSFailure(Exception):
    def __init__(self, error: TLSError) -> None:
        super().__init__(error.message)
        self.error = error


def display_address(address: str, port: int) -> str:
    """``host:port``, with an IPv6 literal in brackets (``[::1]:587``) so the port cannot be misread."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def classify_os_error(exc: OSError) -> Outcome:
    """Map a socket error onto the outcomes a user can act on."""
    if isinstance(exc, ConnectionRefusedError):
        return Outcome.REFUSED
    if isinstance(exc, ConnectionResetError):
        return Outcome.RESET
    if isinstance(exc, TimeoutError):
        return Outcome.TIMEOUT
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return Outcome.UNREACHABLE
    return Outcome.RESET if exc.errno in (errno.ECONNRESET, errno.EPIPE) else Outcome.UNREACHABLE


@functools.cache
def probe_tls_context() -> ssl.SSLContext:
    """A client context that accepts anything, so that we can *observe* what a server does.

    Verification happens afterwards, offline, against each trust source; legacy versions and
    ciphers are allowed here only so that a weak server is reported instead of merely refused.
    Built once: creating an OpenSSL 3 context costs milliseconds, and every probe needs one.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with contextlib.suppress(ssl.SSLError):  # an OpenSSL without security levels keeps its defaults
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


#: OpenSSL's reasons for "the peer did not answer in TLS at all".
_NOT_TLS = {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
            "HTTP_REQUEST", "HTTPS_PROXY_REQUEST"}


def _handshake_error(exc: ssl.SSLError, received: bytes) -> TLSError:
    reason = exc.reason or ""
    kind = "not_tls" if reason in _NOT_TLS else ("alert" if "ALERT" in reason else "error")
    return TLSError(kind, (reason or str(exc)).lower().replace("_", " "), received)


class Channel:
    """Bytes in, bytes out; TLS optional. Deadlines are the caller's (``asyncio.timeout``)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        self._reader = reader
        self._writer = writer
        self.address = address
        self._tls: ssl.SSLObject | None = None
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()

    @classmethod
    async def connect(cls, address: str, port: int, family: int = 0) -> Channel:
        try:
            reader, writer = await asyncio.open_connection(address, port, family=family, limit=READ_CHUNK)
        except OSError as exc:
            raise ConnectError(classify_os_error(exc), exc.strerror or str(exc)) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, address)

    @property
    def tls_object(self) -> ssl.SSLObject | None:
        return self._tls

    async def _raw_read(self) -> bytes:
        try:
            return await self._reader.read(READ_CHUNK)
        except OSError as exc:
            raise ConnectError(classify_os_error(exc), exc.strerror or str(exc)) from None

    async def _flush(self) -> None:
        data = self._out.read()
        if data:
            self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError as exc:
            raise ConnectError(classify_os_error(exc), exc.strerror or str(exc)) from None

    async def read(self) -> bytes:
        """Next bytes from the peer (decrypted under TLS); ``b""`` at end of stream."""
        if self._tls is None:
            return await self._raw_read()
        while True:
            try:
                return self._tls.read(READ_CHUNK)
            except ssl.SSLWantReadError:
                data = await self._raw_read()
                if not data:
                    return b""
                self._in.write(data)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            except ssl.SSLError as exc:
                raise ConnectError(Outcome.RESET, f"TLS: {exc.reason or exc}") from None

    async def write(self, data: bytes) -> None:
        if self._tls is None:
            self._writer.write(data)
        else:
            self._tls.write(data)
        await self._flush()

    async def start_tls(self, ctx: ssl.SSLContext, server_hostname: str | None) -> None:
        """Handshake; on failure raise ``TLSFailure`` carrying what the peer sent instead."""
        obj = ctx.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        received = bytearray()
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                try:
                    data = await self._raw_read()
                except ConnectError as exc:
                    raise TLSFailure(TLSError("reset", exc.detail, bytes(received))) from None
                if not data:
                    raise TLSFailure(TLSError("closed", "connection closed during the TLS handshake",
                                              bytes(received))) from None
                if len(received) < KEEP_RAW:
                    received += data[: KEEP_RAW - len(received)]
                self._in.write(data)
            except ssl.SSLError as exc:
                with contextlib.suppress(ConnectError):
                    await self._flush()  # let the peer see our alert
                raise TLSFailure(_handshake_error(exc, bytes(received))) from None
        await self._flush()
        self._tls = obj

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken transport must never raise
            self._writer.close()
