"""The lab's well-behaved-but-misconfigured SMTP servers, built on aiosmtpd.

Each ``Spec`` is one failure mode a user meets in real life: a STARTTLS submission port, an
implicit-TLS port, a plaintext server that offers AUTH in clear, certificates that are expired,
for another name, self-signed or missing their intermediate, a greet-pause server, and one that
advertises AUTH before TLS.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .certs import LabPKI

LAB_USER = "lab-user"
LAB_PASSWORD = "lab-password-7f3a"  # printed by `smtp-doctor lab`: a test credential, not a secret
LAB_OAUTH_TOKEN = "lab-oauth-token-91c2"
ALL_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2")


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
    mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")  #: AUTH mechanisms offered
    #: the only TLS versions it speaks (min, max), e.g. ("TLSv1", "TLSv1") for a legacy appliance
    tls_versions: tuple[str, str] | None = None


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
    Spec("auth-plain-only", "implicit", expect_mode="implicit_tls", mechanisms=("PLAIN",)),
    Spec("auth-login-only", "implicit", expect_mode="implicit_tls", mechanisms=("LOGIN",)),
    Spec("auth-cram-md5", "implicit", expect_mode="implicit_tls", mechanisms=("CRAM-MD5",)),
    Spec("auth-xoauth2", "implicit", expect_mode="implicit_tls", mechanisms=("XOAUTH2",)),
    Spec("legacy-tls", "starttls", expect_mode="starttls", tls_versions=("TLSv1", "TLSv1")),
    Spec("tls13-only", "implicit", expect_mode="implicit_tls", tls_versions=("TLSv1.3", "TLSv1.3")),
)


class Mailbox:
    """Accepts every message into a bounded in-memory list (the lab never relays).

    It also implements the AUTH mechanisms aiosmtpd lacks (CRAM-MD5, XOAUTH2): aiosmtpd looks for
    ``auth_<NAME>`` methods on the handler, ``__`` standing for ``-``.
    """

    def __init__(self, keep: int = 100) -> None:
        self.messages: deque[Envelope] = deque(maxlen=keep)
        self.received = 0  #: every message ever accepted: the deque forgets, this count does not
        self._ids = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        self.received += 1
        return f"250 2.0.0 Ok: queued as LAB{next(self._ids):06d}"

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        challenge = f"<{secrets.randbelow(10**9)}.{int(time.time())}@lab.smtp-doctor.test>".encode()
        response = await server.challenge_auth(challenge)
        if not isinstance(response, bytes):
            return AuthResult(success=False, handled=True)
        user, _, digest = response.decode("utf-8", "replace").rpartition(" ")
        expected = hmac.new(LAB_PASSWORD.encode(), challenge, hashlib.md5).hexdigest()
        # handled=False: aiosmtpd then sends 235 or 535 itself (its default, True, sends nothing)
        return AuthResult(success=user == LAB_USER and hmac.compare_digest(digest, expected), handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        blob = args[1].encode() if len(args) > 1 else await server.challenge_auth(b"", encode_to_b64=False)
        if not isinstance(blob, bytes):
            return AuthResult(success=False, handled=True)
        try:
            fields = dict(f.split("=", 1) for f in base64.b64decode(blob).decode().split("\x01") if "=" in f)
        except (ValueError, UnicodeDecodeError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Cannot decode response")
        if fields.get("user") == LAB_USER and fields.get("auth") == f"Bearer {LAB_OAUTH_TOKEN}":
            return AuthResult(success=True, handled=False)
        # Google's shape: a 334 with a JSON error, the client answers with an empty line, then 535.
        error = base64.b64encode(b'{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}')
        await server.challenge_auth(error, encode_to_b64=False)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")


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
    tls = pki.server_context(spec.cert, spec.tls_versions) if spec.tls != "none" else None

    def factory() -> SMTP:
        return LabSMTP(
            mailbox,
            hostname="lab.smtp-doctor.test",
            ident=f"smtp-doctor lab ({spec.name})",
            tls_context=tls if spec.tls == "starttls" else None,
            require_starttls=spec.require_starttls and spec.tls == "starttls",
            auth_require_tls=spec.auth_require_tls and spec.tls == "starttls",
            authenticator=authenticator,
            auth_exclude_mechanism=[m for m in ALL_MECHANISMS if m not in spec.mechanisms],
            timeout=60,
            greet_pause=spec.greet_pause,
        )

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host, port, ssl=tls if spec.tls == "implicit" else None)
