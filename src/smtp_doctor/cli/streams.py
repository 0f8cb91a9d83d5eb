"""The process's own streams and the files a command reads, made safe before any command runs.

Local input fails in ordinary ways — stdin closed (``<&-``), a terminal in Shift_JIS, a log path that
is a FIFO or ``/dev/zero`` — and each must end in one line and exit 2, never a traceback or a read
that never ends.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from typing import BinaryIO, cast

from ..errors import UserError

#: What one stream (stdin) may feed ``explain --log`` at most: 4 GiB is minutes of real logs and
#: seconds of ``/dev/zero``; a regular file ends by itself and is not bounded.
MAX_STREAM_BYTES = 4 << 30


class _ClosedStdin(io.TextIOBase):
    """Stands in for a closed fd 0 (``sys.stdin is None``): reading it is the user's error, not ours."""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        raise UserError("input.stdin_closed")

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise UserError("input.stdin_closed")

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> BinaryIO:
        raise UserError("input.stdin_closed")


def harden_std_streams() -> None:
    """Closed stdin → a stand-in that refuses reads; closed stdout/stderr → /dev/null; and text the
    terminal's encoding cannot show (Japanese on a Shift_JIS or EUC-JP terminal lacks ✔, ▲ …) is
    written as ``\\u2714`` escapes instead of raising ``UnicodeEncodeError``."""
    if sys.stdin is None:
        sys.stdin = _ClosedStdin()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as we do
        elif isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file: a FIFO would block in ``open`` until a
    writer comes, a device such as ``/dev/zero`` never ends, a directory cannot be read."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = stat.S_IFREG  # let open() report the missing or unreadable file in its own words
    if not stat.S_ISREG(mode):
        raise UserError("input.not_regular_file", path=path)
    return cast(BinaryIO, open(path, "rb"))  # noqa: SIM115 - the caller closes it


class BoundedReader(io.RawIOBase):
    """A binary stream that raises ``UserError`` after ``limit`` bytes (``explain --log - < /dev/zero``)."""

    def __init__(self, stream: BinaryIO, name: str, limit: int = MAX_STREAM_BYTES) -> None:
        self._stream, self._name, self._left, self._limit = stream, name, limit, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            if self._stream.read(1):
                raise UserError("input.too_big", path=self._name, limit=f"{self._limit >> 30} GiB")
            return b""
        data = self._stream.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        return data
