"""DNS as a sender's validating resolver sees it: answer, AD bit, extended DNS errors (RFC 8914).

Why a stub against a resolver instead of validating in-process: that is how MTAs work (Postfix
trusts the AD bit of its resolver), and internet.nl made the same move in 2025. A SERVFAIL is asked
again with CD set, so a bogus record is still shown, and the resolver's EDE says why it is bogus.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time

import dns.asyncquery
import dns.edns
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from ..errors import ExitCode, UserError
from .model import DnsAnswer

#: EDE codes that mean "the data failed validation" (internet.nl's list, checks/resolver.py)
BOGUS_EDE = {6, 7, 8, 9, 10, 11, 12}


def parse_resolver(text: str | None) -> tuple[str, int]:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT``; None picks the system's first nameserver."""
    if not text:
        with contextlib.suppress(Exception):
            return str(dns.resolver.Resolver().nameservers[0]), 53
        raise UserError("domain.error.no_resolver", ExitCode.USAGE)
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit() or not 0 < int(port) < 65536 or not dns.inet.is_address(host):
        raise UserError("domain.error.bad_resolver", ExitCode.USAGE, resolver=text)
    return host, int(port)


class Client:
    """Queries one resolver over UDP (TCP when truncated), DO always set."""

    def __init__(self, resolver: str | None, timeout: float) -> None:
        self.address, self.port = parse_resolver(resolver)
        self.timeout = timeout

    @property
    def label(self) -> str:
        return f"{self.address}:{self.port}"

    async def _ask(self, name: str, rdtype: str, cd: bool) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype, want_dnssec=True, payload=1232)
        q.flags |= dns.flags.AD | (dns.flags.CD if cd else 0)  # AD: RFC 6840 §5.7, tell us what you know
        response, _ = await dns.asyncquery.udp_with_fallback(q, self.address, self.timeout, self.port)
        return response

    async def validates(self) -> bool | None:
        """danecheck's self-test: does the resolver set AD on the root's DNSKEY (signed everywhere)?"""
        try:
            r = await self._ask(".", "DNSKEY", cd=False)
        except (dns.exception.DNSException, OSError):
            return None
        return bool(r.flags & dns.flags.AD) and r.rcode() == dns.rcode.NOERROR

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        try:
            r = await self._ask(name, rdtype, cd=False)
        except dns.exception.Timeout:
            return DnsAnswer(name, rdtype, "TIMEOUT", state="error")
        except (dns.exception.DNSException, OSError) as exc:
            return DnsAnswer(name, rdtype, "ERROR", state="error", ede=((-1, type(exc).__name__),))
        ede = tuple((int(e.code), e.text or "") for e in r.extended_errors())
        rcode = dns.rcode.to_text(r.rcode())
        if rcode == "SERVFAIL":
            state = "bogus" if any(code in BOGUS_EDE for code, _ in ede) else "error"
            try:  # the data as published, unvalidated, so the report can still show it
                again = await self._ask(name, rdtype, cd=True)
            except (dns.exception.DNSException, OSError):
                return DnsAnswer(name, rdtype, rcode, state=state, ede=ede)
            if again.rcode() != dns.rcode.SERVFAIL:
                state = "bogus"  # it resolves without validation, fails with it: bogus (internet.nl #1869)
                rcode = dns.rcode.to_text(again.rcode())
            return DnsAnswer(name, rdtype, rcode, _records(again, name, rdtype), state, ede, _expired(again, rdtype))
        state = "secure" if r.flags & dns.flags.AD else "insecure"
        return DnsAnswer(name, rdtype, rcode, _records(r, name, rdtype), state, ede)


def _records(r: dns.message.Message, name: str, rdtype: str) -> tuple[str, ...]:
    """The answer's records of ``rdtype`` (after any CNAME), as presentation text."""
    want = dns.rdatatype.from_text(rdtype)
    out: list[str] = []
    for rrset in r.answer:
        if rrset.rdtype == want:
            out += [rd.to_text() for rd in rrset]
    return tuple(out)


def _expired(r: dns.message.Message, rdtype: str) -> str | None:
    """The expiration of an RRSIG over ``rdtype`` in the answer that lies in the past, if any."""
    want, now = dns.rdatatype.from_text(rdtype), time.time()
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.RRSIG:
            for sig in rrset:
                if sig.type_covered == want and sig.expiration < now:  # type: ignore[attr-defined]
                    stamp = dt.datetime.fromtimestamp(sig.expiration, dt.UTC)  # type: ignore[attr-defined]
                    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def txt_strings(record: str) -> str:
    """A TXT record's character-strings joined (RFC 7208 §3.3 style), from presentation text."""
    rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, record)
    return b"".join(rd.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
