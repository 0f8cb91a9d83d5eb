"""SASL client mechanisms for SMTP AUTH (RFC 4954), as pure code: challenges in, responses out.

Everything here speaks base64 strings exactly as they travel after ``AUTH``/``334``. Nothing is
logged: callers record client lines only in masked form (see ``Dialogue.command(shown=...)``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Protocol

#: Mechanisms smtp-doctor can try, simplest first.
SUPPORTED = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER")
TOKEN_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), validate=False)
    except (binascii.Error, ValueError):
        return b""


class Mechanism(Protocol):
    name: str

    def initial_response(self) -> str | None:
        """What to send on the AUTH line itself (RFC 4954 initial response), or None."""

    def respond(self, challenge: str) -> str:
        """The answer to a ``334 <challenge>``."""


class Plain:
    """RFC 4616: authzid NUL authcid NUL password, in one go."""

    name = "PLAIN"

    def __init__(self, user: str, password: str) -> None:
        self._blob = _b64(b"\0" + user.encode() + b"\0" + password.encode())

    def initial_response(self) -> str | None:
        return self._blob

    def respond(self, challenge: str) -> str:
        return self._blob  # a server that ignored the initial response asks with an empty 334


class Login:
    """The de-facto LOGIN mechanism: the server prompts "Username:" then "Password:"."""

    name = "LOGIN"

    def __init__(self, user: str, password: str) -> None:
        self._user, self._password, self._step = user, password, 0

    def initial_response(self) -> str | None:
        return None

    def respond(self, challenge: str) -> str:
        prompt = _unb64(challenge).lower()
        self._step += 1
        wants_user = b"user" in prompt or (b"pass" not in prompt and self._step == 1)
        return _b64((self._user if wants_user else self._password).encode())


class CramMD5:
    """RFC 2195: the password never crosses the wire, an HMAC-MD5 of the server's challenge does."""

    name = "CRAM-MD5"

    def __init__(self, user: str, password: str) -> None:
        self._user, self._password = user, password

    def initial_response(self) -> str | None:
        return None

    def respond(self, challenge: str) -> str:
        digest = hmac.new(self._password.encode(), _unb64(challenge), hashlib.md5).hexdigest()
        return _b64(f"{self._user} {digest}".encode())


class XOAuth2:
    """Google/Microsoft XOAUTH2. On failure the server sends a JSON error as a 334 challenge,
    which the client acknowledges with an empty line to get the final 5xx."""

    name = "XOAUTH2"

    def __init__(self, user: str, token: str) -> None:
        self._blob = _b64(f"user={user}\x01auth=Bearer {token}\x01\x01".encode())

    def initial_response(self) -> str | None:
        return self._blob

    def respond(self, challenge: str) -> str:
        return ""


class OAuthBearer:
    """RFC 7628 OAUTHBEARER; an error challenge is answered with a single %x01 (base64 "AQ==")."""

    name = "OAUTHBEARER"

    def __init__(self, user: str, token: str) -> None:
        self._blob = _b64(f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode())

    def initial_response(self) -> str | None:
        return self._blob

    def respond(self, challenge: str) -> str:
        return "AQ=="


def supported(name: str) -> bool:
    return name.upper() in SUPPORTED


def needs_token(name: str) -> bool:
    return name.upper() in TOKEN_MECHANISMS


def client(name: str, user: str, *, password: str | None = None, token: str | None = None) -> Mechanism:
    """A fresh client-side state machine for ``name`` (one per AUTH exchange)."""
    name = name.upper()
    if name in TOKEN_MECHANISMS:
        if token is None:
            raise ValueError(f"{name} needs an OAuth token")
        return XOAuth2(user, token) if name == "XOAUTH2" else OAuthBearer(user, token)
    if password is None:
        raise ValueError(f"{name} needs a password")
    factories: dict[str, type[Plain] | type[Login] | type[CramMD5]] = {
        "PLAIN": Plain, "LOGIN": Login, "CRAM-MD5": CramMD5}
    if name not in factories:
        raise ValueError(f"unsupported SASL mechanism {name}")
    return factories[name](user, password)
