"""Ask the server what the app will hear: its login with the app's own password, and (``--envelope``) its
MAIL FROM / RCPT TO — never DATA (issue 12, kinds 3 and 4).

Why a second connection after the probe: the probe learns what the port speaks; only the server can say
whether this password and this envelope are accepted. The password is sent only inside TLS whose
certificate verified (``probe.auth.refusal``) and only to the very certificate that verified (the leaf is
pinned), never in clear. The secret lives in a :class:`credentials.Credentials` for the length of one
session and is never part of a result: the outcome says *whether* it was tried and what the server said.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .credentials import MAX_SECRET, AuthPolicy, Credentials, Redactor
from .facts import AuthOutcome, Mode, PortFacts
from .plan import ConnectionPlan, password_as_token
from .predict import Prediction, app_mechanisms
from .settings import Origin, RawConfig, RawValue, Settings, ValueKind
from .smtp.reply import Reply

#: the app's channel (predict) → how the session is opened, as the app opens it
MODES = {"implicit_tls": Mode.IMPLICIT_TLS, "starttls": Mode.STARTTLS, "plaintext": Mode.PLAINTEXT}
#: code that reads a secret from a file: Ruby File.read, Python open()/Path().read_text(), Node readFileSync,
#: msmtp's passwordeval "cat FILE"
_FILE_READ = re.compile(r"""\b(?:File\.read|IO\.read|open|Path|readFileSync|cat)(?:\s*\(\s*|\s+)['"]?([^'"\s)]+)""")

#: what trims the content read: Ruby .strip / .chomp, JavaScript .trim(); msmtp drops passwordeval's newline
_TRIMS = re.compile(r"^[^;\n]*?\.(?:strip|chomp|rstrip|trim|trimEnd)\b")


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str


@dataclass
class Asked:
    """What check asked the server beyond the probe, and what it heard. No secret is ever kept here."""

    login: str = "none"  #: none (the app does not log in) | ok | refused | not_tried | broken
    login_reason: str | None = None  #: check.login.<reason> when not tried or broken
    mechanism: str | None = None
    auth_reply: Reply | None = None
    envelope: Envelope | None = None
    asked: str | None = None  #: None (no --envelope) | accepted | refused | not_asked | broken
    asked_reason: str | None = None  #: check.envelope.<reason> when not asked or broken
    failed_phase: str | None = None  #: mail | rcpt
    #: the file the password was read from when it ends with a line break or blank the app sends along
    padded_file: str | None = None
    #: where the config writes the password itself, when the value as the app reads it starts or ends with blanks
    padded_value: str | None = None
    replies: dict[str, Reply] = field(default_factory=dict)  #: mail, rcpt


def _line_at(rv: RawValue) -> str | None:
    if rv.origin is None:
        return None
    try:
        lines = Path(rv.read_from or rv.origin.file).read_text(encoding="utf-8-sig").splitlines()
        return lines[rv.origin.line - 1][rv.origin.column - 1:]
    except (OSError, UnicodeDecodeError, IndexError):
        return None


def password_key(raw: RawConfig) -> str | None:
    """The first password key the config sets: the one the app reads."""
    from .errors import UserError
    from .frameworks import model

    try:
        keys = model(raw.framework).keys_with_role("password")
    except UserError:
        return None
    return next((k for k in keys if (rv := raw.values.get(k)) is not None and rv.kind is not ValueKind.NIL), None)


def _password_value(raw: RawConfig) -> RawValue | None:
    key = password_key(raw)
    return raw.values[key] if key is not None else None


def secret_file(raw: RawConfig) -> tuple[str, str, Origin | None] | None:
    """(path, the code that reads it, where that code is) when the app reads its password from a file
    (``File.read(…)``, ``open(…)``, msmtp's ``passwordeval "cat FILE"``): the app needs that file where it runs."""
    rv = _password_value(raw)
    if rv is None or rv.kind is not ValueKind.EXPRESSION or rv.env or (line := _line_at(rv)) is None:
        return None
    if rv.file is not None:  # the reader followed it (Python: open(os.environ["X"]) … .read())
        return rv.file[0], line.strip(), rv.origin
    m = _FILE_READ.search(line)
    return (m.group(1), line.strip().strip('"'), rv.origin) if m is not None else None


def _file_secret(path: str, trimmed: bool) -> str | None:
    """The password as the app reads it from ``path``: the whole content, its trailing newline included unless
    the app trims it (a secret file written by ``echo`` ends with one: the server then refuses the login)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(MAX_SECRET).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text.strip() if trimmed else text


def _literal_at(rv: RawValue) -> str | None:
    """The literal written at the password's place in its file (readers drop secrets; this reads it back
    only here, only for the login, and only when the app itself would read it from that file)."""
    if rv.data is not None:  # yaml.safe_load(…)["smtp"]["password"]: read again from the data file
        from .readers.datafile import value_at

        return value if isinstance(value := value_at(rv.data), str) else None
    if (line := _line_at(rv)) is None:
        return None
    assert rv.origin is not None
    if rv.origin.key == "passwordeval":  # msmtp: `echo LITERAL` is that literal (readers/lines.py; never run)
        from .readers.lines import passwordeval_literal

        arg = line.strip()
        if (literal := passwordeval_literal(arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] == '"' else arg)):
            return literal
    if rv.file is not None:
        return _file_secret(*rv.file) if os.path.isabs(rv.file[0]) else None
    if rv.kind is ValueKind.EXPRESSION:  # File.read("/run/secrets/smtp").strip, readFileSync(…).trim()
        if (m := _FILE_READ.search(line)) is None:
            return None
        return _file_secret(m.group(1), rv.origin.key == "passwordeval" or bool(_TRIMS.search(line[m.end():])))
    if line[:1] in ("'", '"'):
        quote, out, i = line[0], [], 1
        while i < len(line) and line[i] != quote:
            if line[i] == "\\" and i + 1 < len(line):
                i += 1
            out.append(line[i])
            i += 1
        return "".join(out) if i < len(line) else None
    if rv.kind is ValueKind.STRING and rv.origin is not None and rv.origin.file.endswith(".properties"):
        return line.rstrip("\r") or None  # java.util.Properties: the rest of the line, trailing blanks and "#" too
    if rv.kind is ValueKind.STRING:  # dotenv, msmtprc: the rest of the line
        return line.split(" #", 1)[0].strip() or None
    return None


def padded(raw: RawConfig, password: str) -> tuple[str | None, str | None]:
    """Where the blanks around ``password`` come from, which the app sends as part of it (the usual cause of a
    refused login): (the file it is read from, when it ends with the file's line break or blanks — ``echo pw >
    secret`` writes one; the place the config writes it, file:line, when the value starts or ends with blanks
    its reader keeps — a Java .properties value keeps its trailing ones, a quoted value all of them)."""
    rv = _password_value(raw)
    if rv is None:
        return None, None
    if rv.file is not None:
        return (rv.file[0] if password != password.rstrip() else None), None
    if rv.env or password == password.strip():
        return None, None
    return None, str(rv.origin) if rv.origin is not None else raw.file


def app_password(raw: RawConfig, env: Mapping[str, str] | None) -> str | None:
    """The password the app will send, from where the app reads it: its environment (``--env``, then this
    process's), a literal in its config, or a file its config reads; ``None`` when not available here. A
    framework that renders it into YAML first (Mastodon's email.yml) sends what that YAML holds."""
    from .frameworks.model import models, rendered
    from .readers._common import literal, ruby_to_s

    text = _app_password_text(raw, env)
    if text is None or (m := models().get(raw.framework)) is None or m.rendered != "yaml":
        return text
    value = rendered(m, text)
    return None if value is None else ruby_to_s(literal(value))  # net-smtp interpolates it: "#{secret}"


def _app_password_text(raw: RawConfig, env: Mapping[str, str] | None) -> str | None:
    if (rv := _password_value(raw)) is None:
        return None
    if rv.env:  # the app's environment wins over its dotenv file (dotenv never overrides a set variable)
        value = (env or {}).get(rv.env, os.environ.get(rv.env))
        if raw.env_file is not None and (value is None or raw.env_file[1]):  # the file its code loads
            from .errors import UserError
            from .readers.envfile import load_env_file

            with contextlib.suppress(OSError, UserError):
                value = load_env_file(Path(raw.env_file[0])).get(rv.env, value)
        if value is not None:
            return _dsn_password(rv, value, raw.alternative) or None
        return (_dotenv_literal(rv, raw.alternative) or None) if rv.kind is ValueKind.STRING else None
    if rv.kind is ValueKind.STRING and rv.origin is not None and rv.origin.key == "password" \
            and raw.framework == "nodemailer" and "url" in raw.values:
        return _url_password(raw)  # createTransport("smtps://user:PASS@host"): the URL's own password
    if rv.kind in (ValueKind.STRING, ValueKind.EXPRESSION):
        return _literal_at(rv)
    return None


def _url_password(raw: RawConfig) -> str | None:
    """The password written in Nodemailer's URL form, decoded as nodemailer's url.parse gives ``auth``."""
    from urllib.parse import unquote

    from .writers.jsurl import url_password_tokens

    try:
        tokens = url_password_tokens(Path(raw.file).read_text(encoding="utf-8-sig"), raw)
    except (OSError, UnicodeDecodeError):
        return None
    return unquote(tokens[0]) if tokens else None


def _dsn_password(rv: RawValue, value: str, alternative: tuple[str, int, int] | None = None) -> str | None:
    """The variable's value, or the password inside it when the value is a DSN part (``MAILER_DSN``'s
    ``smtps://user:PASS@host``: the reader names the part ``password`` and the variable ``MAILER_DSN``); in a
    ``failover(a b)`` list, the one of the transport this config is (RawConfig.alternative)."""
    if rv.origin is None or rv.origin.key == rv.env or "://" not in value or not (
            rv.origin.key in ("password", "url") or (rv.env or "").endswith(("_DSN", "_URL"))):
        return value  # the variable is the password itself, not a URL whose password part the reader named
    from .readers.dsn import DsnError, dsn_member, parse_dsn

    if (member := dsn_member(value, alternative)) is not None:
        value = member[0]

    try:
        dsn = parse_dsn(value, rv.env)
    except DsnError:
        return None
    part = next((p for p in dsn.parts if p.key == "password"), None) if dsn is not None else None
    return str(part.ev.value) if part is not None else None


def _dotenv_literal(rv: RawValue, alternative: tuple[str, int, int] | None = None) -> str | None:
    """A password written in the dotenv file being checked (``SMTP_PASSWORD=…``, or inside ``MAILER_DSN=…``),
    read back with the same dotenv parser the reader used, from the binding at the value's own line."""
    from .errors import UserError
    from .readers.envfile import parse_env

    if rv.origin is None or rv.env is None:
        return None
    path = Path(rv.origin.file)
    try:
        entries = parse_env(path, path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, UserError):
        return None
    entry = next((e for e in entries if e.line == rv.origin.line and e.key == rv.env), None)
    return _dsn_password(rv, entry.value, alternative) if entry is not None else None


def not_tried(plan: ConnectionPlan, pred: Prediction, facts: PortFacts, settings: Settings,
              password: str | None, login: bool) -> str | None:
    """Why the app's login is not tried (a check.login.<reason> suffix), ``None`` when it may be. Pure."""
    from .probe.auth import refusal
    from .smtp import sasl

    if not login:
        return "opted_out"
    if pred.channel == "plaintext":
        return "in_clear"
    if refusal(facts, AuthPolicy()) is not None:  # no store verifies the chain, or not for this name
        return "unverified"
    if not (settings.username and settings.username.value):
        return "no_user"
    if password is None:
        return "no_password"
    mechanism = choose(plan, facts, pred.channel or "")
    if mechanism is None or not sasl.supported(mechanism) or (
            sasl.needs_token(mechanism) and mechanism not in password_as_token(plan.framework)):
        return "mechanism"
    return None


def choose(plan: ConnectionPlan, facts: PortFacts, channel: str) -> str | None:
    """The mechanism the app picks among those the server offers on its channel."""
    caps = facts.ehlo_tls if channel in ("implicit_tls", "starttls") else facts.ehlo_plain
    offered = caps.auth if caps else ()
    return next((m for m in app_mechanisms(plan, channel == "plaintext") if m in offered), None)


async def converse(facts: PortFacts, channel: str, servername: str | None, timeout: float,
                   creds: Credentials | None, mechanism: str | None, envelope: Envelope | None,
                   asked: Asked) -> Asked:
    """One session as the app opens it: TLS as it does, AUTH when ``creds`` (pinned to the verified leaf),
    then MAIL/RCPT, RSET and QUIT (``send.deliver`` with ``dry_run``). Never raises for what the server does.
    A server that quotes the password back in a reply does not get it printed: every reply kept is masked."""
    try:
        return await _converse(facts, channel, servername, timeout, creds, mechanism, envelope, asked)
    finally:
        if creds is not None:
            redact = Redactor([creds])
            asked.auth_reply = _redacted(asked.auth_reply, redact)
            asked.replies = {k: r for k, r in ((k, _redacted(r, redact)) for k, r in asked.replies.items()) if r}


async def _converse(facts: PortFacts, channel: str, servername: str | None, timeout: float,
                    creds: Credentials | None, mechanism: str | None, envelope: Envelope | None,
                    asked: Asked) -> Asked:
    from .probe.auth import authenticate
    from .probe.options import ProbeOptions
    from .probe.send import build_message, deliver
    from .probe.session import BREAKS, Session, SessionBroken, SessionRefused, open_session, what_broke

    opts = ProbeOptions(timeout=timeout, servername=servername, connect_timeout=min(5.0, timeout))
    session: Session | None = None
    if creds is not None:
        asked.login = "pending"
    try:
        async with asyncio.timeout(timeout):
            session = await open_session(facts.host, facts.address or facts.host, facts.port, MODES[channel], opts)
            if creds is not None and mechanism is not None:
                tls = session.channel.tls_object
                leaf = tls.getpeercert(binary_form=True) if tls is not None else None
                if facts.tls is None or not facts.tls.chain or leaf != facts.tls.chain[0]:
                    asked.login, asked.login_reason = "not_tried", "changed"
                    return _not_asked(asked, "login_not_tried")
                attempt = await authenticate(session, mechanism, creds, facts.port)
                asked.auth_reply = attempt.reply
                if attempt.outcome is AuthOutcome.REJECTED:
                    asked.login = "refused"
                    return _not_asked(asked, "login_refused")
                if attempt.outcome is not AuthOutcome.OK:
                    asked.login, asked.login_reason = "broken", (attempt.reason or "x.unexpected_reply").split(".")[-1]
                    return _not_asked(asked, "login_broken")
                asked.login = "ok"
            if envelope is not None:
                from importlib.metadata import version

                msg = build_message(envelope.sender, [envelope.recipient], "smtp-doctor check",
                                    f"{facts.host}:{facts.port}", version("smtp-doctor"))
                done = await deliver(session, envelope.sender, [envelope.recipient], msg, dry_run=True)
                asked.replies = {k.split(":", 1)[0]: r for k, r in done.replies.items()}
                asked.failed_phase = done.failed_phase
                if done.broken:
                    asked.asked, asked.asked_reason = "broken", done.broken
                else:
                    asked.asked = "refused" if done.failed_phase else "accepted"
    except SessionRefused as exc:  # the greeting was refused: predict already says so from the probe
        asked.replies[exc.phase] = exc.reply
        _broken(asked, exc.phase)
    except SessionBroken as exc:
        _broken(asked, exc.what)
    except BREAKS as exc:
        _broken(asked, what_broke(exc))
    except TimeoutError:
        _broken(asked, "timeout")
    finally:
        if session is not None:
            await session.quit()
            session.channel.close()
    return asked


def _redacted(reply: Reply | None, redact: Redactor) -> Reply | None:
    return replace(reply, lines=tuple(redact(line) for line in reply.lines)) if reply is not None else None


def envelope_pair(spec: str | None, sender: str | None, recipient: str | None) -> tuple[str, str] | None:
    """``--envelope FROM,TO`` or ``--envelope-from``/``--envelope-to`` (both, or neither): exit 2 otherwise."""
    from .errors import UserError

    if spec is not None:
        sender_, _, recipient_ = spec.partition(",")
        sender, recipient = sender or sender_.strip(), recipient or recipient_.strip()
    if not sender and not recipient:
        return None
    if not sender or not recipient:
        raise UserError("check.cli.envelope_incomplete")
    return sender, recipient


def _not_asked(asked: Asked, reason: str) -> Asked:
    if asked.envelope is not None:
        asked.asked, asked.asked_reason = "not_asked", reason
    return asked


def _broken(asked: Asked, what: str) -> None:
    """The session ended without an answer (closed, reset, timeout …): say so, predict nothing from it."""
    if asked.login == "pending":
        asked.login, asked.login_reason = "broken", what
    if asked.envelope is not None and asked.asked is None:
        asked.asked, asked.asked_reason = "broken", what



def envelope_of(pair: tuple[str, str] | None) -> Envelope | None:
    """``--envelope FROM,TO``: both addresses as they can go on the wire, or exit 2 (send.bad_address)."""
    from .errors import UserError
    from .probe.send import usable_address

    if pair is None:
        return None
    for address in pair:
        if not usable_address(address):
            raise UserError("send.bad_address", address=address)
    return Envelope(*pair)
