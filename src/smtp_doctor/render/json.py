"""The probe's JSON: one object per host, versioned (docs/json-schema.md documents it)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from ..diagnose.host import HostReport
from ..diagnose.port import PortDiagnosis
from ..smtp.dialogue import TranscriptLine
from ..smtp.reply import Reply

SCHEMA = "https://smtp-doctor.invalid/schema/probe/1"
SCHEMA_VERSION = 1


def _reply(r: Reply | None) -> dict[str, Any] | None:
    return None if r is None else {"code": r.code, "enhanced": r.enhanced, "lines": list(r.lines)}


def _text(data: bytes) -> str | None:
    return data.decode("latin-1").encode("unicode_escape").decode("ascii") if data else None


def port_json(d: PortDiagnosis, transcript: bool) -> dict[str, Any]:
    f = d.facts
    tls = None
    if f.tls is not None:
        tls = {
            "version": f.tls.version, "cipher": f.tls.cipher, "bits": f.tls.bits, "sni": f.tls.sni,
            "hostname": f.tls.hostname, "hostname_ok": f.tls.hostname_ok,
            "chain": [{"subject": c.subject, "issuer": c.issuer, "common_name": c.common_name,
                       "san_dns": list(c.san_dns), "san_ip": list(c.san_ip), "not_before": c.not_before,
                       "not_after": c.not_after, "serial": c.serial, "sha256": c.sha256, "key": c.key,
                       "signature": c.signature, "self_issued": c.self_issued, "is_ca": c.is_ca,
                       "der_b64": base64.b64encode(der).decode()}
                      for c, der in zip(f.tls.certs, f.tls.chain, strict=True)],
            "verification": [{"source": v.source, "location": v.location, "ok": v.ok,
                              "error_code": v.error_code, "error": v.error, "error_depth": v.error_depth,
                              "chain": list(v.chain), "anchors": v.anchors} for v in f.tls.verifications],
        }
    out: dict[str, Any] = {
        "port": f.port, "address": f.address, "outcome": str(f.outcome), "outcome_detail": f.outcome_detail or None,
        "mode": str(f.mode), "severity": str(d.severity), "usable_as": d.usable_as,
        "greeting": _reply(f.greeting),
        "ehlo_plain": f.ehlo_plain.to_dict() if f.ehlo_plain else None,
        "ehlo_tls": f.ehlo_tls.to_dict() if f.ehlo_tls else None,
        "starttls_reply": _reply(f.starttls_reply),
        "bytes_after_starttls": _text(f.bytes_after_starttls),
        "tls": tls,
        "tls_error": None if f.tls_error is None else {"kind": f.tls_error.kind, "message": f.tls_error.message,
                                                       "received": _text(f.tls_error.received)},
        "first_bytes": _text(f.first_bytes[:120]),
        "protocol_error": f.protocol_error, "closed_at": f.closed_at, "timed_out": f.timed_out,
        "timings": {"detect_seconds": f.detect_seconds, "total_seconds": f.total_seconds,
                    "greeting_seconds": f.greeting_seconds},
        "findings": [x.to_dict() for x in d.findings],
        "commands": d.commands,
    }
    if f.tls_versions:
        out["tls_versions"] = [{"version": v.version, "accepted": v.accepted, "detail": v.detail or None}
                               for v in f.tls_versions]
    if f.auth_attempts:
        out["auth"] = [{"mechanism": a.mechanism, "outcome": str(a.outcome), "reply": _reply(a.reply),
                        "reason": a.reason} for a in f.auth_attempts]
    if transcript:
        out["transcript"] = _transcript(f.transcript)
        for entry, attempt in zip(out.get("auth", []), f.auth_attempts, strict=False):
            entry["transcript"] = _transcript(attempt.transcript)
    return out


def _transcript(lines: Iterable[TranscriptLine]) -> list[dict[str, Any]]:
    return [{"t": line.elapsed, "dir": line.direction.value, "text": line.text} for line in lines]


def host_json(report: HostReport, transcript: bool = False) -> dict[str, Any]:
    return {
        "$schema": SCHEMA, "schema_version": SCHEMA_VERSION, "tool": "smtp-doctor",
        "host": report.facts.host, "addresses": list(report.facts.addresses),
        "severity": str(report.severity),
        "recommendation": report.recommendation.to_dict(),
        "findings": [f.to_dict() for f in report.findings],
        "ports": [port_json(d, transcript) for d in report.ports],
    }
