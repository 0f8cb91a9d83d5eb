"""ConnectionPlan × PortFacts → Prediction: will the app deliver, and if not, what will it print and why.

Pure: the probe has already looked at the port; this module replays the app's connection against those
facts step by step (reach → transport → TLS verification → AUTH) and stops at the first step that fails,
as the app would. The tables (which plan meets which port, which OpenSSL code is which failure, the texts
each runtime prints, the corrected lines) are knowledge/predict.toml; failure ids are knowledge/errors.toml's.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from .errors import UserError
from .facts import Mode, Outcome, PortFacts, TLSFacts, Verification
from .plan import ConnectionPlan, framework_facts, knowledge, password_as_token
from .settings import TLSMode
from .smtp.reply import Reply, foreign_protocol

TLS_ORDER = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")  #: ssl.SSLSocket.version() spellings, oldest first
#: diagnose/cert.py tells a missing intermediate from an unknown root the same way
UNABLE_TO_GET_ISSUER_LOCALLY = 20


class Verdict(StrEnum):
    DELIVERED = "delivered"
    FAILS = "fails"
    UNREACHABLE = "unreachable"  #: nothing to talk to: exit 3
    UNKNOWN = "unknown"  #: the configuration or the probe leaves it open


@dataclass(frozen=True)
class Prediction:
    verdict: Verdict
    failure: str | None = None  #: failure-mode id (knowledge/errors.toml)
    stage: str = "done"  #: startup | connect | greeting | tls | starttls | auth | mail | done
    channel: str | None = None  #: implicit_tls | starttls | plaintext: how the mail travels
    certain: bool = True  #: False: likely, but the probe did not go as far as the app will
    text: str | None = None  #: what the app itself prints
    text_source: str | None = None
    why: str = ""  #: catalogue key (messages/check.toml)
    params: Mapping[str, Any] = field(default_factory=dict)
    risks: tuple[str, ...] = ()  #: check.risk.<id>: delivered, but not safely
    verification: Verification | None = None
    cause: str | None = None  #: the config's fault behind ``failure`` when the app's words name another (the fix's)


def _is_ip(host: str | None) -> bool:
    try:
        ipaddress.ip_address((host or "").strip("[]"))
        return True
    except ValueError:
        return False


def error_text(plan: ConnectionPlan, failure: str, params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The words the app prints for ``failure``: a recorded variant for this very case first, then the
    framework's own text (frameworks.expected_error), then what its runtime prints (predict.toml)."""
    from .frameworks import expected_error

    variants = {"ip": _is_ip(plan.host), "credentials": plan.auth_mechanism is not None,
                "ca_missing": plan.ca_state in ("missing", "unreadable"), "ca_empty": plan.ca_state == "empty",
                "tls_file_missing": bool(plan.tls_files_missing), "pinned": bool(plan.pinned),
                "client_cert_keyless": bool(plan.client_cert_keyless)}
    texts = [t for t in knowledge().get("text", [])
             if t.get("framework", plan.framework) == plan.framework and t.get("runtime", plan.runtime) == plan.runtime
             and ("framework" in t or "runtime" in t)]

    def fill(template: str) -> str:
        for key, value in params.items():
            template = template.replace("{" + key + "}", str(value))
        return template

    def matching(mode: str, variant: bool) -> dict[str, Any] | None:
        for t in texts:
            if t["mode"] == mode and (variants.get(t["when"], False) if "when" in t else not variant):
                return t
        return None

    if (hit := matching(failure, True)) is not None:
        return fill(hit["text"]), hit["source"]
    try:
        text = expected_error(plan.framework, failure, plan.framework_version,
                              params={k: str(v) for k, v in params.items()})
    except UserError:  # a client without a framework model (plain smtplib)
        text = None
    if text is not None and not re.search(r"{\w+}", text):  # a placeholder left = written for another case
        return text, f"knowledge/frameworks.toml [framework.{plan.framework}]"
    for mode in (failure, "cert_*" if failure.startswith("cert_") else None):
        if mode is not None and (hit := matching(mode, False)) is not None:
            return fill(hit["text"]), hit["source"]
    return None, None


