"""A host's ports together: which one should the client use, and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..facts import HostFacts, Outcome
from ..findings import Finding, Severity, worst
from .port import PortDiagnosis, diagnose_port
from .provider import provider_findings


@dataclass
class HostReport:
    facts: HostFacts
    ports: list[PortDiagnosis]
    recommendation: Finding
    findings: list[Finding] = field(default_factory=list)  #: about the host as a whole (provider …)

    @property
    def severity(self) -> Severity:
        return worst([f for d in self.ports for f in d.findings] + [self.recommendation] + self.findings)

    @property
    def reachable(self) -> bool:
        return any(d.facts.outcome is Outcome.CONNECTED for d in self.ports)


def diagnose_host(facts: HostFacts, now: datetime | None = None, ca_file: str | None = None) -> HostReport:
    ports = [diagnose_port(p, now, ca_file) for p in facts.ports]
    host_findings = provider_findings(facts, ports)
    usable = [d for d in ports if d.usable_as]
    # RFC 8314 §3.3: prefer implicit TLS over STARTTLS when both work equally well.
    usable.sort(key=lambda d: (d.severity.rank, d.usable_as != "implicit_tls"))
    if usable:
        best = usable[0]
        rec = Finding(f"rec.use_{best.usable_as}", Severity.OK, {"host": facts.host, "port": best.facts.port},
                      subject=facts.host)
    else:
        rec = Finding("rec.none", Severity.ERROR, {"host": facts.host}, subject=facts.host)
    return HostReport(facts, ports, rec, host_findings)
