"""Incremental parser for SMTP replies (RFC 5321 §4.2), hardened for hostile servers.

Servers are untrusted input: a reply may never end, a line may be a megabyte, bytes may not be
UTF-8. The parser bounds every dimension and reports a ``ProtocolError`` with a kind the diagnosis
can explain, instead of growing a buffer forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

#: RFC 5321 allows 512 octets a reply line; real servers exceed it a little, hostile ones a lot.
MAX_LINE = 4096
#: A reply with more lines than this is not a mail server being reasonable. Real EHLO replies have
#: 5-30 lines; some appliances list hundreds of extensions, so the bound is generous but finite.
MAX_LINES = 1000
#: All lines of one reply together (1000 lines of 512 octets): memory stays bounded whatever is sent.
MAX_REPLY_BYTES = 512 * 1024
#: RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39 (ASCII only: no Unicode digits, no "199").
_CODE = re.compile(rb"[2-5][0-5][0-9]")

_ENHANCED = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)")


class ProtocolErrorKind(StrEnum):
    LINE_TOO_LONG = "line_too_long"
    TOO_MANY_LINES = "too_many_lines"
    MALFORMED = "malformed"  #: not "NNN-" / "NNN " / "NNN"
    INCONSISTENT_CODES = "inconsistent_codes"  #: a multi-line reply changed its code midway
    NUL_BYTE = "nul_byte"


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed SMTP reply."""

    def __init__(self, kind: ProtocolErrorKind, sample: bytes = b"") -> None:
        super().__init__(f"{kind}: {sample[:60]!r}")
        self.kind = kind
        self.sample = sample[:120]


@dataclass(frozen=True)
class Reply:
    """One complete reply: the code, the text of each line, the enhanced status code if any."""

    code: int
    lines: tuple[str, ...]
    enhanced: str | None = None
    invalid_utf8: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 400

    def wire(self) -> list[str]:
        """The reply as the server wrote it, one string a line (for transcripts)."""
        last = len(self.lines) - 1
        return [f"{self.code}{' ' if i == last else '-'}{line}" for i, line in enumerate(self.lines)]


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


class ReplyParser:
    """Feed bytes with ``feed``; take complete replies with ``next_reply``.

    Bytes after the last complete line stay buffered; ``take_pending`` hands them out (after a
    ``220`` to STARTTLS anything buffered is a response-injection attempt and must be discarded).
    """

    def __init__(self, max_line: int = MAX_LINE, max_lines: int = MAX_LINES) -> None:
        self._buf = bytearray()
        self._lines: list[str] = []
        self._code: int | None = None
        self._bad_utf8 = False
        self._max_line = max_line
        self._max_lines = max_lines
        self._reply_bytes = 0
        self.bytes_seen = 0

    def feed(self, data: bytes) -> None:
        self._buf += data
        self.bytes_seen += len(data)

    def pending(self) -> bytes:
        return bytes(self._buf)

    def take_pending(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def next_reply(self) -> Reply | None:
        """Return the next complete reply, ``None`` if more bytes are needed."""
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > self._max_line:
                    raise ProtocolError(ProtocolErrorKind.LINE_TOO_LONG, bytes(self._buf[:120]))
                return None
            if end > self._max_line:
                raise ProtocolError(ProtocolErrorKind.LINE_TOO_LONG, bytes(self._buf[:120]))
            raw = bytes(self._buf[:end]).rstrip(b"\r")
            del self._buf[: end + 1]
            reply = self._line(raw)
            if reply is not None:
                return reply

    def _line(self, raw: bytes) -> Reply | None:
        if b"\x00" in raw:
            raise ProtocolError(ProtocolErrorKind.NUL_BYTE, raw)
        if not _CODE.fullmatch(raw[:3]) or (len(raw) > 3 and raw[3:4] not in (b" ", b"-")):
            raise ProtocolError(ProtocolErrorKind.MALFORMED, raw)
        code = int(raw[:3].decode("ascii"))
        if self._code is not None and code != self._code:
            raise ProtocolError(ProtocolErrorKind.INCONSISTENT_CODES, raw)
        text, bad = _decode(raw[4:])
        self._bad_utf8 |= bad
        self._lines.append(text)
        self._code = code
        self._reply_bytes += len(raw)
        if raw[3:4] == b"-":
            if len(self._lines) >= self._max_lines or self._reply_bytes > MAX_REPLY_BYTES:
                raise ProtocolError(ProtocolErrorKind.TOO_MANY_LINES, raw)
            return None
        match = _ENHANCED.match(self._lines[0]) if code >= 200 else None
        reply = Reply(code, tuple(self._lines), match.group(1) if match else None, self._bad_utf8)
        self._lines, self._code, self._bad_utf8, self._reply_bytes = [], None, False, 0
        return reply


#: How the greeting of a service that is not SMTP starts: (prefix, protocol, source). Named in a diagnosis so the
#: user knows which port they gave (the IMAP or POP3 port for the SMTP one, most often).
FOREIGN_GREETINGS: tuple[tuple[bytes, str, str], ...] = (
    (b"* OK", "IMAP", "RFC 9051 §7.1.1 (untagged OK greeting); Dovecot's '* OK [CAPABILITY …] Dovecot ready.'"),
    (b"* PREAUTH", "IMAP", "RFC 9051 §7.1.4"),
    (b"* BYE", "IMAP", "RFC 9051 §7.1.5"),
    (b"+OK", "POP3", "RFC 1939 §4 (the greeting is a positive response)"),
    (b"SSH-", "SSH", "RFC 4253 §4.2 (the identification string)"),
    (b"HTTP/", "HTTP", "RFC 9112 §4 (the status line)"),
)


def foreign_protocol(first_line: bytes) -> str:
    """The protocol a greeting that is not SMTP belongs to, "" when it is none we know."""
    return next((name for prefix, name, _ in FOREIGN_GREETINGS if first_line.startswith(prefix)), "")


def looks_like_smtp(first_bytes: bytes) -> bool:
    """Whether the first bytes a peer sent could be an SMTP greeting ("220", "421", "554" …)."""
    return len(first_bytes) >= 4 and bool(_CODE.fullmatch(first_bytes[:3])) and first_bytes[3:4] in (b" ", b"-")
