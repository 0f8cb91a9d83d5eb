"""One port's facts → findings, a recommended client setting, and commands to check by hand."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..facts import Mode, Outcome, PortFacts
from ..findings import Finding, Severity, worst
from ..i18n import Term
from ..smtp.reply import foreign_protocol
from .auth import auth_findings
from .cert import cert_findings

#: What each port is for, by convention (RFC 8314, RFC 6409, RFC 5321). Used only to *comment* on an
#: unusual setup; the mode itself is always what the probe observed.
CONVENTION = {465: Mode.IMPLICIT_TLS, 587: Mode.STARTTLS, 25: Mode.STARTTLS, 2525: Mode.STARTTLS}

_CONNECT = {
    Outcome.DNS_NXDOMAIN: "conn.dns_nxdomain", Outcome.DNS_FAILURE: "conn.dns_failure",
    Outcome.REFUSED: "conn.refused", Outcome.TIMEOUT: "conn.timeout",
    Outcome.UNREACHABLE: "conn.unreachable", Outcome.RESET: "conn.reset",
}


@dataclass
class PortDiagnosis:
    facts: PortFacts
    findings: list[Finding] = field(default_factory=list)
    #: "implicit_tls" / "starttls" when a client can be told to use this port, else None
    usable_as: str | None = None
    commands: list[str] = field(default_factory=list)

    @property
    def severity(self) -> Severity:
        return worst(self.findings)

    @property
    def subject(self) -> str:
        """``host:port``; an IPv6 literal in brackets (``[::1]:587``), else its port could not be told apart."""
        host = f"[{self.facts.host}]" if ":" in self.facts.host else self.facts.host
        return f"{host}:{self.facts.port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _commands(f: PortFacts, ca_file: str | None) -> list[str]:
    target = f"{f.host}:{f.port}" if ":" not in f.host else f"[{f.host}]:{f.port}"
    ca = f" -CAfile {ca_file}" if ca_file else ""
    literal = _is_ip(f.host)  # an IP (v4 or v6) is never sent as SNI and is verified with -verify_ip
    name = f.tls.sni if f.tls and f.tls.sni else (None if literal else f.host)
    sni = f" -servername {name} -verify_hostname {name}" if name else (f" -verify_ip {f.host}" if literal else "")
    if f.mode is Mode.IMPLICIT_TLS:
        return [f"openssl s_client -connect {target}{sni}{ca} -verify_return_error -brief",
                f"swaks --server {target} --tls-on-connect --quit-after EHLO"]
    if f.mode is Mode.STARTTLS:
        return [f"openssl s_client -connect {target} -starttls smtp{sni}{ca} -verify_return_error -brief",
                f"swaks --server {target} --tls --quit-after EHLO"]
    if f.outcome is Outcome.CONNECTED:
        return [f"swaks --server {target} --quit-after EHLO", f"openssl s_client -connect {target}{sni}"]
    return [f"nc -vz -w 5 {f.host} {f.port}"]


def diagnose_port(f: PortFacts, now: datetime | None = None, ca_file: str | None = None) -> PortDiagnosis:
    now = now or datetime.now(UTC)
    subject = f"{f.host}:{f.port}"
    d = PortDiagnosis(f)
    out = d.findings
    p = {"host": f.host, "port": f.port}
    if f.outcome is not Outcome.CONNECTED:
        out.append(Finding(_CONNECT[f.outcome], Severity.ERROR, {**p, "detail": f.outcome_detail}, subject=subject))
        d.commands = _commands(f, ca_file)
        return d

    detect = {"seconds": f"{f.detect_seconds:.2f}" if f.detect_seconds is not None else "?"}
    first = f.first_bytes[:60].decode("latin-1").encode("unicode_escape").decode("ascii")
    known = foreign_protocol(f.first_bytes.split(b"\n", 1)[0]) if f.mode in (Mode.NOT_SMTP, Mode.TLS_NOT_SMTP) else ""
    if known and known != "HTTP":  # another mail service's port, most often: say which
        out.append(Finding("mode.not_smtp_known", Severity.ERROR, {**p, "protocol": known, "sample": first},
                           (("first bytes", first),), subject))
    elif f.mode is Mode.NOT_SMTP:
        if f.protocol_error:
            out.append(Finding(f"smtp.protocol_{f.protocol_error}", Severity.ERROR,
                               {**p, "phase": Term(f"phase.{f.protocol_error_phase or 'greeting'}")},
                               (("first bytes", first),), subject))
        else:
            kind = "http" if f.first_bytes.startswith(b"HTTP/") else "other"
            out.append(Finding(f"mode.not_smtp_{kind}", Severity.ERROR, {**p, "sample": first},
                               (("first bytes", first),), subject))
    elif f.mode is Mode.SILENT:
        out.append(Finding("mode.silent", Severity.ERROR, {**p, **detect}, subject=subject))
    elif f.mode is Mode.CLOSED:
        out.append(Finding("mode.closed", Severity.ERROR, p, subject=subject))
    elif f.mode is Mode.TLS_NOT_SMTP:
        out.append(Finding("mode.tls_not_smtp", Severity.ERROR, p, subject=subject))
    elif f.greeting is None:
        out.append(Finding("smtp.tarpit", Severity.ERROR, {**p, "sample": first, **detect}, subject=subject))
    elif f.greeting.code != 220:
        out.append(Finding("smtp.greeting_refused", Severity.ERROR,
                           {**p, "code": f.greeting.code, "text": f.greeting.lines[0][:200]}, subject=subject))
    else:
        out.append(Finding(f"mode.{f.mode}", Severity.WARNING if f.mode is Mode.PLAINTEXT else Severity.OK,
                           {**p, **detect},
                           (("banner", f.greeting.lines[0][:200]),), subject))
        expected = CONVENTION.get(f.port)
        if expected is not None and expected is not f.mode:
            out.append(Finding("mode.unconventional", Severity.INFO,
                               {**p, "mode": Term(f"modename.{f.mode}"), "expected": Term(f"modename.{expected}")},
                               subject=subject))
    if f.greeting is not None and f.greeting.invalid_utf8:
        out.append(Finding("smtp.invalid_utf8", Severity.INFO, p, subject=subject))
    caps = [c for c in (f.ehlo_plain, f.ehlo_tls) if c is not None]  # lines RFC 5321/1870 do not allow
    odd = list(dict.fromkeys([x for c in caps for x in c.invalid] + [f"SIZE {c.keywords['SIZE']}" for c in caps
                                                                     if c.size_invalid]))
    if odd:
        out.append(Finding("smtp.ehlo_malformed", Severity.INFO, {**p, "count": len(odd), "sample": odd[0][:80]},
                           subject=subject))

    if f.closed_at:
        out.append(Finding("smtp.closed", Severity.ERROR, {**p, "phase": Term(f"phase.{f.closed_at}")},
                           subject=subject))
    if f.timed_out and f.mode not in (Mode.SILENT, Mode.TLS_NOT_SMTP) and f.greeting is not None:
        out.append(Finding("smtp.timeout", Severity.ERROR, {**p, "phase": Term(f"phase.{f.timed_out}")},
                           subject=subject))
    if f.protocol_error and f.mode is not Mode.NOT_SMTP and not known:
        out.append(Finding(f"smtp.protocol_{f.protocol_error}", Severity.ERROR,
                           {**p, "phase": Term(f"phase.{f.protocol_error_phase}")}, subject=subject))

    _starttls_findings(f, out, p, subject)
    _auth_findings(f, out, p, subject)
    if f.tls is not None:
        modern = f.tls.version in ("TLSv1.2", "TLSv1.3")
        out.append(Finding("tls.negotiated" if modern else "tls.old_version",
                           Severity.OK if modern else Severity.ERROR,
                           {"version": f.tls.version, "cipher": f.tls.cipher}, subject=subject))
        out.extend(cert_findings(f.tls, subject, now))
    if f.tls_versions:
        out.extend(_version_findings(f, subject))

    if f.auth_attempts:
        from ..probe.auth import recommended

        out.extend(auth_findings(f.auth_attempts, recommended(f.auth_attempts), subject))
    if f.mode in (Mode.IMPLICIT_TLS, Mode.STARTTLS) and f.tls is not None and worst(out) in (
            Severity.OK, Severity.INFO, Severity.WARNING):
        d.usable_as = f.mode.value
    d.commands = _commands(f, ca_file)
    return d


_LEGACY = ("TLSv1", "TLSv1.1")


def _version_findings(f: PortFacts, subject: str) -> list[Finding]:
    """The edges of what the port accepts: legacy versions still on, or TLS 1.3 alone."""
    accepted = [v.version for v in f.tls_versions if v.accepted]
    refused = [v.version for v in f.tls_versions if v.accepted is False]
    untested = [v for v in f.tls_versions if v.accepted is None]
    p = {"port": f.port, "accepted": ", ".join(accepted) or "-", "refused": ", ".join(refused) or "-"}
    out = [Finding("tls.versions", Severity.INFO, p, subject=subject)]
    for v in untested:
        out.append(Finding("tls.version_untested", Severity.INFO, {**p, "version": v.version, "detail": v.detail},
                           subject=subject))
    legacy = [v for v in accepted if v in _LEGACY]
    if legacy and len(legacy) < len(accepted):  # legacy *alone* is tls.old_version, an error already
        out.append(Finding("tls.legacy_accepted", Severity.WARNING, {**p, "legacy": ", ".join(legacy)},
                           subject=subject))
    if accepted == ["TLSv1.3"] and not untested:
        out.append(Finding("tls.tls13_only", Severity.WARNING, p, subject=subject))
    return out


def _starttls_findings(f: PortFacts, out: list[Finding], p: dict[str, object], subject: str) -> None:
    if f.mode is not Mode.STARTTLS:
        return
    reply = f.starttls_reply
    if reply is not None and reply.code != 220:
        out.append(Finding("starttls.refused", Severity.ERROR, {**p, "code": reply.code, "text": reply.lines[0][:200]},
                           subject=subject))
    if f.bytes_after_starttls:
        sample = f.bytes_after_starttls[:80].decode("latin-1").encode("unicode_escape").decode("ascii")
        out.append(Finding("starttls.injection", Severity.CRITICAL,
                           {**p, "count": len(f.bytes_after_starttls), "sample": sample}, subject=subject))
    if f.tls_error is not None:
        received = f.tls_error.received[:60].decode("latin-1").encode("unicode_escape").decode("ascii")
        kind = f.tls_error.kind if f.tls_error.kind in ("not_tls", "closed", "reset", "timeout") else "error"
        out.append(Finding(f"starttls.handshake_{kind}", Severity.ERROR,
                           {**p, "error": f.tls_error.message, "received": received}, subject=subject))
    if f.ehlo_tls is not None and f.ehlo_tls.starttls:
        out.append(Finding("starttls.reoffered", Severity.WARNING, p, subject=subject))


def _auth_findings(f: PortFacts, out: list[Finding], p: dict[str, object], subject: str) -> None:
    before = f.ehlo_plain.auth if f.ehlo_plain else ()
    after = f.ehlo_tls.auth if f.ehlo_tls else ()
    if before and f.mode is Mode.STARTTLS:
        out.append(Finding("auth.before_tls", Severity.ERROR, {**p, "mechanisms": " ".join(before)}, subject=subject))
    elif before and f.mode is Mode.PLAINTEXT:
        out.append(Finding("auth.plaintext_only", Severity.CRITICAL, {**p, "mechanisms": " ".join(before)},
                           subject=subject))
    if after:
        out.append(Finding("auth.offered", Severity.OK, {**p, "mechanisms": " ".join(after)}, subject=subject))
    elif f.tls is not None and (f.ehlo_tls is not None):
        out.append(Finding("auth.none", Severity.INFO, p, subject=subject))
