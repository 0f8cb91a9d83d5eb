"""The one secret filter: every piece of outside text we echo back (log lines, pasted commands, config
values, server replies) passes through :func:`redact` before any renderer sees it.

People paste what they ran and what their app logged, and both carry credentials in the forms of the
clients they use: ``swaks -ap``, ``curl -u user:pass``, ``msmtp --passwordeval``, ``openssl s_client``
AUTH exchanges in base64, URLs with userinfo, HTTP auth headers, config keys, Postfix ``static:`` maps.
A secret we *know* (``--password-env``) is masked in every wire form by :class:`Redactor`; a secret we
only *see* is recognised here by its shape. Masking is deliberately generous: an over-masked value costs
a second look, a leaked password costs a rotation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .cache import compile_regex  # fixed patterns compiled once per interpreter (issue 16)
from .credentials import Credentials, Redactor, wire_forms

__all__ = ["MASK", "Credentials", "Redactor", "mask_postfix_map", "redact", "redact_json", "wire_forms"]

MASK = "***"

_B64 = r"[A-Za-z0-9+/]{4,}={0,2}"
_VALUE = r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;}]+)"
#: Flags whose argument is a secret: swaks, msmtp, curl (tokens), mysql-style clients, our own old habits.
_SECRET_FLAGS = r"(?:-ap|--auth-password|--password|--passwd|--pass|--pw|--passwordeval|--oauth2-bearer|--token)"
#: Flags whose argument is ``user:password`` (curl, wget-style proxies).
_USERPASS_FLAGS = r"(?:-u|--user|-U|--proxy-user)"
#: Keys that *name* a secret; lookup tables and paths (``smtp_sasl_password_maps``, ``*_file``) do not.
_KEY = (r"[A-Za-z0-9_.-]*?(?:pass(?:word|wd|phrase)?|secret|api[_-]?key|access[_-]?token|auth[_-]?token"
        r"|token|credentials?)(?![A-Za-z0-9_.-]*?(?:_maps|_file|_path|_ref|_env|_command)\b)[A-Za-z0-9_]*")

_STATIC_MAP = compile_regex(r"(\bstatic:\{?[^\s:{}]*:)[^\s}]+")

#: A base64 credential blob, told apart from an English word: it has a digit, '+', '/' or '=', or is long.
_BLOB = r"(?=[A-Za-z0-9+/]*[0-9+/=]|[A-Za-z0-9+/]{20})[A-Za-z0-9+/]{4,}={0,2}(?![\w+/=])"
#: Values that are no secret whatever key holds them: booleans, nothing, references, code.
_NOT_A_VALUE = r"(?![=>]|\*\*\*|••••|\$\{|\$[A-Z_]|ENV\[|%\(|\(|new\s|(?:true|false|nil|null|none|yes|no)\b)"
_PLACEHOLDERS = frozenset({"pass", "password", "passwd", "secret", "***", "****", "********", "••••", "xxx", "…"})


def _userinfo(m: re.Match[str]) -> str:
    """``scheme://user:password@`` → ``scheme://user:***@``; documentation placeholders are kept."""
    return m.group(0) if m.group(2).lower() in _PLACEHOLDERS else f"{m.group(1)}:{MASK}@"