def _verification(plan: ConnectionPlan, tls: TLSFacts) -> tuple[Verification | None, bool | None]:
    """(the verification that decides, whether it passed); None when the app's own CA file is not here."""
    used = [v for v in tls.verifications if v.source in plan.trust]
    if "ca-file" in plan.trust and not any(v.source == "ca-file" for v in used):
        return None, None
    passed = [v for v in used if v.ok]
    if passed:
        return passed[0], True
    used.sort(key=lambda v: v.source != "ca-file")  # the app's own CA file speaks for the user
    return (used[0], False) if used else (None, None)


def _cert_failure(v: Verification, tls: TLSFacts, runtime: str | None) -> tuple[str, str | None]:
    """A lone leaf whose issuer is missing although it names where to fetch it (AIA) is a missing
    intermediate. With the app's own private CA file and no AIA the two causes look the same from here (the
    CA file is the wrong CA, or the server does not send its intermediate): when another store verifies
    this very chain, the CA file is the wrong one; otherwise the table's "unknown issuer" is all that is
    known (check.why says both). Never "missing intermediate" for a wrong CA file. (failure, cause): a runtime
    that words two causes alike fails as the one its words say, for the cause the chain shows."""
    lone = v.error_code == UNABLE_TO_GET_ISSUER_LOCALLY and len(tls.certs) == 1 and v.error_depth == 0
    if lone and tls.certs[0].ca_issuers and not any(o.ok for o in tls.verifications):
        return "cert_missing_intermediate", None
    for row in knowledge().get("verify", []):
        if v.error_code in row["codes"] and runtime in row.get("runtime", [runtime]):
            return str(row["failure"]), row.get("cause")
    return "cert_verify_failed", None


def _mechanisms(plan: ConnectionPlan, plaintext: bool = False) -> tuple[str, ...]:
    """The AUTH mechanisms the app is willing to use, in the server's spelling; some clients (msmtp) choose
    only among those that keep the password secret when the channel is not encrypted."""
    if plan.auth_mechanism == "auto":
        facts = framework_facts(plan.framework)
        names = facts.get("auto_plaintext" if plaintext and "auto_plaintext" in facts else "auto",
                          ["PLAIN", "LOGIN", "CRAM-MD5"])
        return tuple(m.upper() for m in names)
    return tuple(m.upper().replace("_", "-") for m in (plan.auth_mechanism or "").split())  # one, or a list in order


def app_mechanisms(plan: ConnectionPlan, plaintext: bool = False) -> tuple[str, ...]:
    """The mechanisms the app will use, in its order of preference (login.py logs in with the first offered)."""
    return _mechanisms(plan, plaintext)


def _reach_match(row: Mapping[str, Any], outcome: str, host: str | None) -> dict[str, Any] | None:
    """A [[reach]] row for this TCP outcome (one or a list), and for this host's shape when it names one: the
    host's parts its pattern names (host_name, host_port: what a fix writes apart), else {} or None."""
    outcomes = row["outcome"] if isinstance(row["outcome"], list) else [row["outcome"]]
    if outcome not in outcomes:
        return None
    if "host_re" not in row:
        return {}
    m = re.search(row["host_re"], host or "")
    return None if m is None else {k: int(v) if k == "host_port" else v for k, v in m.groupdict().items()
                                   if v is not None}


