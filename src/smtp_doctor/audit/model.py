"""What an audit observed on the wire: plain data the pure diagnosis (``diagnose.py``) judges."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..facts import PortFacts
from ..findings import Finding
from ..x509.revocation import RevocationCheck


class Verdict(StrEnum):
    VULNERABLE = "vulnerable"
    NOT_VULNERABLE = "not_vulnerable"
    INCONCLUSIVE = "inconclusive"


class Role(StrEnum):
    """Who connects: submission (465/587: MUAs and apps, they log in) or relay (25: other MTAs)."""

    SUBMISSION = "submission"
    RELAY = "relay"


@dataclass(frozen=True)
class InjectionTry:
    """One connection of the injection check: ``payload`` pipelined after STARTTLS in one write
    (``""`` is the sanity run: STARTTLS alone)."""

    payload: str
    starttls_code: int | None = None
    handshake: bool = False
    unsolicited: bytes = b""  #: what arrived inside TLS before we sent anything
    quit_replies: int | None = None  #: replies to our one QUIT inside TLS
    error: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"payload": self.payload or None, "starttls_code": self.starttls_code, "handshake": self.handshake,
                "unsolicited": self.unsolicited.decode("latin-1") or None, "quit_replies": self.quit_replies,
                "error": self.error or None}


@dataclass(frozen=True)
class InjectionResult:
    verdict: Verdict
    reason: str  #: catalogue key suffix: why this verdict
    sanity: InjectionTry
    tries: tuple[InjectionTry, ...]

    def to_dict(self) -> dict[str, object]:
        return {"verdict": str(self.verdict), "reason": self.reason, "sanity": self.sanity.to_dict(),
                "tries": [t.to_dict() for t in self.tries]}


@dataclass(frozen=True)
class SessionFacts:
    """The plaintext/STARTTLS state machine, seen on one connection (never AUTH, never DATA)."""

    mail_before_tls: int | None = None  #: reply code to MAIL FROM sent before STARTTLS
    late_bytes_after_220: bytes = b""  #: bytes that arrived within a short wait after ``220 Ready``
    starttls_in_tls_ehlo: bool | None = None  #: STARTTLS listed again in the EHLO reply inside TLS
    second_starttls: int | None = None  #: reply code to a second STARTTLS inside TLS
    error: str = ""
    #: reply code to RCPT inside TLS after a MAIL FROM accepted before STARTTLS (own connection): 503 means
    #: the transaction was reset as RFC 3207 §4.2 requires, 250 that it survived (session fixation)
    rcpt_after_tls: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"mail_before_tls": self.mail_before_tls,
                "late_bytes_after_220": self.late_bytes_after_220.decode("latin-1") or None,
                "starttls_in_tls_ehlo": self.starttls_in_tls_ehlo, "second_starttls": self.second_starttls,
                "rcpt_after_tls": self.rcpt_after_tls, "error": self.error or None}


@dataclass(frozen=True)
class SuiteCheck:
    """Whether a class of weak suites (``null``, ``rc4``, ``no_fs`` …) is accepted with ``version``."""

    category: str
    version: str
    accepted: bool | None  #: None: this machine's OpenSSL cannot offer that class, or the session failed
    cipher: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"category": self.category, "version": self.version, "accepted": self.accepted,
                "cipher": self.cipher or None, "detail": self.detail or None}


@dataclass(frozen=True)
class Staple:
    requested: bool
    stapled: bool | None  #: None: the stapling connection failed
    detail: str = ""
    response: bytes = b""  #: the stapled OCSP response as sent (DER)

    def to_dict(self) -> dict[str, object]:
        return {"stapled": self.stapled, "detail": self.detail or None}


@dataclass
class PortAudit:
    port: int
    role: Role
    facts: PortFacts
    injection: InjectionResult | None = None
    session: SessionFacts | None = None
    suites: tuple[SuiteCheck, ...] = ()
    staple: Staple | None = None
    revocation: tuple[RevocationCheck, ...] = ()
    revocation_urls: tuple[str, ...] = ()  #: what the certificate names (fetched only when asked)
    revocation_checked: bool = False
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
