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
from ..smtp.reply import ProtocolError
from .channel import ConnectError, TLSFailure
from .engine import Closed, PhaseTimeout
from .options import ProbeOptions
from .session import Session, SessionRefused, open_session

#: The order in which a working mechanism is recommended: the simplest that works first.
PREFERENCE = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER")
#: A server may not make us loop on challenges forever.
MAX_STEPS = 8


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
    if reply.code == 334:  # still challenging after MAX_STEPS: abort the exchange
        reply = await session.command("*", "auth")
        outcome = AuthOutcome.ERROR
    return AuthAttempt(port, mechanism, outcome, reply)


async def try_mechanisms(port: PortFacts, creds: Credentials, opts: ProbeOptions, policy: AuthPolicy
                         ) -> list[AuthAttempt]:
    """One attempt per offered mechanism (post-TLS list; the plaintext one only when allowed)."""
    caps = port.ehlo_tls if port.mode in (Mode.STARTTLS, Mode.IMPLICIT_TLS) else port.ehlo_plain
    offered = list(caps.auth) if caps else []
    reason = refusal(port, policy)
    attempts: list[AuthAttempt] = []
    for mechanism in offered:
        if reason is not None:
            attempts.append(AuthAttempt(port.port, mechanism, AuthOutcome.NOT_ATTEMPTED, reason=reason))
        elif not sasl.supported(mechanism):
            attempts.append(AuthAttempt(port.port, mechanism, AuthOutcome.UNSUPPORTED))
        elif sasl.needs_token(mechanism) and not creds.oauth_token:
            attempts.append(AuthAttempt(port.port, mechanism, AuthOutcome.NO_CREDENTIAL,
                                        reason="auth.reason.no_token"))
        elif not sasl.needs_token(mechanism) and not creds.password:
            attempts.append(AuthAttempt(port.port, mechanism, AuthOutcome.NO_CREDENTIAL,
                                        reason="auth.reason.no_password"))
        else:
            attempts.append(await _attempt(port, mechanism, creds, opts))
    return attempts


async def _attempt(port: PortFacts, mechanism: str, creds: Credentials, opts: ProbeOptions) -> AuthAttempt:
    assert port.address is not None
    session: Session | None = None
    try:
        async with asyncio.timeout(opts.timeout):
            session = await open_session(port.host, port.address, port.port, port.mode, opts)
            attempt = await authenticate(session, mechanism, creds, port.port)
            await session.quit()
            return AuthAttempt(port.port, mechanism, attempt.outcome, attempt.reply,
                               transcript=tuple(session.dialogue.transcript))
    except SessionRefused as exc:
        return AuthAttempt(port.port, mechanism, AuthOutcome.ERROR, exc.reply, reason=f"phase.{exc.phase}")
    except (TimeoutError, PhaseTimeout, Closed, ProtocolError, TLSFailure, ConnectError) as exc:
        reason = "auth.reason.timeout" if isinstance(exc, TimeoutError | PhaseTimeout) else "auth.reason.broken"
        return AuthAttempt(port.port, mechanism, AuthOutcome.ERROR, reason=reason,
                           transcript=tuple(session.dialogue.transcript) if session else ())
    finally:
        if session is not None:
            session.channel.close()


def recommended(attempts: list[AuthAttempt]) -> str | None:
    working = {a.mechanism for a in attempts if a.outcome is AuthOutcome.OK}
    return next((m for m in PREFERENCE if m in working), next(iter(sorted(working)), None))