def predict(plan: ConnectionPlan, facts: PortFacts, *, sender: str = "") -> Prediction:
    """What the app does when it connects as ``plan`` says to the port ``facts`` describe."""
    base: dict[str, Any] = {"host": plan.host or facts.host, "port": plan.port or facts.port,
                            "address": facts.address or facts.host, "sender": sender,
                            "app_mode": plan.mode.value if plan.mode else "unknown", "port_mode": facts.mode.value}

    def fails(failure: str, stage: str, why: str = "", certain: bool = True, channel: str | None = None,
              verification: Verification | None = None, cause: str | None = None, **params: Any) -> Prediction:
        p = base | params
        text, source = error_text(plan, failure, p)
        return Prediction(Verdict.FAILS, failure, stage, channel, certain, text, source, why or f"check.why.{failure}",
                          p, verification=verification, cause=cause)

    for r in plan.refusals:
        if r.at == "startup":
            return Prediction(Verdict.FAILS, r.mode, "startup", None, True, r.text, r.source, "check.why.startup",
                              base | {"where": str(r.origin) if r.origin else plan.source}, cause=r.cause)
    if not (plan.host or facts.host) or not (plan.port or facts.port):  # config_for without its YAML, code …
        return Prediction(Verdict.UNKNOWN, why="check.why.target_unknown", params=base | {"where": plan.source})
    if facts.outcome is not Outcome.CONNECTED:
        row, parts = next(((r, m) for r in knowledge()["reach"]
                           if (m := _reach_match(r, facts.outcome.value, plan.host)) is not None), (None, {}))
        failure = row["failure"] if row else "connect_failed_unspecified"
        text, source = error_text(plan, failure, base)
        default_port = plan.port_default and failure == "conn_refused"  # (a timeout: a firewall, more likely)
        why = "check.why.unreachable_ignored_keys" if plan.ignored_keys else \
            "check.why.unreachable_env_loaded_late" if plan.env_loaded_late else \
            "check.why.unreachable_env_overrides" if plan.env_overrides else \
            "check.why.unreachable_port_default" if default_port else (row or {}).get("why", "check.why.unreachable")
        return Prediction(Verdict.UNREACHABLE, failure, "connect", None, True, text, source, why,
                          base | parts | {"detail": facts.outcome_detail or facts.outcome.value,
                                          "keys": ", ".join(plan.ignored_keys),
                                          "env_file": plan.env_loaded_late or "",
                                          "vars": ", ".join(plan.env_overrides),
                                          "port_key": plan.port_default or ""}, cause=(row or {}).get("cause"))
    if plan.mode is None:
        return Prediction(Verdict.UNKNOWN, why="check.why.mode_unknown", params=base)
    refusing = facts.greeting if facts.greeting is not None and facts.greeting.code >= 400 else None
    if refusing is not None and facts.mode is not Mode.IMPLICIT_TLS and plan.mode is not TLSMode.IMPLICIT:
        return refused_by_server(plan, "greeting", refusing, base)  # (on implicit TLS: after the handshake)

    if (facts.closed_at is not None and facts.ehlo_plain is None and plan.mode is not TLSMode.IMPLICIT
            and facts.mode in (Mode.PLAINTEXT, Mode.STARTTLS)):
        # greeted, then hung up before EHLO was answered: the first command of every client that speaks plaintext
        # first, so no STARTTLS or AUTH setting of the app gets as far as to matter
        return fails("conn_closed", "ehlo", "check.why.closed_in_dialogue", phase=facts.closed_at)
    if plan.mode is TLSMode.IMPLICIT and plan.fallback is not None and facts.mode in (Mode.PLAINTEXT, Mode.STARTTLS):
        plan = replace(plan, mode=plan.fallback)  # the handshake fails on plain SMTP: a plain socket instead
    assert plan.mode is not None
    met = _met(plan, facts)
    row = next((t for t in knowledge()["transport"]
                if (plan.mode.value in t["plan"] or "*" in t["plan"]) and met in t["port"]
                and plan.runtime in t.get("runtime", [plan.runtime])), None)
    if row is None:
        return Prediction(Verdict.UNKNOWN, why="check.why.port_unknown", params=base)
    foreign = foreign_greeting(facts)
    if foreign is not None:
        base |= {"first_line": foreign[0], "protocol_named": f" ({foreign[1]})" if foreign[1] else ""}
    if "failure" in row and "inside" not in row:
        why = ""
        if row["failure"] == "plain_on_implicit_port" and plan.read_timeout is None:
            why = "check.why.plain_on_implicit_port_hangs"
        return fails(row["failure"], row["stage"], row.get("why", why), row.get("certain", True),
                     cause=row.get("cause"), timeout=f"{plan.read_timeout:g}" if plan.read_timeout else "-")
    channel: str = row.get("inside") or row["channel"]
    slow = facts.greeting_seconds
    if plan.read_timeout and slow is not None and slow > plan.read_timeout and channel != "implicit_tls":
        # (on implicit TLS the greeting comes after the handshake: the TLS checks below speak first)
        return fails("greeting_timeout", "greeting", "check.why.greeting_slower_than_timeout", channel=channel,
                     seconds=f"{slow:.1f}", timeout=f"{plan.read_timeout:g}")
    risks: list[str] = []
    verification = None

    if channel in ("implicit_tls", "starttls"):
        if plan.ca_state in ("missing", "unreadable", "empty") and "ca-file" in plan.trust:
            # OpenSSL loads the app's CA file when TLS starts, whatever the verify mode: no handshake at all
            return fails("cert_verify_failed", "tls", "check.why.ca_file_unloadable", channel=channel,
                         ca_file=plan.ca_file or "-", state=plan.ca_state)
        if plan.tls_files_missing:  # loaded with the context, before the handshake (client certificate, key, CRL)
            return fails("cert_verify_failed", "tls", "check.why.tls_file_missing", channel=channel,
                         path=plan.tls_files_missing[0])
        if plan.client_cert_keyless:  # load_cert_chain(certfile) with no key in it or beside it
            return fails("cert_verify_failed", "tls", "check.why.client_cert_keyless", channel=channel,
                         path=plan.client_cert_keyless)
        for r in plan.refusals:
            if r.at == "connect" and r.mode.startswith("cert_"):  # (its text may name the host: "{host}")
                return Prediction(Verdict.FAILS, r.mode, "tls", channel, True,
                                  r.text.replace("{host}", plan.host or "?"), r.source, f"check.why.{r.mode}", base)
        tls = facts.tls
        if tls is None:  # the handshake itself failed: protocol versions, ciphers, a reset
            detail = facts.tls_error.message if facts.tls_error else "-"
            return fails("tls_version_mismatch", "tls", "check.why.handshake_failed", False, channel, detail=detail)
        tried = {v.version: v.accepted for v in facts.tls_versions}
        if plan.tls_versions and tried and not any(tried.get(v) for v in plan.tls_versions) \
                and all(tried.get(v) is False for v in plan.tls_versions if v in tried):
            return fails("tls_version_mismatch", "tls", "check.why.tls_versions_pinned", channel=channel,
                         pinned=" ".join(plan.tls_versions),
                         accepted=" ".join(v for v, ok in tried.items() if ok) or "-")
        floor = knowledge().get("tls_min", {}).get(plan.runtime or "")
        if floor and tls.version in TLS_ORDER and TLS_ORDER.index(tls.version) < TLS_ORDER.index(floor):
            return fails("tls_version_mismatch", "tls", "check.why.tls_below_runtime_floor", channel=channel,
                         version=tls.version, floor=floor, runtime=plan.runtime or "-")
        if plan.pinned:  # that one certificate is trusted whatever its issuer, names and dates
            leaf = tls.certs[0].sha256.upper() if tls.certs else ""
            if len(plan.pinned) != len(leaf):  # a SHA1 / MD5 pin: the probe keeps SHA-256 only
                return Prediction(Verdict.UNKNOWN, None, "tls", channel, why="check.why.pin_other_hash",
                                  params=base | {"pinned": plan.pinned})
            if plan.pinned != leaf:
                return fails("cert_verify_failed", "tls", "check.why.pin_mismatch", channel=channel,
                             pinned=plan.pinned, sha256=leaf)
        elif plan.verify_peer is False:
            risks.append("verify_off")
        else:
            verification, ok = _verification(plan, tls)
            if ok is None:
                return Prediction(Verdict.UNKNOWN, None, "tls", channel, why="check.why.ca_file_absent",
                                  params=base | {"ca_file": plan.ca_file or "-"})
            if not ok and verification is not None:
                failure, cause = _cert_failure(verification, tls, plan.runtime)
                why = f"check.why.{cause}" if cause else ""
                if failure == "cert_unknown_issuer" and verification.source == "ca-file":
                    other = next((o for o in tls.verifications if o.ok), None)
                    why = "check.why.ca_file_wrong" if other else "check.why.issuer_not_in_ca_file"
                    if other:
                        base["other_store"] = f"{other.source} ({other.location})"
                return fails(failure, "tls", why, channel=channel, verification=verification, cause=cause,
                             error=verification.error or "", store=verification.source,
                             location=verification.location, code=verification.error_code)
            if plan.verify_hostname is not False and tls.hostname_ok is False:
                names = ", ".join(tls.certs[0].san_dns + tls.certs[0].san_ip) if tls.certs else "-"
                code = 64 if _is_ip(plan.servername or plan.host) else 62
                error = "IP address mismatch" if code == 64 else "hostname mismatch"
                # the port written into the host (PHP): connected to the name before it, checked against it all;
                # a name the app is told to expect (peer_name, tls.servername): checked against that one
                split: dict[str, Any] = dict(
                    why="check.why.host_port_peer_name", cause="host_with_port", written=plan.host_written,
                    host_name=plan.host, host_port=plan.port) if plan.host_written else dict(
                    why="check.why.servername_mismatch", servername=plan.servername) if plan.servername else {}
                return fails("cert_hostname_mismatch", "tls", channel=channel, verification=verification,
                             error=error, names=names, code=code, **split)
            if plan.verify_hostname is False:
                risks.append("hostname_unchecked")
        if refusing is not None and channel == "implicit_tls":  # greeted inside TLS: refused after the handshake
            return refused_by_server(plan, "greeting", refusing, base, channel)
        if "inside" in row:  # TLS went through, and what is said inside it is not an SMTP greeting
            return fails(row["failure"], row["stage"], row.get("why", ""), row.get("certain", True), channel,
                         cause=row.get("cause"), timeout=f"{plan.read_timeout:g}" if plan.read_timeout else "-")
        caps = facts.ehlo_tls
    else:
        caps = facts.ehlo_plain
        if facts.mode is Mode.STARTTLS:  # the app does not use the STARTTLS the server offers
            offered_after_tls = bool(facts.ehlo_tls and facts.ehlo_tls.has("AUTH"))
            if plan.auth_mechanism is not None and not (caps and caps.has("AUTH")) and offered_after_tls:
                return fails("starttls_required", "auth", "check.why.auth_after_tls", channel=channel)
            if plan.auth_mechanism is None:
                return fails("starttls_required", "mail", "check.why.starttls_required_likely", certain=False,
                             channel=channel)
        risks.append("plaintext")
    if caps is None and facts.closed_at is not None:  # greeted, then hung up before the app could say more
        return fails("conn_closed", "ehlo", "check.why.closed_in_dialogue", channel=channel, phase=facts.closed_at)

    for r in plan.refusals:  # the framework's own step after the connection (Flask-Mail: starttls() inside SMTPS)
        if r.at == "connect" and not r.mode.startswith("cert_") and r.mode != "auth_mechanism":
            return Prediction(Verdict.FAILS, r.mode, "connect", channel, True, r.text, r.source,
                              "check.why.after_connect", base | {"where": str(r.origin) if r.origin else plan.source},
                              cause=r.cause)
    if plan.auth_mechanism is not None:
        for r in plan.refusals:
            if r.at == "connect" and r.mode == "auth_mechanism":
                return Prediction(Verdict.FAILS, r.mode, "auth", channel, True, r.text, r.source,
                                  "check.why.auth_mechanism_value", base)
        offered = caps.auth if caps else ()
        wanted = _mechanisms(plan, plaintext=channel == "plaintext")
        for r in plan.refusals:  # refused when it comes to log in (Nodemailer: a user without a password)
            if r.at == "auth" and offered:
                text = r.text.replace("{mechanism}", next((m for m in wanted if m in offered), offered[0]))
                return Prediction(Verdict.FAILS, r.mode, "auth", channel, True, text, r.source,
                                  f"check.why.{r.mode}", base, verification=verification)
        if channel == "plaintext" and not any(m in offered for m in wanted) and any(
                m in offered for m in _mechanisms(plan)):  # it would log in, but not with the password in clear
            return fails("starttls_required", "auth", "check.why.secure_auth_only", channel=channel,
                         offered=", ".join(offered), wanted=", ".join(wanted))
        if not any(m in offered for m in wanted):
            return fails("auth_mechanism", "auth", channel=channel, verification=verification,
                         offered=", ".join(offered) or "-", wanted=", ".join(wanted))
        as_token = password_as_token(plan.framework)
        if plan.auth_mechanism == "auto" and all(m in as_token for m in wanted if m in offered):
            # the only mechanism in common wants an OAuth token, and the app sends its password as one (Symfony):
            # a server refuses it, most likely; check's own login with the app's password says how (check.py)
            return fails("auth_bad_credentials", "auth", "check.why.password_as_token", certain=False,
                         channel=channel, verification=verification, offered=", ".join(offered))
        if channel == "plaintext":
            risks.append("credentials_in_clear")
    why = "check.why.delivered_auth" if plan.auth_mechanism else "check.why.delivered"
    return Prediction(Verdict.DELIVERED, None, "done", channel, True, None, None, why,
                      base | {"channel": channel}, tuple(risks), verification)


