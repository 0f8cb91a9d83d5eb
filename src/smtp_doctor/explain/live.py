"""``explain --probe``: ask the live server whether the explained failure is what it shows now.

The one place in explain that does I/O; it only calls the probe engine and compares its finding ids
with the mode's ``probe_confirms`` list (data, errors.toml).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..findings import Severity
from ..i18n import t
from .engine import Explanation, Match
from .knowledge import Mode

if TYPE_CHECKING:  # explaining a text needs no socket layer; --probe imports it (issue 16)
    from ..probe import ProbeOptions


@dataclass
class ProbeCheck:
    target: str
    status: str  #: "confirmed", "reranked" (another candidate confirmed: now the answer), "not_confirmed", …
    findings: list[tuple[str, str, str]] = field(default_factory=list)  #: (id, severity, verdict)
    confirming: frozenset[str] = frozenset()  #: the finding ids that confirm the mode

    def sentence(self) -> str:
        """What confirmed it first (even when it is not a problem in itself, such as "speaks STARTTLS"),
        else what the server shows that is wrong, else all it shows."""
        shown = ([v for i, _, v in self.findings if i in self.confirming]
                 or [v for _, sev, v in self.findings if sev != Severity.OK] or [v for _, _, v in self.findings])
        return t(f"explain.probe.{self.status}", target=self.target, findings="; ".join(shown) or "-")

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "status": self.status,
                "findings": [{"id": i, "severity": s, "verdict": v} for i, s, v in self.findings]}


def confirm(mode: Mode, host: str, port: int, options: ProbeOptions | None = None) -> ProbeCheck:
    from .. import probe as probe_report  # the library entry point (blocking)
    from ..probe import ProbeOptions

    options = options or ProbeOptions(timeout=20.0)
    if any(i.startswith("tls.") for i in mode.probe_confirms):  # a version mismatch shows only when each is tried
        options = replace(options, tls_versions=True)
    report = probe_report(host, [port], options)
    found = [(f.id, str(f.severity), f.verdict()) for d in report.ports for f in d.findings]
    ids = {i for i, _, _ in found}
    if not mode.probe_confirms:
        status = "not_applicable"
    elif ids & set(mode.probe_confirms):
        status = "confirmed"
    else:
        status = "not_confirmed"
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ProbeCheck(target, status, found, frozenset(ids & set(mode.probe_confirms)))


def rerank(exp: Explanation, check: ProbeCheck) -> ProbeCheck:
    """Live evidence re-ranks the answer: when the server confirms another candidate (an alternative of the
    text, such as a greeting timeout's "plaintext on an implicit-TLS port"), that candidate becomes the
    answer and the headline says what the live server showed. A mode the live check does not show is never
    reported as confirmed."""
    if check.status == "confirmed" or not exp.matches:
        return check
    ids = {i for i, _, _ in check.findings}
    for m in exp.matches[1:]:
        hit = ids & set(m.mode.probe_confirms)
        if hit:
            exp.matches.remove(m)
            exp.matches.insert(0, Match(m.mode, max(0.85, m.confidence), m.evidence))
            return ProbeCheck(check.target, "reranked", check.findings, frozenset(hit))
    return check
