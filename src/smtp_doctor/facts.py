"""What the probe observed: plain data, no judgement. Diagnosis turns these into findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .smtp.dialogue import TranscriptLine
from .smtp.ehlo import Capabilities
from .smtp.reply import Reply


class Outcome(StrEnum):
    """How the TCP connection attempt ended."""

    CONNECTED = "connected"
    DNS_NXDOMAIN = "dns_nxdomain"  #: the name does not exist
    DNS_FAILURE = "dns_failure"  #: the resolver failed (temporary, or no address of a usable family)
    REFUSED = "refused"  #: RST to our SYN: nothing listens, or a firewall rejects
    TIMEOUT = "timeout"  #: no answer to SYN: filtered/blocked port
    UNREACHABLE = "unreachable"  #: no route to host/network
    RESET = "reset"


class Mode(StrEnum):
    """What the port speaks, found by probing (never assumed from the port number)."""

    IMPLICIT_TLS = "implicit_tls"
    STARTTLS = "starttls"  #: plaintext SMTP offering STARTTLS
    PLAINTEXT = "plaintext"  #: plaintext SMTP without STARTTLS
    NOT_SMTP = "not_smtp"  #: something answered, but not SMTP (HTTP, SSH, garbage …)
    TLS_NOT_SMTP = "tls_not_smtp"  #: a TLS server that then did not greet in SMTP
    SILENT = "silent"  #: accepted the connection, said nothing, answered no TLS handshake
    CLOSED = "closed"  #: accepted and closed without a greeting
    UNKNOWN = "unknown"  #: no connection


@dataclass(frozen=True)
class CertInfo:
    """The parts of one X.509 certificate a user needs to read."""

    subject: str
    issuer: str
    common_name: str | None
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    not_before: str  #: ISO 8601, UTC
    not_after: str
    serial: str
    sha256: str
    key: str  #: "RSA 2048", "EC P-256" …
    signature: str  #: "sha256WithRSAEncryption" …
    self_issued: bool
    is_ca: bool
    ca_issuers: tuple[str, ...] = ()  #: AIA caIssuers URLs: where the issuer *could* be fetched from


@dataclass(frozen=True)
class Verification:
    """Result of verifying the chain as sent against one trust source (no AIA fetching)."""

    source: str  #: "system", "certifi", "ca-file", or a runtime name
    location: str  #: the file or directory the anchors came from
    ok: bool
    error_code: int | None = None  #: OpenSSL X509_V_ERR_* code
    error: str | None = None  #: OpenSSL's own wording ("unable to get local issuer certificate")
    error_depth: int | None = None
    chain: tuple[str, ...] = ()  #: subjects of the verified chain, leaf first, when ok
    anchors: int | None = None  #: how many trust anchors the source held


@dataclass(frozen=True)
class TLSFacts:
    version: str
    cipher: str
    bits: int | None
    chain: tuple[bytes, ...]  #: DER, exactly as sent, leaf first
    certs: tuple[CertInfo, ...]
    verifications: tuple[Verification, ...] = ()
    hostname: str = ""  #: the reference identity checked
    hostname_ok: bool | None = None
    hostname_used_cn: bool = False  #: matched only through the CN (no SAN): deprecated
    sni: str | None = None


@dataclass(frozen=True)
class VersionSupport:
    """One TLS version tried alone (min = max pinned), as sslyze and testssl.sh do."""

    version: str  #: "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
    accepted: bool | None  #: None: not testable (this OpenSSL cannot offer it, or the session failed first)
    detail: str = ""  #: the refusal (OpenSSL's reason) or why it was not testable


@dataclass(frozen=True)
class TLSError:
    """A TLS handshake that failed, with what the peer sent instead."""

    kind: str  #: "not_tls", "closed", "reset", "alert", "timeout", "error"
    message: str
    received: bytes = b""


@dataclass
class PortFacts:
    """Everything observed on one port."""

    host: str
    port: int
    address: str | None = None
    outcome: Outcome = Outcome.CONNECTED
    outcome_detail: str = ""
    mode: Mode = Mode.UNKNOWN
    greeting: Reply | None = None
    greeting_seconds: float | None = None  #: connected (or TLS up, on implicit TLS) until the 220: an app's read
    #: timeout shorter than this fails although the server works (Postfix's postscreen greet pause, a busy MTA)
    ehlo_plain: Capabilities | None = None
    ehlo_tls: Capabilities | None = None
    ehlo_reply_plain: Reply | None = None
    starttls_reply: Reply | None = None
    bytes_after_starttls: bytes = b""  #: sent after "220 ready" and before TLS: injection sign
    tls: TLSFacts | None = None
    tls_error: TLSError | None = None  #: implicit-TLS attempt or STARTTLS handshake failure
    first_bytes: bytes = b""  #: what the peer sent first on the plaintext connection
    protocol_error: str | None = None  #: reply-parser failure kind (line too long, …)
    protocol_error_phase: str | None = None
    closed_at: str | None = None  #: phase at which the server closed the connection
    timed_out: str | None = None  #: phase whose deadline ran out
    detect_seconds: float | None = None  #: time until the mode was known
    total_seconds: float | None = None
    transcript: list[TranscriptLine] = field(default_factory=list)
    auth_attempts: list[AuthAttempt] = field(default_factory=list)  #: only with credentials
    tls_versions: tuple[VersionSupport, ...] = ()  #: only with ProbeOptions.tls_versions


@dataclass
class HostFacts:
    host: str
    addresses: tuple[str, ...] = ()
    ports: list[PortFacts] = field(default_factory=list)
    username: str | None = None  #: the login tried with --user (never the secret)


class AuthOutcome(StrEnum):
    OK = "ok"  #: 235
    REJECTED = "rejected"  #: 535/534/538/454 … the server said no
    ERROR = "error"  #: the exchange broke (closed, timeout, protocol error)
    NOT_ATTEMPTED = "not_attempted"  #: refused by policy: no encryption, or an unverified certificate
    UNSUPPORTED = "unsupported"  #: the server offers it, smtp-doctor does not implement it
    NO_CREDENTIAL = "no_credential"  #: e.g. XOAUTH2 without --oauth-token-env


@dataclass(frozen=True)
class AuthAttempt:
    """One AUTH mechanism tried on its own fresh connection."""

    port: int
    mechanism: str
    outcome: AuthOutcome
    reply: Reply | None = None
    reason: str | None = None  #: why not attempted / what broke
    transcript: tuple[TranscriptLine, ...] = ()