def _met(plan: ConnectionPlan, facts: PortFacts) -> str:
    """The port as this app meets it. HTTP is the client's to open (RFC 9112 §2.1: the client sends the
    request): a web server answers our TLS ClientHello with a 400, but says nothing to an app that waits for
    a greeting first, which waits until its own timeout, whatever the port tells a TLS client."""
    implicit = plan.mode is TLSMode.IMPLICIT
    if facts.mode is Mode.NOT_SMTP and facts.first_bytes.startswith(b"HTTP/") and not implicit:
        return "web_server"
    line = _first_line(facts)
    if line is not None and implicit is (facts.mode is Mode.TLS_NOT_SMTP):
        # the line the app reads as its greeting (in clear, or inside the TLS it asked for). A PHP client reads
        # on while a line's fourth character is not a blank (SMTP's "more lines follow"): "foreign_continued"
        return "foreign_greeting" if len(line) < 4 or line[3:4] == b" " else "foreign_continued"
    return facts.mode.value


def _first_line(facts: PortFacts) -> bytes | None:
    """The whole first line a port that does not speak SMTP sent, if it sent one."""
    if facts.mode not in (Mode.NOT_SMTP, Mode.TLS_NOT_SMTP) or b"\n" not in facts.first_bytes:
        return None
    return facts.first_bytes.split(b"\n", 1)[0].rstrip(b"\r")


