"""The probe: the only part of smtp-doctor that does network I/O.

``probe_host`` resolves once and probes every port concurrently; each port gets its own deadline,
so one silent port cannot delay the others' results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..facts import HostFacts
    from .options import DEFAULT_PORTS, ProbeOptions

__all__ = ["DEFAULT_PORTS", "ProbeOptions", "probe_host"]


def __getattr__(name: str) -> Any:
    """``DEFAULT_PORTS`` and ``ProbeOptions`` on first use: ``import smtp_doctor`` loads no socket layer."""
    if name in ("DEFAULT_PORTS", "ProbeOptions"):
        from . import options

        return getattr(options, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def probe_host(host: str, ports: Sequence[int] | None = None, opts: ProbeOptions | None = None
                     ) -> HostFacts:
    import asyncio  # here, not at the top: ``import smtp_doctor`` stays cheap (issue 16)

    from ..facts import HostFacts, PortFacts
    from .engine import probe_port
    from .options import DEFAULT_PORTS, ProbeOptions
    from .resolve import ResolveError, resolve

    opts = opts or ProbeOptions()
    ports = DEFAULT_PORTS if ports is None else ports
    facts = HostFacts(host)
    try:
        facts.addresses = await resolve(host, opts.phase(opts.connect_timeout))
    except ResolveError as exc:
        facts.ports = [PortFacts(host, p, outcome=exc.outcome, outcome_detail=exc.detail) for p in ports]
        return facts
    facts.ports = list(await asyncio.gather(*(probe_port(host, facts.addresses, p, opts) for p in ports)))
    if opts.runtimes and any(p.tls and p.tls.chain for p in facts.ports):
        await asyncio.to_thread(_add_runtime_verifications, facts, opts.runtimes)
    return facts


def _add_runtime_verifications(facts: HostFacts, selected: Sequence[str]) -> None:
    """Verify each chain against every selected runtime's own store (asked of the interpreter itself)."""
    import dataclasses

    from ..trust.engine import assess
    from ..trust.runtimes import discover

    stores = [s for s in discover(None if "all" in selected else list(selected)) if s.found and not s.error]
    for port in facts.ports:
        if port.tls is None or not port.tls.chain:
            continue
        verdicts = assess(port.tls.chain, stores).verdicts
        extra = tuple(v.verification for v in verdicts if v.verification is not None)
        port.tls = dataclasses.replace(port.tls, verifications=port.tls.verifications + extra)
