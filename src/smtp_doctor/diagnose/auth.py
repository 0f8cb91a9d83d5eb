"""AUTH attempts and test deliveries → findings (pure)."""

from __future__ import annotations

from ..facts import AuthAttempt, AuthOutcome
from ..findings import Finding, Severity
from ..i18n import Term
from ..probe.send import Delivery

#: How each framework spells a mechanism (the "configure this" line).
SPELLING = {
    "PLAIN": ("plain", ":plain", "PLAIN"), "LOGIN": ("login", ":login", "LOGIN"),
    "CRAM-MD5": ("cram_md5", ":cram_md5", "CRAM-MD5"), "XOAUTH2": ("xoauth2", ":xoauth2", "XOAUTH2"),
}


def _reply_text(attempt: AuthAttempt) -> str:
    if attempt.reply is None:
        return "-"
    return " ".join(attempt.reply.wire())[:300]


def auth_findings(attempts: list[AuthAttempt], recommended: str | None, subject: str) -> list[Finding]:
    out: list[Finding] = []
    skipped: dict[str, list[str]] = {}  # one finding per reason, not one per mechanism
    for a in attempts:
        if a.outcome is AuthOutcome.NOT_ATTEMPTED:
            skipped.setdefault(a.reason or "auth.reason.no_session", []).append(a.mechanism)
    for reason, mechanisms in skipped.items():
        out.append(Finding("auth.not_attempted", Severity.WARNING,
                           {"port": attempts[0].port, "mechanism": " ".join(mechanisms), "reason": Term(reason)},
                           subject=subject))
    for a in attempts:
        p = {"port": a.port, "mechanism": a.mechanism}
        if a.outcome is AuthOutcome.OK:
            out.append(Finding("auth.works", Severity.OK, p, subject=subject))
        elif a.outcome is AuthOutcome.REJECTED:
            code = a.reply.code if a.reply else 0
            kind = {535: "credentials", 534: "too_weak", 538: "encryption", 504: "mechanism",
                    530: "required", 454: "temporary"}.get(code, "other")
            out.append(Finding(f"auth.rejected_{kind}", Severity.ERROR, {**p, "reply": _reply_text(a)},
                               subject=subject))
        elif a.outcome is AuthOutcome.NOT_ATTEMPTED:
            continue
        elif a.outcome is AuthOutcome.UNSUPPORTED:
            out.append(Finding("auth.unsupported", Severity.INFO, p, subject=subject))
        elif a.outcome is AuthOutcome.NO_CREDENTIAL:
            out.append(Finding("auth.no_credential", Severity.INFO,
                               {**p, "reason": Term(a.reason or "auth.reason.no_password")}, subject=subject))
        else:
            out.append(Finding("auth.broken", Severity.ERROR,
                               {**p, "reason": Term(a.reason or "auth.reason.broken"), "reply": _reply_text(a)},
                               subject=subject))
    if recommended:
        rails, sym, generic = SPELLING.get(recommended, (recommended.lower(), f":{recommended.lower()}", recommended))
        out.append(Finding("auth.recommend", Severity.OK, {"mechanism": recommended, "rails": sym,
                                                            "name": rails, "generic": generic}, subject=subject))
    elif attempts and any(a.outcome is AuthOutcome.REJECTED for a in attempts):
        out.append(Finding("auth.none_works", Severity.ERROR, {}, subject=subject))
    elif attempts and any(a.outcome is AuthOutcome.ERROR for a in attempts):  # never a yes or a no
        out.append(Finding("auth.none_completed", Severity.ERROR, {}, subject=subject))
    return out


def delivery_findings(d: Delivery, subject: str) -> list[Finding]:
    out: list[Finding] = []
    if d.broken is not None and d.failed_phase is not None:  # no reply: say what the server did instead
        out.append(Finding("send.broken", Severity.ERROR, {"phase": Term(f"send.phase.{d.failed_phase}"),
                                                           "what": Term(f"auth.reason.{d.broken}")}, subject=subject))
    elif d.failed_phase in ("greeting", "ehlo", "starttls", "ehlo_tls"):
        reply = d.replies[d.failed_phase]
        out.append(Finding("send.refused_session", Severity.ERROR, {
            "phase": Term(f"send.phase.{d.failed_phase}"), "code": reply.code,
            "reply": " ".join(reply.wire())[:300]}, subject=subject))
    elif d.failed_phase == "auth":
        auth_reply = d.replies.get("auth")
        out.append(Finding("send.login_failed", Severity.ERROR, {
            "mechanism": d.mechanism or "-", "reply": " ".join(auth_reply.wire())[:300] if auth_reply else "-"},
            subject=subject))
    elif d.failed_phase is not None:
        reply = next(reversed(d.replies.values()))
        code = reply.code
        kind = {"mail": "sender", "rcpt": "recipient", "data": "data", "data_end": "content"}[d.failed_phase]
        out.append(Finding(f"send.refused_{kind}", Severity.ERROR,
                           {"code": code, "reply": " ".join(reply.wire())[:300]}, subject=subject))
    elif d.dry_run:
        out.append(Finding("send.dry_run_ok", Severity.OK, {"count": sum(1 for k in d.replies if k.startswith("rcpt"))},
                           subject=subject))
    else:
        reply = d.replies["data_end"]
        out.append(Finding("send.queued", Severity.OK, {"reply": " ".join(reply.wire())[:300],
                                                        "message_id": d.message_id or "-"}, subject=subject))
    return out
