"""The client's side of an SMTP conversation, without I/O.

``Dialogue`` turns commands into bytes and bytes into replies, and keeps the transcript the user
can ask for with ``--transcript``. Commands that carry a secret are recorded only in their masked
form, so the transcript is safe to paste anywhere by construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .reply import Reply, ReplyParser


class Direction(StrEnum):
    CLIENT = "C"  #: what smtp-doctor sent
    SERVER = "S"  #: what the server sent
    NOTE = "*"  #: an event: connected, TLS established, closed …


@dataclass(frozen=True)
class TranscriptLine:
    elapsed: float  #: seconds since the dialogue began
    direction: Direction
    text: str


class Dialogue:
    """One SMTP connection's command/reply bookkeeping and transcript."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.parser = ReplyParser()
        self.transcript: list[TranscriptLine] = []
        self._clock = clock
        self._start = clock()

    def _log(self, direction: Direction, text: str) -> None:
        self.transcript.append(TranscriptLine(round(self._clock() - self._start, 4), direction, text))

    def note(self, text: str) -> None:
        self._log(Direction.NOTE, text)

    def command(self, line: str, *, shown: str | None = None) -> bytes:
        """Encode ``line``; the transcript records ``shown`` instead when the line holds a secret."""
        if "\r" in line or "\n" in line:
            raise ValueError("SMTP command lines must not contain CR or LF")
        self._log(Direction.CLIENT, line if shown is None else shown)
        return line.encode("utf-8") + b"\r\n"

    def receive(self, data: bytes) -> None:
        self.parser.feed(data)

    def next_reply(self) -> Reply | None:
        reply = self.parser.next_reply()
        if reply is not None:
            for line in reply.wire():
                self._log(Direction.SERVER, line)
        return reply

    def restart_after_tls(self) -> bytes:
        """Forget buffered plaintext after STARTTLS (RFC 3207 §4.2); return what was discarded.

        Bytes a server (or a man in the middle) sent after ``220`` and before the handshake must never
        be read as replies inside TLS: that is the response-injection attack (CVE-2021-38371 class).
        """
        leftover = self.parser.take_pending()
        self.parser = ReplyParser()
        return leftover
