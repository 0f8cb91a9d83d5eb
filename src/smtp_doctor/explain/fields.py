"""Pull the facts out of an error text: host, port, SMTP reply codes, OpenSSL's packed error, client.

The *where* of host/port is data (errors.toml [[field]]); the SMTP and OpenSSL grammars are fixed by
RFC 5321/3463 and OpenSSL's ERR format, so they live here as code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..cache import compile_regex  # fixed patterns compiled once per interpreter (issue 16)
from .knowledge import Knowledge

#: "535-5.7.8", "530 5.7.0", "(535, b'5.7.8 …')" (Python drops the code from continuation lines)
_REPLY_ENH = compile_regex(r"(?<![\d.])([2-5]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_REPLY_PY = compile_regex(r"\(([2-5]\d\d), b?['\"](?:([245]\.\d{1,3}\.\d{1,3}) )?")
#: a bare code where a library quotes the server: "response=421 …", "but got code \"535\"", "[530 …"
_REPLY_CTX = compile_regex(
    r"(?:response[=:]\s*\[?|got code \"|response \[|^|\s-\s|: |\[)([45][0-5]\d)(?=[ \"-][A-Za-z<#\]])"
    r"|unexpected smtp-server response: ([45][0-5]\d)$", re.MULTILINE)  # curl (8) quotes only the code
_ENH_ONLY = compile_regex(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
#: OpenSSL: "error:0A00010B:SSL routines:ssl3_get_record:wrong version number[:file:line:]"
_OSSL = compile_regex(r"error:([0-9A-Fa-f]{8}):([A-Za-z0-9 ]+ routines):([A-Za-z0-9_]*):([^:\n]+)")
#: Python: "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"
_PYSSL = compile_regex(r"\[SSL: ([A-Z0-9_]+)\] ([^(\n]+?)\s*\(_ssl\.c:(\d+)\)")
_PY_VERIFY = compile_regex(r"certificate verify failed: ([^(\n]+?)\s*\(_ssl\.c")
_RUBY_VERIFY = compile_regex(r"certificate verify failed \(([^)\n]+)\)")


@dataclass(frozen=True)
class SMTPReply:
    code: int | None
    enhanced: str | None

    def __str__(self) -> str:
        return " ".join(str(x) for x in (self.code, self.enhanced) if x)


@dataclass
class Fields:
    host: str | None = None
    port: int | None = None
    replies: list[SMTPReply] = field(default_factory=list)
    openssl_code: str | None = None
    openssl_function: str | None = None
    openssl_reason: str | None = None
    openssl_generation: str | None = None  #: "1.x" or "3.x", from the packed code's layout
    verify_error: str | None = None  #: the X.509 reason a client quoted
    clients: list[str] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=list)  #: most specific first

    def as_pairs(self) -> list[tuple[str, str]]:
        """Non-empty fields as (name, value), for the technical-details section."""
        out: list[tuple[str, str]] = []
        if self.host:
            out.append(("host", self.host))
        if self.port is not None:
            out.append(("port", str(self.port)))
        if self.replies:
            out.append(("smtp", ", ".join(dict.fromkeys(str(r) for r in self.replies))))
        for name in ("openssl_code", "openssl_function", "openssl_reason", "openssl_generation", "verify_error"):
            value = getattr(self, name)
            if value:
                out.append((name, value))
        if self.clients:
            out.append(("client", ", ".join(self.clients)))
        if self.frameworks:
            out.append(("framework", ", ".join(self.frameworks)))
        return out

    def to_dict(self) -> dict[str, object]:
        return {"host": self.host, "port": self.port,
                "smtp": [{"code": r.code, "enhanced": r.enhanced} for r in self.replies],
                "openssl": {"code": self.openssl_code, "function": self.openssl_function,
                            "reason": self.openssl_reason, "generation": self.openssl_generation},
                "verify_error": self.verify_error, "clients": self.clients, "frameworks": self.frameworks}


def smtp_replies(text: str) -> list[SMTPReply]:
    out: list[SMTPReply] = []
    for m in _REPLY_ENH.finditer(text):
        out.append(SMTPReply(int(m.group(1)), m.group(2)))
    for m in _REPLY_PY.finditer(text):
        out.append(SMTPReply(int(m.group(1)), m.group(2)))
    if not out:
        for m in _REPLY_CTX.finditer(text):
            out.append(SMTPReply(int(m.group(1) or m.group(2)), None))
    if not out:  # "5.7.8 Username and Password not accepted" with the code dropped
        for m in _ENH_ONLY.finditer(text):
            out.append(SMTPReply(None, m.group(0)))
    return list(dict.fromkeys(out))


def host_port(text: str, kb: Knowledge) -> tuple[str | None, int | None]:
    """Only the *where*: cheap enough to run on the lines around every failure in a log."""
    host: str | None = None
    port: int | None = None
    if not kb.field_screen(text):
        return host, port
    for rule in kb.fields:
        if host is not None and port is not None:
            break
        m = rule.regex.search(text)
        if not m:
            continue
        groups = m.groupdict()
        if host is None and groups.get("host"):
            host = groups["host"].strip("[]")
        if port is None and groups.get("port"):
            number = int(groups["port"])
            if 0 < number < 65536:
                port = number
    return host, port


def nearby_host_port(context: str, kb: Knowledge,
                     lookup: Callable[[str], tuple[str | None, int | None]] | None = None
                     ) -> tuple[str | None, int | None]:
    """Host and port from the lines before an error, the nearest line first (``lookup``: a memo of
    ``host_port`` for lines already read)."""
    host: str | None = None
    port: int | None = None
    for line in reversed(context.splitlines()):
        h, p = lookup(line) if lookup is not None else host_port(line, kb)
        host = host or h
        port = port if port is not None else p
        if host is not None and port is not None:
            break
    return host, port


def extract(text: str, kb: Knowledge) -> Fields:
    f = Fields()
    f.host, f.port = host_port(text, kb)
    f.replies = smtp_replies(text)
    if (m := _OSSL.search(text)):
        f.openssl_code = m.group(1).upper()
        f.openssl_function = m.group(3) or None
        f.openssl_reason = m.group(4).strip()
        # OpenSSL 3 packs the library number 20 (SSL) as 0x0A in the top byte; 1.x as 0x14.
        f.openssl_generation = "3.x" if f.openssl_code.startswith("0A") else "1.x"
    elif (m := _PYSSL.search(text)):
        f.openssl_function = None
        f.openssl_reason = m.group(2).strip()
        f.openssl_code = m.group(1)
    if (m := _PY_VERIFY.search(text) or _RUBY_VERIFY.search(text)):
        f.verify_error = m.group(1).strip()
    # The client that printed the text shows its markers again and again (stack frames, log prefixes); one
    # that matches once was quoted or named in passing: the most frequent one comes first.
    counts = {c.id: len(c.regex.findall(text)) for c in kb.clients}
    f.clients = sorted((cid for cid, n in counts.items() if n), key=lambda cid: -counts[cid])
    named = [fid for fid, rx in kb.framework_hints if rx.search(text)]
    primary = next((c for c in kb.clients if f.clients and c.id == f.clients[0]), None)
    if primary is not None:  # a Ruby log naming "x509:" is still a Ruby log; a Perl one names no framework
        named = [fid for fid in named if fid in primary.frameworks]
    # A product (Mastodon, GitLab) is more specific than the library it runs on.
    order = {"mastodon": 0, "gitlab": 0, "django": 1, "symfony": 1}
    named.sort(key=lambda fid: order.get(fid, 2))
    if not named and f.clients:  # only the printing client's fix lines apply (issue 11, kind 5)
        named.extend(next(c for c in kb.clients if c.id == f.clients[0]).frameworks)
    f.frameworks = list(dict.fromkeys(named))
    return f