def foreign_greeting(facts: PortFacts) -> tuple[str, str] | None:
    """(the first line, printed inert; the protocol it is, "" when not known): what an app that waits for an
    SMTP greeting reads instead, and which service the port most likely is."""
    line = _first_line(facts)
    if line is None:
        return None
    return line[:80].decode("latin-1").encode("unicode_escape").decode("ascii"), foreign_protocol(line)


#: what each phase waits for (Symfony's "Expected response code …")
EXPECTED = {"greeting": "220", "auth": "235", "mail": "250", "rcpt": "250, 251, 252"}


def reply_text(plan: ConnectionPlan, at: str, reply: Reply, params: Mapping[str, Any]
               ) -> tuple[str | None, str | None]:
    """What the app prints when the server answers ``reply`` at ``at`` (predict.toml [[reply]])."""
    message = reply.lines[0] if reply.lines else ""
    values = {**params, "reply": f"{reply.code} {message}".rstrip(), "code": reply.code, "message": message,
              "expected": EXPECTED.get(at, "250")}
    for row in knowledge().get("reply", []):
        whose = row.get("framework") == plan.framework if "framework" in row else row.get("runtime") == plan.runtime
        if whose and at in row["at"] and any(str(reply.code).startswith(c) for c in row.get("codes", [""])):
            return str(fill_params(row["text"], values)), str(row["source"])
    return None, None


