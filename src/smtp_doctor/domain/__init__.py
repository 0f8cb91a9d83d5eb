"""``smtp-doctor domain``: will mail to this domain be delivered, and delivered securely?

MX, MTA-STS (RFC 8461), DANE (RFC 7672) with DNSSEC state, TLS-RPT (RFC 8460). ``check_domain`` is
the library entry point: gather (all I/O, concurrent) → diagnose (pure) → a ``DomainReport``.
"""

from __future__ import annotations

import asyncio

from .diagnose import diagnose
from .gather import gather, normalise, write_memory
from .model import DomainOptions, DomainReport

__all__ = ["DomainOptions", "DomainReport", "check_domain", "check_domain_sync"]


async def check_domain(domain: str, opts: DomainOptions | None = None) -> DomainReport:
    opts = opts or DomainOptions()
    name = normalise(domain)
    facts = await gather(name, opts)
    findings, sections = diagnose(facts)
    sts = sections.get("mta_sts")
    if opts.remember and isinstance(sts, dict) and sts.get("id") and sts.get("sha256"):
        write_memory(opts.remember, name, {"id": str(sts["id"]), "sha256": str(sts["sha256"])})
    return DomainReport(facts, findings, sections)


def check_domain_sync(domain: str, opts: DomainOptions | None = None) -> DomainReport:
    return asyncio.run(check_domain(domain, opts))
