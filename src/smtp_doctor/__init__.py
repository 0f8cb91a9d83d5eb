"""smtp-doctor: find out why an application cannot send mail over SMTP, and what to change.

The library API mirrors the command line (``smtp_doctor.api`` has one function per command)::

    import smtp_doctor
    report = smtp_doctor.probe("smtp.example.com", ports=[587, 465])
    for port in report.ports:
        print(port.subject, port.facts.mode, [f.verdict() for f in port.findings])

Importing the package is cheap: the probe stack (asyncio, TLS, cryptography) loads when a probe runs,
and the names below are imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# The light ``probe`` subpackage first: were it imported later, the import system would set the package's
# ``probe`` attribute to the subpackage, over the ``probe()`` function defined below.
from . import probe as _probe_package  # noqa: F401

if TYPE_CHECKING:
    from .credentials import AuthPolicy, Credentials
    from .diagnose.host import HostReport
    from .diagnose.port import PortDiagnosis
    from .facts import HostFacts, Mode, Outcome, PortFacts
    from .findings import Finding, Severity
    from .probe.options import DEFAULT_PORTS, ProbeOptions

__all__ = [
    "DEFAULT_PORTS", "AuthPolicy", "Credentials", "Finding", "HostFacts", "HostReport", "Mode", "Outcome",
    "PortDiagnosis", "PortFacts", "ProbeOptions", "Severity", "probe", "probe_async",
]

_LAZY = {"DEFAULT_PORTS": "probe.options", "ProbeOptions": "probe.options",
         "AuthPolicy": "credentials", "Credentials": "credentials", "HostReport": "diagnose.host",
         "PortDiagnosis": "diagnose.port", "HostFacts": "facts", "Mode": "facts", "Outcome": "facts",
         "PortFacts": "facts", "Finding": "findings", "Severity": "findings"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def probe_async(host: str, ports: Sequence[int] | None = None, options: ProbeOptions | None = None,
                      credentials: Credentials | None = None, policy: AuthPolicy | None = None) -> HostReport:
    """Probe ``host`` on ``ports`` concurrently and diagnose what was seen.

    With ``credentials``, every AUTH mechanism each port offers is then tried on its own fresh
    connection — only over verified TLS unless ``policy`` explicitly allows otherwise. ``ports`` defaults
    to ``DEFAULT_PORTS`` (587, 465, 25).
    """
    from .credentials import AuthPolicy
    from .diagnose.host import diagnose_host
    from .facts import Outcome
    from .probe import probe_host
    from .probe.options import ProbeOptions

    options = options or ProbeOptions()
    facts = await probe_host(host, ports, options)
    if credentials is not None:
        from .probe.auth import try_mechanisms

        facts.username = credentials.user
        for port in facts.ports:
            if port.outcome is Outcome.CONNECTED and port.greeting is not None and port.greeting.code == 220:
                port.auth_attempts = await try_mechanisms(port, credentials, options, policy or AuthPolicy())
    return diagnose_host(facts, ca_file=options.ca_file)


def probe(host: str, ports: Sequence[int] | None = None, options: ProbeOptions | None = None,
          credentials: Credentials | None = None, policy: AuthPolicy | None = None) -> HostReport:
    """Blocking form of :func:`probe_async` (starts its own event loop)."""
    import asyncio

    return asyncio.run(probe_async(host, ports, options, credentials, policy))
