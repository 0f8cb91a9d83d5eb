"""The lab's well-behaved-but-misconfigured SMTP servers, built on aiosmtpd.

Each ``Spec`` is one failure mode a user meets in real life: a STARTTLS submission port, an
implicit-TLS port, a plaintext server that offers AUTH in clear, certificates that are expired,
for another name, self-signed or missing their intermediate, a greet-pause server, and one that
advertises AUTH before TLS.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .certs import LabPKI

LAB_USER = "lab-user"
LAB_PASSWORD = "lab-password-7f3a"  # printed by `smtp-doctor lab`: a test credential, not a secret


@dataclass(frozen=True)
class Spec:
    name: str
    tls: str  #: "starttls", "implicit" or "none"
    cert: str = "good"
    auth_require_tls: bool = True
    require_starttls: bool = True
    greet_pause: float = 0.0
    #: catalogue key describing it (lab.server.<name>)
    expect_mode: str = ""
    expect_cert: str = "ok"  #: ok, expired, wrong-name, self-signed, missing-intermediate, none


SPECS: tuple[Spec, ...] = (
    Spec("starttls", "starttls", expect_mode="starttls"),
    Spec("implicit", "implicit", expect_mode="implicit_tls"),
    Spec("plain", "none", auth_require_tls=False, require_starttls=False, expect_mode="plaintext",
         expect_cert="none"),
    Spec("expired", "starttls", cert="expired", expect_mode="starttls", expect_cert="expired"),
    Spec("wrong-name", "starttls", cert="wrong-name", expect_mode="starttls", expect_cert="wrong-name"),
    Spec("self-signed", "starttls", cert="self-signed", expect_mode="starttls", expect_cert="self-signed"),
    Spec("missing-intermediate", "starttls", cert="missing-intermediate", expect_mode="starttls",
         expect_cert="missing-intermediate"),
    Spec("slow-greeting", "starttls", greet_pause=6.0, expect_mode="starttls"),
    Spec("auth-before-tls", "starttls", auth_require_tls=False, require_starttls=False, expect_mode="starttls"),
)


class Mailbox:
    """Accepts every message into a bounded in-memory list (the lab never relays)."""

    def __init__(self, keep: int = 100) -> None:
        self.messages: deque[Envelope] = deque(maxlen=keep)
        self._ids = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return f"250 2.0.0 Ok: queued as LAB{next(self._ids):06d}"


def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == LAB_USER.encode() and (
        data.password == LAB_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


class LabSMTP(SMTP):
    """aiosmtpd's server plus an optional pause before the greeting (postscreen's greet-pause)."""

    def __init__(self, *args: Any, greet_pause: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._greet_pause = greet_pause

    async def _handle_client(self) -> None:
        if self._greet_pause:
            await asyncio.sleep(self._greet_pause)
        await super()._handle_client()


async def start(spec: Spec, pki: LabPKI, mailbox: Mailbox, host: str = "127.0.0.1",
                port: int = 0) -> asyncio.Server:
    tls = pki.server_context(spec.cert) if spec.tls != "none" else None

    def factory() -> SMTP:
        return LabSMTP(
            mailbox,
            hostname="lab.smtp-doctor.test",
            ident=f"smtp-doctor lab ({spec.name})",
            tls_context=tls if spec.tls == "starttls" else None,
            require_starttls=spec.require_starttls and spec.tls == "starttls",
            auth_require_tls=spec.auth_require_tls and spec.tls == "starttls",
            authenticator=authenticator,
            timeout=60,
            greet_pause=spec.greet_pause,
        )

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host, port, ssl=tls if spec.tls == "implicit" else None)
