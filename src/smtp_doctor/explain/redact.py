"""Mask credentials in text we echo back (evidence, log samples): pasted logs carry them more often than
people think — DSNs with user:password, PHPMailer/nodemailer debug transcripts with base64 AUTH lines."""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host → scheme://user:***@host
    (re.compile(r"([a-z][a-z0-9+.-]*://[^:@\s/]*:)[^@\s/]+@", re.IGNORECASE), r"\1***@"),
    # AUTH PLAIN <b64>, AUTH XOAUTH2 <b64>, AUTH LOGIN <b64>
    (re.compile(r"(\bAUTH\s+(?:PLAIN|LOGIN|XOAUTH2|CRAM-MD5|OAUTHBEARER)\s+)\S+", re.IGNORECASE), r"\1***"),
    # debug transcripts: a client line that is only base64 (AUTH LOGIN user / password steps)
    (re.compile(r"((?:CLIENT -> SERVER:|C:|>>>|send:|\[client\])\s*[b'\"]*)[A-Za-z0-9+/]{6,}={0,2}"
                r"(?=['\"]?(?:\\r\\n)?['\"]?\s*$)", re.MULTILINE), r"\1***"),
    # password=..., "pass": "...", PASSWORD: ...
    (re.compile(r"((?:pass(?:word|wd)?|secret|api[_-]?key|token)[\"']?\s*[=:]\s*[\"']?)[^\s\"',;}]+",
                re.IGNORECASE), r"\1***"),
)


def redact(text: str) -> str:
    for rx, repl in _RULES:
        text = rx.sub(repl, text)
    return text
