"""``audit``: is this mail server safe? STARTTLS injection, the STARTTLS state machine, TLS and revocation.

The probe (``smtp_doctor.probe``) learns the mode, capabilities, chain and TLS versions; the audit adds
its own connections for what a probe must never do in passing (pipelining after STARTTLS, MAIL FROM
before TLS, weak-suite handshakes, stapling, CRL/OCSP fetches), then ``diagnose`` judges, purely.
Nothing here sends a credential, DATA, or anything to an address other than the one named (the
revocation URLs written in its certificate aside).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from ..facts import Mode, Outcome
from ..findings import Finding, Severity, worst
from ..probe.engine import probe_port
from ..probe.options import ProbeOptions
from ..probe.resolve import ResolveError, resolve
from ..x509.revocation import check_revocation, issuer_of, judge_ocsp_response, urls
from .diagnose import diagnose
from .model import InjectionResult, PortAudit, Role, Verdict
from .starttls import check_fixation, check_injection, check_session
from .tls import ocsp_staple, weak_suites

__all__ = ["AuditOptions", "AuditResult", "InjectionResult", "PortAudit", "Role", "Verdict", "audit", "audit_async",
           "role_for"]


def role_for(port: int) -> Role:
    """25 is a relay port; 465, 587 and anything unusual are rated as submission (the stricter)."""
    return Role.RELAY if port == 25 else Role.SUBMISSION


@dataclass(frozen=True)
class AuditOptions:
    probe: ProbeOptions = field(default_factory=ProbeOptions)
    role: Role | None = None  #: None: from the port number
    #: Fetch the CRL/OCSP URLs the certificate names. Off by default: it is the one kind of traffic to an
    #: address other than the one named (testssl.sh asks for --phone-out for the same reason).
    revocation: bool = False
    suites: bool = True
    staple: bool = True


@dataclass
class AuditResult:
    host: str
    addresses: tuple[str, ...] = ()
    ports: list[PortAudit] = field(default_factory=list)
    error: str = ""

    @property
    def findings(self) -> list[Finding]:
        return [f for p in self.ports for f in p.findings]

    @property
    def worst(self) -> Severity:
        return worst(self.findings)

    @property
    def reachable(self) -> bool:
        return any(p.facts.outcome is Outcome.CONNECTED and p.facts.mode is not Mode.UNKNOWN for p in self.ports)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {"schema": "https://smtp-doctor.invalid/schema/audit/1", "host": self.host,
                "addresses": list(self.addresses), "worst": str(self.worst), "error": self.error or None,
                "ports": [_port_dict(p, lang) for p in self.ports]}


def _port_dict(p: PortAudit, lang: str | None) -> dict[str, Any]:
    f = p.facts
    return {"port": p.port, "role": str(p.role), "address": f.address, "outcome": str(f.outcome),
            "mode": str(f.mode), "seconds": p.seconds,
            "injection": p.injection.to_dict() if p.injection else None,
            "session": p.session.to_dict() if p.session else None,
            "auth_before_tls": list(f.ehlo_plain.auth) if f.ehlo_plain else None,
            "bytes_after_220": (f.bytes_after_starttls.decode("latin-1") or None),
            "tls": None if f.tls is None else {
                "version": f.tls.version, "cipher": f.tls.cipher,
                "chain": [{"subject": c.subject, "issuer": c.issuer, "key": c.key, "signature": c.signature}
                          for c in f.tls.certs]},
            "tls_versions": {v.version: v.accepted for v in f.tls_versions},
            "suites": [s.to_dict() for s in p.suites],
            "ocsp_staple": p.staple.to_dict() if p.staple else None,
            "revocation": [r.to_dict() for r in p.revocation] if p.revocation_checked else None,
            "revocation_urls": list(p.revocation_urls),
            "findings": [x.to_dict(lang) for x in p.findings]}


def _extra_issuers(ca_file: str | None) -> list[x509.Certificate]:
    if not ca_file:
        return []
    try:
        return x509.load_pem_x509_certificates(Path(ca_file).read_bytes())
    except (OSError, ValueError):
        return []


async def _revocation(pa: PortAudit, opts: AuditOptions) -> None:
    tls = pa.facts.tls
    if tls is None or not tls.chain:
        return
    leaf = x509.load_der_x509_certificate(tls.chain[0])
    crl_urls, ocsp_urls = urls(leaf)
    pa.revocation_urls = crl_urls + ocsp_urls
    extra = _extra_issuers(opts.probe.ca_file)
    if opts.revocation:
        pa.revocation_checked = True
        pa.revocation = await asyncio.to_thread(check_revocation, tls.chain, extra)
    if pa.staple is not None and pa.staple.response:  # judged like a fetched answer; it costs no traffic
        issuer = issuer_of(leaf, [x509.load_der_x509_certificate(d) for d in tls.chain[1:]] + extra)
        if issuer is not None:
            pa.revocation += (judge_ocsp_response(leaf, issuer, pa.staple.response, "ocsp-staple", "-"),)


async def audit_port(host: str, addresses: tuple[str, ...], port: int, opts: AuditOptions) -> PortAudit:
    """Every check of one port; the checks needing their own connections run side by side."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    probe_opts = dataclasses.replace(opts.probe, tls_versions=True)
    facts = await probe_port(host, addresses, port, probe_opts)
    pa = PortAudit(port, opts.role or role_for(port), facts)
    address = facts.address
    if address is None or facts.outcome is not Outcome.CONNECTED or facts.mode not in (
            Mode.STARTTLS, Mode.PLAINTEXT, Mode.IMPLICIT_TLS):
        pa.seconds = round(loop.time() - started, 3)
        return pa

    async def injection() -> None:
        pa.injection = await check_injection(host, address, port, probe_opts)

    async def session() -> None:
        facts_, kept = await asyncio.gather(check_session(host, address, port, probe_opts),
                                            check_fixation(host, address, port, probe_opts))
        pa.session = dataclasses.replace(facts_, rcpt_after_tls=kept)

    async def suites() -> None:
        accepted = tuple(v.version for v in facts.tls_versions if v.accepted)
        pa.suites = await weak_suites(host, address, port, facts.mode, probe_opts, accepted)

    async def staple() -> None:
        pa.staple = await ocsp_staple(host, address, port, facts.mode, probe_opts)

    jobs = []
    if facts.mode is Mode.STARTTLS:
        jobs += [injection(), session()]
    elif facts.mode is Mode.PLAINTEXT:
        jobs.append(session())
    if facts.tls is not None:
        jobs += ([suites()] if opts.suites else []) + ([staple()] if opts.staple else [])
    await asyncio.gather(*jobs)
    await _revocation(pa, opts)
    pa.findings = diagnose(pa)
    pa.seconds = round(loop.time() - started, 3)
    return pa


async def audit_async(host: str, ports: Sequence[int], opts: AuditOptions | None = None) -> AuditResult:
    opts = opts or AuditOptions()
    result = AuditResult(host)
    try:
        result.addresses = await resolve(host, opts.probe.phase(opts.probe.connect_timeout))
    except ResolveError as exc:
        result.error = exc.detail
        return result
    result.ports = list(await asyncio.gather(*(audit_port(host, result.addresses, p, opts) for p in ports)))
    return result


def audit(host: str, ports: Sequence[int], opts: AuditOptions | None = None) -> AuditResult:
    """The library entry point: audit ``ports`` of ``host`` and return the typed result."""
    return asyncio.run(audit_async(host, ports, opts))

