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


class _Pipe(asyncio.Protocol):
    """The connection's receiving end: what ``StreamReader``, its protocol and ``StreamWriter`` did, in one
    slotted object.

    Why not streams: with ten thousand probes in flight the three stream objects, their deques and
    futures were about 3 KB a probe, a third of what a waiting probe held (docs/scan.md, memory). Data
    arrives as the exact-size ``bytes`` the event loop read into its own shared buffer, so an idle
    connection holds no receive buffer at all. Semantics kept from the streams: an error from the
    transport is raised before buffered data is returned, writing to a lost connection raises
    ``ConnectionResetError``, and reading pauses past ``LIMIT`` unread bytes.
    """

    __slots__ = ("transport", "data", "eof", "exc", "lost", "waiter", "paused", "reading_paused", "drain_waiter")

    LIMIT = 2 * READ_CHUNK  #: unread bytes before the transport stops reading (StreamReader's 2 × limit)

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.data = b""
        self.eof = False
        self.exc: BaseException | None = None
        self.lost = False
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False  #: the transport asked us to stop writing
        self.reading_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport subclasses

    def _wake(self, exc: BaseException | None = None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def data_received(self, data: bytes) -> None:
        self.data = self.data + data if self.data else data
        if len(self.data) > self.LIMIT and not self.reading_paused and self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.pause_reading()
                self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return True  # half-closed, as with streams: we may still send QUIT or a TLS alert

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if exc is None:
            self.eof = True
        else:
            self.exc = exc
        self._wake(exc)
        waiter, self.drain_waiter = self.drain_waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)
        self.transport = None

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        waiter, self.drain_waiter = self.drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        """A future set when data, the end or an error arrives: awaited directly, without a frame of its own."""
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def take(self, n: int) -> bytes:
        """Up to ``n`` buffered bytes; ``b""`` at end of stream (after ``StreamReader.read``'s wait)."""
        data = self.data
        if len(data) > n:
            data, self.data = data[:n], data[n:]
        else:
            self.data = b""
        if self.reading_paused and len(self.data) <= READ_CHUNK and self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.resume_reading()
            self.reading_paused = False
        return data

    async def drain(self, closing: bool) -> None:
        """``StreamWriter.drain``: the transport's error first, then a lost connection, then flow control."""
        if self.exc is not None:
            raise self.exc
        if closing:
            await asyncio.sleep(0)
        if self.lost:
            raise ConnectionResetError("Connection lost")
        if self.paused:
            self.drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self.drain_waiter
            finally:
                self.drain_waiter = None


class Channel:
    """Bytes in, bytes out; TLS optional. Deadlines are the caller's (``asyncio.timeout``).

    Slotted, and its TLS memory BIOs are made only when a handshake starts: a scan holds thousands.
    """

    __slots__ = ("_pipe", "_transport", "address", "_tls", "_in", "_out")

    def __init__(self, pipe: _Pipe, transport: asyncio.Transport, address: str) -> None:
        self._pipe = pipe
        self._transport = transport
        self.address = address
        self._tls: ssl.SSLObject | None = None
        self._in: ssl.MemoryBIO | None = None
        self._out: ssl.MemoryBIO | None = None

    @classmethod
    async def connect(cls, address: str, port: int, family: int = 0) -> Channel:
        """Both event loops (asyncio's and uvloop's) set TCP_NODELAY on a new connection themselves."""
        pipe = _Pipe()
        try:
            transport, _ = await asyncio.get_running_loop().create_connection(lambda: pipe, address, port,
                                                                              family=family)
        except OSError as exc:
            raise ConnectError(classify_os_error(exc), exc.strerror or str(exc)) from None
        return cls(pipe, transport, address)

    @property
    def tls_object(self) -> ssl.SSLObject | None:
        return self._tls

    async def _raw_read(self) -> bytes:
        """``StreamReader.read``: the transport's error first, else wait for bytes or the end."""
        pipe = self._pipe
        try:
            if pipe.exc is not None:
                raise pipe.exc
            if not pipe.data and not pipe.eof:
                try:
                    await pipe.wait()
                finally:
                    pipe.waiter = None
        except OSError as exc:
            raise ConnectError(classify_os_error(exc), exc.strerror or str(exc)) from None
        return pipe.take(READ_CHUNK)

    async def _flush(self) -> None:
        data = self._out.read() if self._out is not None else b""
        if data:
            self._transport.write(data)
        try:
            await self._pipe.drain(self._transport.is_closing())
        except OSError as exc:
            raise ConnectError(classify_os_error(exc), exc.strerror or str(exc)) from None

    async def read(self) -> bytes:
        """Next bytes from the peer (decrypted under TLS); ``b""`` at end of stream."""
        if self._tls is None or self._in is None:
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
            self._transport.write(data)
        else:
            self._tls.write(data)
        await self._flush()

    async def start_tls(self, ctx: ssl.SSLContext, server_hostname: str | None) -> None:
        """Handshake; on failure raise ``TLSFailure`` carrying what the peer sent instead."""
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
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
            self._transport.close()
