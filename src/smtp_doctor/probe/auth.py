"""Try every AUTH mechanism a server offers, each on a fresh connection, with safety first.

Credentials are sent only inside TLS whose certificate verified (chain *and* name), unless the
user passed one of the loudly named flags. A plaintext port or a failed verification yields
"not attempted", with the reason, instead of a password handed to a possible man in the middle.
"""

from __future__ import annotations

import asyncio

from ..credentials import MASK, AuthPolicy, Credentials
from ..facts import AuthAttempt, AuthOutcome, Mode, PortFacts
from ..smtp import sasl
from .options import ProbeOptions
from .session import BREAKS, Session, SessionBroken, SessionRefused, open_session, what_broke

#: The order in which a working mechanism is recommended: the simplest that works first.
PREFERENCE = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER")
#: A server may not make us loop on challenges forever (LOGIN needs 2, CRAM-MD5 1, the OAuth error 1).
MAX_STEPS = 8
#: AUTH attempts of one port run side by side (each on its own connection): a slow greeting is waited
#: for once, not once per mechanism; few enough not to look like a brute-force attempt.
PARALLEL = 4


def refusal(port: PortFacts, policy: AuthPolicy) -> str | None:
    """Why credentials must not be sent to this port, as a catalogue key; ``None`` if they may."""
    if port.mode is Mode.PLAINTEXT:
        return None if policy.allow_cleartext else "auth.reason.cleartext"
    if port.mode not in (Mode.STARTTLS, Mode.IMPLICIT_TLS) or port.tls is None:
        return "auth.reason.no_session"
    verified = any(v.ok for v in port.tls.verifications) and port.tls.hostname_ok is not False
    if not verified and not policy.allow_unverified:
        return "auth.reason.unverified"
    return None


async def authenticate(session: Session, mechanism: str, creds: Credentials, port: int = 0) -> AuthAttempt:
    """Run one SASL exchange on an open session; the transcript shows only masked client lines."""
    client = sasl.client(mechanism, creds.user, password=creds.password, token=creds.oauth_token)
    initial = client.initial_response()
    line = f"AUTH {mechanism}" + (f" {initial}" if initial is not None else "")
    reply = await session.command(line, "auth", shown=f"AUTH {mechanism}" + (f" {MASK}" if initial else ""))
    steps = 0
    while reply.code == 334 and steps < MAX_STEPS:
        steps += 1
        challenge = reply.lines[0].strip()
        reply = await session.command(client.respond(challenge), "auth", shown=MASK)
    outcome = AuthOutcome.OK if reply.code == 235 else AuthOutcome.REJECTED
    if reply.code == 334:  # still challenging after MAX_STEPS: abort the exchange (RFC 4954 §4 "*")
        reply = await session.command("*", "auth")
        return AuthAttempt(port, mechanism, AuthOutcome.ERROR, reply, reason="auth.reason.endless_challenges")
    if reply.code != 235 and reply.code < 400:
        # 250 or 354 to AUTH is not an answer RFC 4954 allows: a broken exchange, not a refusal
        return AuthAttempt(port, mechanism, AuthOutcome.ERROR, reply, reason="auth.reason.unexpected_reply")
    return AuthAttempt(port, mechanism, outcome, reply)


async def try_mechanisms(port: PortFacts, creds: Credentials, opts: ProbeOptions, policy: AuthPolicy
                         ) -> list[AuthAttempt]:
    """One attempt per offered mechanism (post-TLS list; the plaintext one only when allowed)."""
    caps = port.ehlo_tls if port.mode in (Mode.STARTTLS, Mode.IMPLICIT_TLS) else port.ehlo_plain
    offered = list(caps.auth) if caps else []
    reason = refusal(port, policy)
    gate = asyncio.Semaphore(PARALLEL)

    async def one(mechanism: str) -> AuthAttempt:
        if reason is not None:
            return AuthAttempt(port.port, mechanism, AuthOutcome.NOT_ATTEMPTED, reason=reason)
        if not sasl.supported(mechanism):
            return AuthAttempt(port.port, mechanism, AuthOutcome.UNSUPPORTED)
        if sasl.needs_token(mechanism) and not creds.oauth_token:
            return AuthAttempt(port.port, mechanism, AuthOutcome.NO_CREDENTIAL, reason="auth.reason.no_token")
        if not sasl.needs_token(mechanism) and not creds.password:
            return AuthAttempt(port.port, mechanism, AuthOutcome.NO_CREDENTIAL, reason="auth.reason.no_password")
        async with gate:
            return await _attempt(port, mechanism, creds, opts)

    return list(await asyncio.gather(*(one(m) for m in offered)))  # in the order offered


async def _attempt(port: PortFacts, mechanism: str, creds: Credentials, opts: ProbeOptions) -> AuthAttempt:
    assert port.address is not None
    session: Session | None = None
    try:
        async with asyncio.timeout(opts.timeout):
            session = await open_session(port.host, port.address, port.port, port.mode, opts)
            attempt = await authenticate(session, mechanism, creds, port.port)
            await session.quit()
            return AuthAttempt(port.port, mechanism, attempt.outcome, attempt.reply, attempt.reason,
                               transcript=tuple(session.dialogue.transcript))
    except SessionRefused as exc:
        return AuthAttempt(port.port, mechanism, AuthOutcome.ERROR, exc.reply, reason="auth.reason.session_refused")
    except SessionBroken as exc:
        return AuthAttempt(port.port, mechanism, AuthOutcome.ERROR, reason=f"auth.reason.{exc.what}",
                           transcript=tuple(exc.dialogue.transcript))
    except BREAKS as exc:
        return AuthAttempt(port.port, mechanism, AuthOutcome.ERROR, reason=f"auth.reason.{what_broke(exc)}",
                           transcript=tuple(session.dialogue.transcript) if session else ())
    finally:
        if session is not None:
            session.channel.close()


def recommended(attempts: list[AuthAttempt]) -> str | None:
    working = {a.mechanism for a in attempts if a.outcome is AuthOutcome.OK}
    return next((m for m in PREFERENCE if m in working), next(iter(sorted(working)), None))