def refusal_mode(at: str, reply: Reply) -> str:
    """The failure mode of a server's refusal, as explain reads its words (errors.toml), by its code class
    when explain knows nothing more specific."""
    from .explain import explain

    best = explain(f"{reply.code} {reply.lines[0] if reply.lines else ''}").best
    if best is not None and not (at == "mail" and best.mode.id == "relay_denied"):  # relaying is RCPT's
        return best.mode.id
    if at == "mail" and reply.code >= 500:
        return "sender_rejected"
    if reply.code < 500:
        return "temp_failure"
    return "auth_bad_credentials" if at == "auth" else "policy_rejected"


def refused_by_server(plan: ConnectionPlan, at: str, reply: Reply, base: Mapping[str, Any],
                      channel: str | None = None, **params: Any) -> Prediction:
    """The server itself said no (greeting, AUTH with the app's password, MAIL or RCPT of --envelope):
    the app fails with its words for that reply; the server's words travel as data, printed inert."""
    failure = refusal_mode(at, reply)
    p = {**base, **params, "reply": f"{reply.code} {reply.lines[0] if reply.lines else ''}".rstrip()}
    text, source = reply_text(plan, at, reply, p)
    if text is None:
        text, source = error_text(plan, failure, p)
    return Prediction(Verdict.FAILS, failure, at, channel, True, text, source, f"check.why.refused_{at}", p)


