"""What ``check`` predicted, as text for a terminal or as the JSON document (schema_version 1)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from ..check import Checked, list_outcomes
from ..findings import Severity
from ..frameworks.apptrust import version_line, version_used
from ..i18n import Term, current_language, has, t
from ..plan import ConnectionPlan
from ..predict import Fix, Prediction, Verdict
from ..smtp.reply import Reply
from .inert import escape
from .lint import settings_json
from .text import ICON

JSON_SCHEMA_VERSION = 1
STYLE = {Verdict.DELIVERED: Severity.OK, Verdict.FAILS: Severity.ERROR, Verdict.UNREACHABLE: Severity.CRITICAL,
         Verdict.UNKNOWN: Severity.WARNING}


def _stores(p: ConnectionPlan) -> str:
    if p.pinned:  # msmtp tls_fingerprint: that certificate alone, no store
        return t("check.cli.stores_pinned", pinned=p.pinned)
    names = []
    for store in p.trust:
        if store == "system":
            names.append(t("check.cli.stores_system"))
            if p.trust_env:  # the runtime's store as the app's environment changes it (frameworks/apptrust.py)
                names.append(t("check.cli.stores_env", vars=", ".join(p.trust_env)))
        elif p.ca_unknown:
            names.append(t("check.cli.stores_ca_unknown"))
        else:
            names.append(t("check.cli.stores_ca_file", path=p.ca_file or p.ca_path or "-"))
    return ", ".join(names)


def _why_params(pred: Prediction) -> dict[str, Any]:
    params = dict(pred.params)
    params["app_mode"] = Term(f"frameworks.tlsmode.{params.get('app_mode', 'unknown')}")
    params["port_mode"] = Term(f"modename.{params.get('port_mode', 'unknown')}")
    for key in ("store", "location", "error", "names", "offered", "wanted", "timeout", "detail", "where", "ca_file"):
        params.setdefault(key, "-")
    return params


def failure_title(failure: str | None) -> str:
    key = f"explain.mode.{failure}.verdict"
    return t(key) if has(key) else str(failure)


def verdict_line(pred: Prediction) -> str:
    if pred.verdict is Verdict.DELIVERED:
        return t("check.cli.delivered")
    if pred.verdict is Verdict.UNREACHABLE:
        return t("check.cli.unreachable", failure=failure_title(pred.failure))
    if pred.verdict is Verdict.UNKNOWN:
        return t("check.cli.unknown")
    key = "check.cli.fails" if pred.certain else "check.cli.fails_likely"
    return t(key, failure=failure_title(pred.failure))


def plan_sentence(p: ConnectionPlan) -> str:
    """What the app will do: where it connects, in which mode, with which trust and AUTH (one sentence)."""
    mode = Term(f"frameworks.tlsmode.{p.mode.value if p.mode else 'unknown'}")
    parts = [t("check.cli.app_will", host=p.host or "?", port=p.port or "?", mode=mode)]
    if p.fallback is not None:
        parts.append(t("check.cli.app_fallback", mode=Term(f"frameworks.tlsmode.{p.fallback.value}")))
    if p.mode is not None and p.mode.value != "none":
        parts.append(t("check.cli.app_verify", stores=_stores(p)) if p.verify_peer is not False
                     else t("check.cli.app_noverify"))
    parts.append(t("check.cli.app_auth", mechanism=p.auth_mechanism) if p.auth_mechanism
                 else t("check.cli.app_noauth"))
    return ("" if current_language() == "ja" else " ").join(parts)


def probed_line(c: Checked) -> str:
    """What was probed, and what the port speaks (or that nothing was probed)."""
    if c.target is None or c.facts is None:
        return t("check.cli.not_probed")
    p = c.plan
    target = f"{c.target[0]}:{c.target[1]}"
    port_mode = Term(f"modename.{c.facts.mode.value}")
    return t("check.cli.probed", target=target, port_mode=port_mode) if target == p.target else t(
        "check.cli.probed_as", target=target, host=p.host, port=p.port, port_mode=port_mode)


def list_line(c: Checked, lists: dict[tuple[str, str], tuple[Verdict, int | None]]) -> str | None:
    """For one transport of a failover / roundrobin list: its place, and what the list as a whole does."""
    if c.raw.alternative is None or (c.raw.file, c.raw.framework) not in lists:
        return None
    kind, index, count = c.raw.alternative
    verdict, through = lists[(c.raw.file, c.raw.framework)]
    outcome = t("check.list.through", index=through) if through is not None else t(f"check.list.{verdict.value}")
    return t("check.list.member", kind=kind, index=index, count=count, outcome=outcome)


def render_check(out: Console, results: list[Checked]) -> None:
    lists = list_outcomes(results)
    for c in results:
        p, pred = c.plan, c.prediction
        assert pred is not None
        icon, style = ICON[STYLE[pred.verdict]]
        head = t("check.cli.head", file=c.raw.file, framework=t(f"frameworks.name.{c.raw.framework}"))
        errors = sum(f.severity.rank >= Severity.ERROR.rank for f in c.findings)
        warnings = sum(f.severity is Severity.WARNING for f in c.findings)
        summary = t("check.cli.lint", errors=errors, warnings=warnings)
        out.print(f"[{style}]{icon}[/] [bold]{escape(head)}[/]  [dim]{escape(summary)}[/]", highlight=False)
        for f in c.findings:
            if f.severity.rank >= Severity.WARNING.rank:
                ficon, fstyle = ICON[f.severity]
                out.print(f"  [{fstyle}]{ficon} {f.id}[/] {escape(f.subject)} {escape(f.verdict())}", highlight=False)
        out.print("  " + escape(plan_sentence(p)), highlight=False)
        if (version := version_line(c.raw)) is not None:  # "assumed mail gem 2.7.1 from Gemfile.lock" (issue 12)
            out.print("  [dim]" + escape(t(version[0], **version[1])) + "[/]", highlight=False)
        if p.trust_ignored:
            out.print("  [dim]" + escape(t("check.cli.trust_ignored", names=", ".join(p.trust_ignored))) + "[/]",
                      highlight=False)
        out.print("  [dim]" + escape(probed_line(c)) + "[/]", highlight=False)
        out.print(f"  [{style}]{icon} {escape(verdict_line(pred))}[/]", highlight=False)
        if (listed := list_line(c, lists)) is not None:
            out.print("    [bold]" + escape(listed) + "[/]", highlight=False)
        if pred.verdict in (Verdict.FAILS, Verdict.UNREACHABLE):
            said = pred.text or t("check.cli.no_text")
            out.print(f"    [bold]{escape(t('check.cli.prints'))}:[/] {escape(said)}", highlight=False)
        if pred.why:
            out.print(f"    [bold]{escape(t('check.cli.why'))}:[/] {escape(t(pred.why, **_why_params(pred)))}",
                      highlight=False)
        for risk in pred.risks:
            out.print(f"    [yellow]{escape(t('check.cli.risk'))}:[/] {escape(t(f'check.risk.{risk}'))}",
                      highlight=False)
        for line in asked_lines(c):
            out.print("    [dim]" + escape(line) + "[/]", highlight=False)
        print_fix(out, c.fix)


def _what(what: str | None) -> str:
    key = f"auth.reason.{what}"
    return t(key) if has(key) else str(what or "-")


def _reply(r: Reply | None) -> str:
    return f"{r.code} {r.lines[0] if r.lines else ''}".rstrip() if r is not None else t("check.envelope.not_reached")


def asked_lines(c: Checked) -> list[str]:
    """What check asked the server beyond the probe (login.py): the login, the envelope, or why not."""
    a = c.asked
    if a is None:
        return []
    lines = []
    if a.login in ("ok", "refused"):
        lines.append(t(f"check.login.{a.login}", mechanism=a.mechanism or "-"))
        if a.login == "refused" and a.padded_file:
            lines.append(t("check.login.padded", path=a.padded_file))
        elif a.login == "refused" and a.padded_value:
            lines.append(t("check.login.padded_value", where=a.padded_value))
    elif a.login == "not_tried":
        lines.append(t("check.login.not_tried", reason=Term(f"check.login.reason.{a.login_reason}")))
    elif a.login == "broken":
        lines.append(t("check.login.broken", what=_what(a.login_reason)))
    if a.envelope is not None and a.asked in ("accepted", "refused"):
        lines.append(t(f"check.envelope.{a.asked}", sender=a.envelope.sender, recipient=a.envelope.recipient,
                       mail=_reply(a.replies.get("mail")), rcpt=_reply(a.replies.get("rcpt"))))
    elif a.envelope is not None and a.asked == "not_asked":
        lines.append(t("check.envelope.not_asked", reason=Term(f"check.envelope.reason.{a.asked_reason}")))
    elif a.envelope is not None and a.asked == "broken":
        lines.append(t("check.envelope.broken", what=_what(a.asked_reason)))
    return lines


def asked_json(c: Checked) -> dict[str, Any] | None:
    a = c.asked
    if a is None:
        return None
    return {"login": a.login, "login_reason": a.login_reason, "mechanism": a.mechanism, "padded_file": a.padded_file,
            "padded_value": a.padded_value,
            "auth_reply": _reply(a.auth_reply) if a.auth_reply else None,
            "envelope": {"from": a.envelope.sender, "to": a.envelope.recipient, "answer": a.asked,
                         "reason": a.asked_reason, "failed_phase": a.failed_phase,
                         "replies": {k: _reply(r) for k, r in a.replies.items()}} if a.envelope else None,
            "lines": asked_lines(c)}


def render_summary(out: Console, results: list[Checked]) -> None:
    counts = {v: sum(c.prediction is not None and c.prediction.verdict is v for c in results) for v in Verdict}
    out.print(escape(t("check.cli.summary", configs=len(results), delivered=counts[Verdict.DELIVERED],
                       failing=counts[Verdict.FAILS], unreachable=counts[Verdict.UNREACHABLE],
                       unknown=counts[Verdict.UNKNOWN])), highlight=False)


def print_fix(out: Console, fix: Fix | None) -> None:
    if fix is None or not (fix.lines or fix.remove or fix.env or fix.unset or fix.text_key):
        return
    out.print(f"    [bold]{escape(t('check.cli.fix'))}:[/]", highlight=False)
    for key, where in fix.remove:
        out.print("      [red]- " + escape(t("check.cli.remove", key=key, where=where)) + "[/]", highlight=False)
    for line in fix.lines:
        out.print("      [green]+ " + escape(line) + "[/]", highlight=False)
    if fix.note:
        out.print("      " + escape(t(fix.note)), highlight=False)
    if fix.env:
        out.print("      " + escape(t("check.cli.env")), highlight=False)
        for line in fix.env:
            out.print("      [green]+ " + escape(line) + "[/]", highlight=False)
    if fix.unset:
        out.print("      " + escape(t("check.cli.unset")), highlight=False)
        for name in fix.unset:
            out.print("      [red]- " + escape(name) + "[/]", highlight=False)
    if not (fix.lines or fix.env or fix.unset) and fix.text_key:
        out.print("      " + escape(t(fix.text_key, _="")), highlight=False)


def _plan_json(p: ConnectionPlan) -> dict[str, Any]:
    return {"host": p.host, "port": p.port, "mode": p.mode.value if p.mode else None, "verify_peer": p.verify_peer,
            "verify_hostname": p.verify_hostname, "ca_file": p.ca_file, "ca_path": p.ca_path,
            "ca_unknown": p.ca_unknown, "trust": list(p.trust), "auth_mechanism": p.auth_mechanism,
            "credentials": p.credentials, "read_timeout": p.read_timeout, "runtime": p.runtime,
            "ca_state": p.ca_state, "trust_env": list(p.trust_env), "trust_ignored": list(p.trust_ignored),
            "servername": p.servername, "pinned": p.pinned, "env_loaded_late": p.env_loaded_late,
            "refusals": [{"mode": r.mode, "at": r.at, "text": r.text, "location": str(r.origin) if r.origin else None}
                         for r in p.refusals]}


def _prediction_json(pred: Prediction) -> dict[str, Any]:
    return {"verdict": str(pred.verdict), "failure": pred.failure, "cause": pred.cause, "stage": pred.stage,
            "channel": pred.channel,
            "certain": pred.certain, "error_text": pred.text, "error_text_source": pred.text_source,
            "why": t(pred.why, **_why_params(pred)) if pred.why else None, "risks": list(pred.risks),
            "verification": {"store": pred.verification.source, "ok": pred.verification.ok,
                             "error": pred.verification.error, "code": pred.verification.error_code}
            if pred.verification else None}


def fix_json(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {"group": fix.group, "set": list(fix.lines), "env": list(fix.env), "unset": list(fix.unset),
            "remove": [{"key": k, "location": w} for k, w in fix.remove],
            "text": t(fix.text_key, _="") if fix.text_key else None, "note": t(fix.note) if fix.note else None}


def check_json(results: list[Checked]) -> dict[str, Any]:
    lists = list_outcomes(results)
    return {"schema_version": JSON_SCHEMA_VERSION, "tool": "smtp-doctor", "command": "check", "configs": [
        {"file": c.raw.file, "framework": c.raw.framework, "framework_version": c.raw.framework_version,
         "framework_version_from": c.raw.version_from, "version_used": version_used(c.raw),
         "settings": settings_json(c.settings), "plan": _plan_json(c.plan),
         "probed": {"host": c.target[0], "port": c.target[1], "mode": c.facts.mode.value if c.facts else None,
                    "address": c.facts.address if c.facts else None} if c.target else None,
         "lint": [f.to_dict() for f in c.findings],
         "prediction": _prediction_json(c.prediction) if c.prediction else None, "fix": fix_json(c.fix),
         "asked": asked_json(c), **_account_json(c), **_list_json(c, lists)}
        for c in results]}


def _list_json(c: Checked, lists: dict[tuple[str, str], tuple[Verdict, int | None]]) -> dict[str, Any]:
    """One transport of a failover / roundrobin list: its place, and the list's verdict (the app's)."""
    if c.raw.alternative is None or (c.raw.file, c.raw.framework) not in lists:
        return {}
    kind, index, count = c.raw.alternative
    verdict, through = lists[(c.raw.file, c.raw.framework)]
    return {"transport_list": {"kind": kind, "index": index, "of": count, "verdict": str(verdict),
                               "delivers_through": through}}


def _account_json(c: Checked) -> dict[str, Any]:
    """An msmtprc gives one config per account: which one, and whether msmtp uses it without --account (the
    account named "default", msmtp(1) --account)."""
    rv = c.raw.values.get("account") if c.raw.framework == "msmtp" else None
    return {} if rv is None else {"account": rv.value, "default_account": rv.value == "default"}
