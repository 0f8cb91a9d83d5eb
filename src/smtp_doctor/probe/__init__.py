"""The probe: the only part of smtp-doctor that does network I/O.

``probe_host`` resolves once and probes every port concurrently; each port gets its own deadline,
so one silent port cannot delay the others' results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..facts import HostFacts, PortFacts
from .options import DEFAULT_PORTS, ProbeOptions
from .resolve import ResolveError, resolve

__all__ = ["DEFAULT_PORTS", "ProbeOptions", "probe_host"]


async def probe_host(host: str, ports: Sequence[int] = DEFAULT_PORTS, opts: ProbeOptions | None = None
                     ) -> HostFacts:
    from .engine import probe_port

    opts = opts or ProbeOptions()
    facts = HostFacts(host)
    try:
        facts.addresses = await resolve(host, opts.phase(opts.connect_timeout))
    except ResolveError as exc:
        facts.ports = [PortFacts(host, p, outcome=exc.outcome, outcome_detail=exc.detail) for p in ports]
        return facts
    facts.ports = list(await asyncio.gather(*(probe_port(host, facts.addresses, p, opts) for p in ports)))
    return facts