# -- the fix ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    """What to change: corrected lines in the file's own syntax where the framework is known, a sentence
    from the explain catalogue otherwise. ``remove`` are the keys as written, with where they were written."""

    group: str | None  #: errors.toml fix group
    lines: tuple[str, ...] = ()
    remove: tuple[tuple[str, str], ...] = ()  #: (key as spelled, file:line:col)
    env: tuple[str, ...] = ()  #: lines for the app's environment (SSL_CERT_FILE=…)
    text_key: str | None = None  #: explain.fix.<group>.<framework or generic>
    keys: tuple[str, ...] = ()  #: the framework key each of ``lines`` sets, in order (for writers/patch.py)
    rename: tuple[str, ...] = ()  #: keys written as strings to re-spell as symbols, value untouched (mail gem)
    #: (variable the config reads, variable the app's environment sets) for each of ``keys`` (remedy.env_names)
    env_names: tuple[tuple[str, str], ...] = ()
    #: a sentence shown under ``lines``: what they change that they cannot show (a masked password's blanks)
    note: str | None = None
    unset: tuple[str, ...] = ()  #: variables to remove from the app's environment (a stale SPRING_MAIL_PORT)


def literal(value: Any, syntax: str) -> str:
    """``value`` as a literal of ``syntax`` (a PHP or Ruby string in single quotes, a Python repr, YAML plain …)."""
    if isinstance(value, bool):
        if syntax == "msmtprc":
            return "on" if value else "off"
        return ("True" if value else "False") if syntax == "python" else ("true" if value else "false")
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if syntax in ("dotenv", "msmtprc", "properties"):
        return text
    if syntax == "yaml":  # plain where YAML reads it back as this same string, else quoted
        import yaml  # here: only a Spring application.yml fix needs it, not every command that imports predict

        try:
            plain = "\n" not in text and yaml.safe_load(text) == text and text == text.strip()
        except yaml.YAMLError:
            plain = False
        return text if plain else json.dumps(text, ensure_ascii=False)
    if syntax in ("ruby_hash", "gitlab_rb") and text.startswith(":"):
        return text
    return repr(text) if syntax == "python" else "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_line(key: str, value: Any, syntax: str, code: bool = False) -> str:
    """One setting written the way the file writes it; ``code`` (an environment lookup) goes in unquoted."""
    shown = str(value) if code else literal(value, syntax)
    if syntax in ("ruby_hash", "js_object"):
        return f"{key}: {shown},"
    if syntax == "yaml":
        return f"{key}: {shown}"
    if syntax == "msmtprc":
        return f"{key} {shown}"
    if syntax == "gitlab_rb":
        return f"gitlab_rails['{key}'] = {shown}"
    if syntax == "python":
        return f"{key} = {shown}"
    return f"{key}={shown}"


def fill_params(value: Any, params: Mapping[str, Any]) -> Any:
    """Placeholders filled in; a value that is one placeholder takes the parameter as it is (a number stays a
    number: ``EMAIL_TIMEOUT = 30``, not ``'30'``)."""
    if not isinstance(value, str):
        return value
    whole = re.fullmatch(r"{(\w+)}", value)
    if whole and whole.group(1) in params:
        return params[whole.group(1)]
    for key, v in params.items():
        value = value.replace("{" + key + "}", str(v))
    return value


def row_lines(row: Mapping[str, Any], params: Mapping[str, Any], syntax: str) -> tuple[str, ...]:
    """A [[fix]] row's lines: ``set`` values as literals, then ``code`` values as written (expressions)."""
    return (*(render_line(k, fill_params(v, params), syntax) for k, v in row.get("set", {}).items()),
            *(render_line(k, fill_params(v, params), syntax, code=True) for k, v in row.get("code", {}).items()))


