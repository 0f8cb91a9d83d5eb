"""Which TLS versions does a port accept? One handshake per version, min = max pinned.

The main probe learns only the version the server *prefers* with a client offering everything. What
breaks apps is at the edges: a server that still accepts TLS 1.0 (RFC 8996 deprecated it), or one that
speaks TLS 1.3 only, which every client without TLS 1.3 (OpenSSL < 1.1.1, old Java and .NET) fails
against. sslyze and testssl.sh answer this the same way: one connection per version, concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings

from ..facts import Mode, VersionSupport
from ..smtp.dialogue import Dialogue
from ..smtp.reply import ProtocolError
from .channel import ConnectError, TLSFailure
from .options import ProbeOptions
from .wire import Closed, PhaseTimeout, command, connect, read_reply, start_tls

VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def pinned_context(version: str) -> ssl.SSLContext | None:
    """A context offering ``version`` alone (no verification: this asks what is spoken, not who),
    or None when this machine's OpenSSL cannot offer it at all."""
    tls_version = ssl.TLSVersion[version.replace(".", "_")]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():  # Python deprecates TLS 1.0/1.1; asking whether a server speaks them is why
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = tls_version
        with contextlib.suppress(ssl.SSLError):  # TLS 1.0/1.1 need security level 0 in OpenSSL 3
            ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    return ctx


async def _one(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions, version: str
               ) -> VersionSupport:
    ctx = pinned_context(version)
    if ctx is None:
        return VersionSupport(version, None, "this machine's OpenSSL cannot offer it")
    try:
        ch = await connect(address, port, opts)
    except ConnectError as exc:
        return VersionSupport(version, None, exc.detail)
    dlg = Dialogue()
    try:
        if mode is Mode.STARTTLS:
            greeting = await read_reply(ch, dlg, "greeting", opts.phase(opts.greeting_timeout))
            ehlo = await command(ch, dlg, f"EHLO {opts.ehlo_name}", "ehlo", opts)
            reply = await command(ch, dlg, "STARTTLS", "starttls", opts)
            if 220 not in (greeting.code, reply.code) or ehlo.code != 250 or reply.code != 220:
                return VersionSupport(version, None, f"STARTTLS answered {reply.code}")
            dlg.restart_after_tls()
        await start_tls(ch, host, opts, ctx)
        return VersionSupport(version, True, (ch.tls_object.cipher() or ("",))[0] if ch.tls_object else "")
    except TLSFailure as exc:
        return VersionSupport(version, False, exc.error.message)
    except (PhaseTimeout, Closed, ProtocolError) as exc:
        return VersionSupport(version, None, f"the session ended before TLS ({exc})")
    finally:
        ch.close()


async def tls_versions(host: str, address: str, port: int, mode: Mode, opts: ProbeOptions
                       ) -> tuple[VersionSupport, ...]:
    """Each version on its own connection, all at once: one handshake's time, not four."""
    return tuple(await asyncio.gather(*(_one(host, address, port, mode, opts, v) for v in VERSIONS)))
