"""What the domain check observed (facts) and concluded (the report): plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..facts import PortFacts
from ..findings import Finding, Severity, worst

#: RFC 8461 §3.3: senders fetch at most this much (postfix-mta-sts-resolver uses the same limit)
POLICY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class DomainOptions:
    resolver: str | None = None  #: "IP[:PORT]" of the resolver to ask; None: the system's first
    port: int = 25  #: MX port (the lab moves it; RFC 5321 senders use 25)
    policy_port: int = 443  #: HTTPS port of mta-sts.<domain> (the lab moves it)
    ca_file: str | None = None  #: extra trust anchors for MX and policy certificates
    timeout: float = 10.0  #: per DNS query, HTTPS fetch and SMTP phase
    remember: str | None = None  #: JSON file keeping the last MTA-STS id and policy hash per domain


@dataclass(frozen=True)
class DnsAnswer:
    """One lookup as a validating resolver saw it."""

    name: str
    rdtype: str
    rcode: str  #: NOERROR, NXDOMAIN, SERVFAIL, TIMEOUT, ERROR
    records: tuple[str, ...] = ()
    state: str = "insecure"  #: secure | insecure | bogus | error
    ede: tuple[tuple[int, str], ...] = ()  #: RFC 8914 extended errors (code, text) from the resolver
    #: when bogus: the expiration (UTC, ISO) of an RRSIG over the answer that is already past, read from the
    #: unvalidated (CD) answer; a resolver answering from its cache often gives only a bare EDE 6
    rrsig_expired: str | None = None

    @property
    def exists(self) -> bool:
        return self.rcode == "NOERROR" and bool(self.records)


@dataclass
class MXHost:
    host: str
    preference: int
    addresses: tuple[str, ...] = ()
    lookups: list[DnsAnswer] = field(default_factory=list)
    probes: list[PortFacts] = field(default_factory=list)  #: one per address
    tlsa: DnsAnswer | None = None


@dataclass
class PolicyFetch:
    """The GET of https://mta-sts.<domain>/.well-known/mta-sts.txt, as it happened."""

    url: str
    address: str | None = None
    error: str | None = None  #: connect / TLS failure (OpenSSL's or httpx's words)
    cert_error: bool = False
    status: int | None = None
    content_type: str | None = None
    location: str | None = None
    body: bytes = b""
    too_large: bool = False


@dataclass
class DomainFacts:
    domain: str
    resolver: str
    validating: bool | None = None  #: None: the self-test got no answer
    mx_answer: DnsAnswer | None = None
    implicit_mx: bool = False
    null_mx: bool = False
    mx: list[MXHost] = field(default_factory=list)
    sts_txt: DnsAnswer | None = None
    policy_host: DnsAnswer | None = None
    policy: PolicyFetch | None = None
    tlsrpt_txt: DnsAnswer | None = None
    remembered: dict[str, str] | None = None  #: {"id": …, "sha256": …} from --remember, before this run


@dataclass
class DomainReport:
    facts: DomainFacts
    findings: list[Finding]
    sections: dict[str, object] = field(default_factory=dict)  #: parsed STS/TLS-RPT/DANE summaries for JSON

    @property
    def severity(self) -> Severity:
        return worst(self.findings)