def fix_row(framework: str, group: str, port_mode: str, version: str | None = None,
            present: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The [[fix]] row of predict.toml for this framework, fix group and probed port mode, if any. A row with
    ``since``/``until`` is for those versions only (Laravel 8 reads MAIL_ENCRYPTION, 9+ MAIL_SCHEME); one with
    ``written`` only for a config that writes that key (Nodemailer's URL form has no object to add ``tls`` to)."""
    from .frameworks.model import in_range, parse_version

    v = parse_version(version) if version else None
    for row in knowledge().get("fix", []):
        if (row.get("since") or row.get("until")) and not in_range(v, row.get("since"), row.get("until")):
            continue
        if "written" in row and row["written"] not in (present or {}):
            continue
        if row["framework"] == framework and row["fix"] == group and port_mode in row.get("port", [port_mode]):
            return dict(row)
    return None


def fix_syntax(framework: str, source: str) -> str:
    """How a fix's lines are written in this file (predict.toml ``syntax``)."""
    syntax = str(framework_facts(framework).get("syntax", "dotenv"))
    if syntax == "properties" and source.endswith((".yml", ".yaml")):
        return "yaml"  # Spring's application.yml: writers/spring_yaml.py finds where each key nests
    return syntax


def fix_for(plan: ConnectionPlan, prediction: Prediction, facts: PortFacts,
            present: Mapping[str, str] | None = None) -> Fix | None:
    """The change that turns ``prediction`` into a delivery, from what the probe found.

    ``present`` maps the framework keys written in the config to where they were written (only those are
    offered for removal). A CA file is suggested only when it verified this very server's chain (the
    ``candidate`` trust source, from --ca-file); never "verification off".
    """
    from .explain import load
    from .i18n import has

    if prediction.failure is None:
        return None
    if plan.ignored_keys and prediction.stage in ("connect", "greeting"):  # the defaults it went to: not the server
        return Fix("string_keys", text_key="check.fix.string_keys", rename=plan.ignored_keys)
    if plan.env_loaded_late:  # what it failed with is not what the app's env file says: that comes first
        return Fix("env_load_first", text_key="finding.SD121.fix")
    mode = load().modes.get(prediction.cause or prediction.failure)
    group = mode.fix if mode else None
    if group is None:
        return Fix(None)
    text_key = next((k for k in (f"explain.fix.{group}.{plan.framework}", f"explain.fix.{group}.generic")
                     if has(k)), None)
    params: dict[str, Any] = {"host": plan.host or "", "port": plan.port or ""}
    # [[reach]]: the host's parts; a host with no port in it (a URL, blanks) keeps the port it has
    params |= {k: prediction.params[k] for k in ("host_name", "host_port") if prediction.params.get(k) is not None}
    if "host_name" in params:
        params.setdefault("host_port", params["port"])
    tls = facts.tls
    candidate = next((v for v in tls.verifications if v.source == "candidate" and v.ok), None) if tls else None
    if candidate is not None:
        params["ca_file"] = candidate.location
        params["ca_file_q"] = literal(candidate.location, "js_object")
    if tls and tls.certs and tls.certs[0].san_dns:
        params["cert_name"] = tls.certs[0].san_dns[0]
    caps = facts.ehlo_tls or facts.ehlo_plain
    supported = {"PLAIN": "plain", "LOGIN": "login", "CRAM-MD5": "cram_md5"}
    offered = [supported[m] for m in (caps.auth if caps else ()) if m in supported]
    if offered:
        params["mechanism"] = offered[0]
        params["mechanism_name"] = offered[0].upper().replace("_", "-")
    if prediction.failure == "greeting_timeout" and facts.greeting_seconds is not None:  # slow, not silent
        wait = max(30, math.ceil(2 * facts.greeting_seconds))
        params["greeting_wait"], params["greeting_wait_ms"] = wait, wait * 1000
    row = fix_row(plan.framework, group, facts.mode.value, plan.framework_version, present)
    if row is not None and row.get("set_at"):  # the key this setting was read from, when it is in this file
        at = {o.key: v for f, v in row["set_at"].items()
              if (o := plan.origins.get(f)) is not None and o.file == plan.source}
        row = {**row, "set": {**row.get("set", {}), **at}, "env": {}} if at else row
    syntax = fix_syntax(plan.framework, plan.source)
    if row is not None:
        values = {**row.get("set", {}), **row.get("env", {}), **row.get("code", {})}
        wanted = {name for v in values.values() if isinstance(v, str)
                  for name in re.findall(r"{(\w+)}", v.replace("{ ", "").replace(" }", ""))}
        if wanted <= params.keys():  # else a value the probe could not supply (no CA that verifies): words
            lines = row_lines(row, params, syntax)
            env = tuple(render_line(k, fill_params(v, params), "dotenv") for k, v in row.get("env", {}).items())
            remove = tuple((k, (present or {}).get(k, "")) for k in row.get("remove", []) if k in (present or {}))
            return Fix(group, lines, remove, env, text_key, (*row.get("set", {}), *row.get("code", {})))
    return Fix(group, text_key=text_key)