_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # scheme://user:password@host → scheme://user:***@host (a password may itself contain '@')
    (compile_regex(r"\b([a-z][a-z0-9+.-]*://[^\s:@/?#\"']*):([^\s/\"']*)@", re.IGNORECASE), _userinfo),
    # Authorization: Basic/Bearer/Digest …, and a bare "Bearer <token>" / "Basic <b64>" anywhere
    (compile_regex(r"\b((?:Proxy-)?Authorization\b[\"']?\s*[:=]\s*[\"']?(?:[A-Za-z-]+\s+)?)[^\s\"',;]+",
                re.IGNORECASE), rf"\1{MASK}"),
    (compile_regex(r"\b((?:Bearer|Basic)\s+)(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{6,}"),
     rf"\1{MASK}"),
    # SMTP AUTH with an initial response: AUTH PLAIN <b64>, AUTH LOGIN <b64>, AUTH XOAUTH2 <b64> …
    (compile_regex(r"(\bAUTH\s+(?:PLAIN|LOGIN|XOAUTH2?|CRAM-MD5|OAUTHBEARER|DIGEST-MD5|SCRAM-SHA-\S+|NTLM|GSSAPI)"
                r"\s+)" + _BLOB, re.IGNORECASE), rf"\1{MASK}"),
    # XOAUTH2 decoded: user=…^Aauth=Bearer <token>
    (compile_regex(r"(\bauth=Bearer\s*)[^\s\x01\\]+", re.IGNORECASE), rf"\1{MASK}"),
    # debug transcripts: a client line that is only base64 (AUTH LOGIN user / password steps)
    (compile_regex(r"((?:CLIENT -> SERVER:|C:|>>>|send:|\[client\]|->)\s*[b'\"]*)[A-Za-z0-9+/]{4,}={0,2}"
                r"(?=['\"]?(?:\\r\\n)?['\"]?\s*$)", re.MULTILINE), rf"\1{MASK}"),
    # … and a base64 blob right behind the marker wherever the line goes on (a log that appends to it)
    (compile_regex(r"((?:CLIENT -> SERVER:|C:|>>>|send:|\[client\])\s*[b'\"]*)" + _BLOB), rf"\1{MASK}"),
    # command lines: swaks -ap X, --auth-password=X, msmtp --passwordeval='…', curl --oauth2-bearer X
    (compile_regex(rf"((?:^|\s){_SECRET_FLAGS}(?:\s+|=))(?!\*\*\*){_VALUE}"), rf"\1{MASK}"),
    # curl -u user:pass, --user=user:pass, -uuser:pass
    (compile_regex(rf"((?:^|\s){_USERPASS_FLAGS}(?:\s+|=)?[\"']?[^\s:\"']*:)[^\s\"']+"), rf"\1{MASK}"),
    # Postfix static maps: smtp_sasl_password_maps = static:user:PASSWORD (or static:{user:PASSWORD})
    (_STATIC_MAP, rf"\1{MASK}"),
    # config keys. A quoted value is masked wherever the key stands ("password": "…", password: '…',
    # :password => '…', EMAIL_HOST_PASSWORD = '…', $mail->Password = '…')
    (compile_regex(rf"((?<![A-Za-z0-9_]){_KEY}[\"']?\s*(?:=>|=|:)\s*)(?:\"[^\"\n]*\"|'[^'\n]*')", re.IGNORECASE),
     rf"\1{MASK}"),
    # … an unquoted one when glued to its key (SMTP_PASSWORD=…, password=… in a log line) …
    (compile_regex(rf"((?<![A-Za-z0-9_]){_KEY}[=:]){_NOT_A_VALUE}{_VALUE}", re.IGNORECASE), rf"\1{MASK}"),
    # … or when the key starts a line or follows '{' ',' ';' (YAML, INI, .env with spaces, Ruby hashes);
    # a sentence that merely says "the password: …" is ours and left alone.
    (compile_regex(rf"((?:^|[{{,;])[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?:?{_KEY}[\"']?[ \t]*(?:=>|=|:)[ \t]*)"
                rf"{_NOT_A_VALUE}{_VALUE}", re.IGNORECASE | re.MULTILINE), rf"\1{MASK}"),
    # msmtprc / netrc: "password secret", "passwordeval gpg …" (key and value separated by blanks)
    (compile_regex(r"^([ \t]*(?:password|passwordeval|passwd)[ \t]+)(?!\*\*\*)\S.*$", re.IGNORECASE | re.MULTILINE),
     rf"\1{MASK}"),
    (compile_regex(r"(\bmachine\s+\S+.*?\bpassword\s+)\S+", re.IGNORECASE), rf"\1{MASK}"),
)

#: For each rule, words one of which its match must contain (lower case): the rule is skipped without them.
_KEYWORDS = ("pass", "secret", "key", "token", "credential")
_MARKERS = ("c:", ">>>", "send:", "[client]", "->")
_TRIGGERS: tuple[tuple[str, ...], ...] = (
    ("://",), ("authorization",), ("bearer", "basic"), ("auth",), ("auth=",), _MARKERS, _MARKERS,
    ("-ap", "--"), ("-u", "--user", "--proxy-user"), ("static:",), _KEYWORDS, _KEYWORDS, _KEYWORDS,
    ("pass",), ("machine",),
)

_CHALLENGE = compile_regex(r"(?:^|[\s:>'\"])334(?:[ -]|$)")
#: The client's answer to a challenge: a bare base64 line, maybe behind a transcript marker.
_CLIENT_B64 = compile_regex(r"^(\s*(?:C:|>>>|>|->|CLIENT -> SERVER:|send:|\[client\])?\s*[b'\"]*)(" + _B64 +
                         r")(['\"]?(?:\\r\\n)?['\"]?\s*)$")


def _after_challenges(text: str) -> str:
    """An SMTP AUTH exchange answers each ``334`` challenge with one base64 line (the user, then the
    password for LOGIN; the whole ``\\0user\\0pass`` for PLAIN): mask the line that follows a 334."""
    if "334" not in text:
        return text
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if _CHALLENGE.search(lines[i - 1]) and not _CHALLENGE.search(lines[i]):
            m = _CLIENT_B64.match(lines[i])
            if m:
                lines[i] = m.group(1) + MASK + m.group(3)
    return "\n".join(lines)


def redact(text: str) -> str:
    """``text`` with every credential we recognise by its shape replaced by ``***``."""
    if not text:
        return text
    low = text.lower()
    for (rx, repl), triggers in zip(_RULES, _TRIGGERS, strict=True):
        if any(word in low for word in triggers):  # a cheap test first: most text holds no secret at all
            text = rx.sub(repl, text)
    return _after_challenges(text)


def redact_json(doc: Any) -> Any:
    """A JSON-ready document with :func:`redact` applied to every string value (keys are ours). The
    document keeps its shape and its raw characters: JSON's own escaping is the boundary there."""
    if isinstance(doc, str):
        return redact(doc)
    if isinstance(doc, dict):
        return {k: redact_json(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [redact_json(v) for v in doc]
    return doc


def mask_postfix_map(value: str) -> str:
    """``static:user:PASSWORD`` → ``static:user:***``; other map specs (``hash:/etc/…``) are paths."""
    return _STATIC_MAP.sub(rf"\1{MASK}", value)
