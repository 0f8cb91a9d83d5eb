"""smtp-doctor: find out why an application cannot send mail over SMTP, and what to change.

The library API mirrors the command line::

    import smtp_doctor
    report = smtp_doctor.probe("smtp.example.com", ports=[587, 465])
    for port in report.ports:
        print(port.subject, port.facts.mode, [f.verdict() for f in port.findings])
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from .credentials import AuthPolicy, Credentials
from .diagnose.host import HostReport, diagnose_host
from .diagnose.port import PortDiagnosis
from .facts import HostFacts, Mode, Outcome, PortFacts
from .findings import Finding, Severity
from .probe import DEFAULT_PORTS, ProbeOptions, probe_host

__all__ = [
    "DEFAULT_PORTS", "AuthPolicy", "Credentials", "Finding", "HostFacts", "HostReport", "Mode", "Outcome",
    "PortDiagnosis", "PortFacts", "ProbeOptions", "Severity", "probe", "probe_async",
]


async def probe_async(host: str, ports: Sequence[int] = DEFAULT_PORTS, options: ProbeOptions | None = None,
                      credentials: Credentials | None = None, policy: AuthPolicy | None = None) -> HostReport:
    """Probe ``host`` on ``ports`` concurrently and diagnose what was seen.

    With ``credentials``, every AUTH mechanism each port offers is then tried on its own fresh
    connection — only over verified TLS unless ``policy`` explicitly allows otherwise.
    """
    options = options or ProbeOptions()
    facts = await probe_host(host, ports, options)
    if credentials is not None:
        from .probe.auth import try_mechanisms

        facts.username = credentials.user
        for port in facts.ports:
            if port.outcome is Outcome.CONNECTED and port.greeting is not None and port.greeting.code == 220:
                port.auth_attempts = await try_mechanisms(port, credentials, options, policy or AuthPolicy())
    return diagnose_host(facts, ca_file=options.ca_file)


def probe(host: str, ports: Sequence[int] = DEFAULT_PORTS, options: ProbeOptions | None = None,
          credentials: Credentials | None = None, policy: AuthPolicy | None = None) -> HostReport:
    """Blocking form of :func:`probe_async` (starts its own event loop)."""
    return asyncio.run(probe_async(host, ports, options, credentials, policy))
