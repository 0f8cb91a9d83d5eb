"""One JSONL record per target: versioned (docs/scan.schema.json), facts and findings, never a traceback.

The record is built where the probe ran (a worker process, a Dask worker) and travels as one line of
text: cheap to pickle, written with one ``write`` so an interrupted scan leaves whole lines only.
Server and certificate text is carried as JSON strings (escaped, so inert in any terminal).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..diagnose.port import diagnose_port
from ..facts import Outcome, PortFacts
from ..findings import Finding, Severity, worst
from ..i18n import Localized, Term
from ..probe.many import ProbeResult, Target

SCHEMA = "https://smtp-doctor.invalid/schema/scan/1"
SCHEMA_VERSION = 1
#: Fields that differ between two runs of the same scan (excluded when comparing engines).
VOLATILE = ("time", "seconds", "attempts")
#: Findings that make a target "unsafe" in the summary, besides any error-level TLS finding.
UNSAFE = ("mode.plaintext", "tls.old_version")


def _param(value: Any) -> Any:
    if isinstance(value, Term):
        return value.key
    if isinstance(value, Localized):
        return value.get("en")
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def finding_json(f: Finding) -> dict[str, Any]:
    """Id, severity and parameters: the words are in the catalogue (``finding.<id>.verdict``), in both languages."""
    return {"id": f.id, "severity": str(f.severity), "params": {k: _param(v) for k, v in f.params.items()}}


def _tls(facts: PortFacts, now: datetime) -> dict[str, Any] | None:
    tls = facts.tls
    if tls is None:
        return None
    leaf = tls.certs[0] if tls.certs else None
    order = {"ca-file": 0, "system": 1, "certifi": 2}  # the user's own CA first, as the diagnosis does
    failing = min((v for v in tls.verifications if not v.ok), key=lambda v: order.get(v.source, 9), default=None)
    return {
        "version": tls.version, "cipher": tls.cipher, "bits": tls.bits, "sni": tls.sni,
        "hostname": tls.hostname, "hostname_ok": tls.hostname_ok,
        "subject": leaf.subject if leaf else None, "issuer": leaf.issuer if leaf else None,
        "names": list(leaf.san_dns + leaf.san_ip) if leaf else [],
        "not_before": leaf.not_before if leaf else None, "not_after": leaf.not_after if leaf else None,
        "days_left": (datetime.fromisoformat(leaf.not_after) - now).days if leaf else None,
        "key": leaf.key if leaf else None, "sha256": leaf.sha256 if leaf else None, "chain_length": len(tls.certs),
        "trusted": {v.source: v.ok for v in tls.verifications},
        "verify_error": failing.error if failing else None,
    }


def facts_json(facts: PortFacts, now: datetime) -> dict[str, Any]:
    g = facts.greeting
    out: dict[str, Any] = {
        "outcome": str(facts.outcome), "mode": str(facts.mode),
        "greeting_code": g.code if g else None, "banner": g.lines[0][:200] if g and g.lines else None,
        "starttls_offered": (facts.ehlo_plain.starttls if facts.ehlo_plain else None),
        "starttls_code": facts.starttls_reply.code if facts.starttls_reply else None,
        "tls": _tls(facts, now),
        "tls_error": ({"kind": facts.tls_error.kind, "message": facts.tls_error.message}
                      if facts.tls_error else None),
        "timed_out": facts.timed_out, "closed_at": facts.closed_at,
    }
    if facts.tls_versions:
        out["tls_versions"] = {v.version: v.accepted for v in facts.tls_versions}
    return out


def base(target: Target | None, text: str) -> dict[str, Any]:
    return {"$schema": SCHEMA, "schema_version": SCHEMA_VERSION, "target": target.key if target else text,
            "input": text, "host": target.host if target else None, "port": target.port if target else None}


def finish(rec: dict[str, Any], status: str, severity: Severity, findings: list[dict[str, Any]],
           error: tuple[str, str] | None = None, facts: dict[str, Any] | None = None, address: str | None = None,
           attempts: int = 0, seconds: float = 0.0) -> dict[str, Any]:
    rec.update({"address": address, "status": status, "severity": str(severity),
                "error": {"class": error[0], "message": error[1]} if error else None,
                "facts": facts, "findings": findings, "attempts": attempts, "seconds": round(seconds, 4),
                "time": datetime.now(UTC).isoformat(timespec="seconds")})
    return rec


def result_record(result: ProbeResult, text: str, ca_file: str | None = None) -> dict[str, Any]:
    """A probed target: status ``ok``, ``unreachable``, ``rate_limited`` or ``error`` (a bug, one line)."""
    now = datetime.now(UTC)
    rec = base(result.target, text)
    facts = result.facts
    args: dict[str, Any] = {"attempts": result.attempts, "seconds": result.seconds,
                            "address": facts.address if facts else None}
    if facts is None or result.error == "internal":
        finding = Finding("scan.internal", Severity.ERROR, {"error": result.detail})
        return finish(rec, "error", Severity.ERROR, [finding_json(finding)], ("internal", result.detail), **args)
    if result.error == "excluded":
        return finish(rec, "excluded", Severity.OK, [], ("excluded", result.detail), **args)
    if result.error == "rate_limited":  # what we saw is the server's "not now", not its TLS: no verdict on it
        finding = Finding("scan.rate_limited", Severity.WARNING, {"reply": result.detail})
        return finish(rec, "rate_limited", Severity.WARNING, [finding_json(finding)],
                      ("rate_limited", result.detail), facts_json(facts, now), **args)
    diagnosis = diagnose_port(facts, now, ca_file)
    findings = [finding_json(f) for f in diagnosis.findings]
    severity = worst(diagnosis.findings)
    if facts.outcome is not Outcome.CONNECTED:
        return finish(rec, "unreachable", severity, findings, (str(facts.outcome), facts.outcome_detail[:200]),
                      facts_json(facts, now), **args)
    return finish(rec, "ok", severity, findings, None, facts_json(facts, now), **args)


def problem_record(text: str, cls: str, message: str, target: Target | None = None) -> dict[str, Any]:
    """A line that was not probed: ``invalid`` input, ``excluded`` (opt-out), or a domain with no mail host."""
    status = {"excluded": "excluded", "null_mx": "unreachable", "no_mx": "unreachable"}.get(cls, "invalid")
    severity = Severity.OK if status == "excluded" else Severity.ERROR
    findings = [] if status == "excluded" else [finding_json(Finding(f"scan.{cls}", severity, {"input": text}))]
    return finish(base(target, text), status, severity, findings, (cls, message))


def dumps(rec: dict[str, Any]) -> str:
    return json.dumps(rec, ensure_ascii=True, separators=(",", ":")) + "\n"
