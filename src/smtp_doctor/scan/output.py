"""Where records go: a JSONL file that a re-run resumes, or standard output.

Each record is one line written with one ``os.write`` on an ``O_APPEND`` descriptor, so an interrupted
scan leaves whole lines (and at worst one partial last line, which the next run cuts off before
appending). Resuming reads only the ``target`` of each line already there: those are not probed again.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO


class Output:
    def __init__(self, path: Path | None, stream: IO[str] | None = None) -> None:
        self.path = path
        self._stream = stream if stream is not None else sys.stdout
        self._fd: int | None = None

    def done(self) -> set[str]:
        """Targets already recorded in the file (a resumed scan skips them); cuts a torn last line."""
        if self.path is None or not self.path.exists():
            return set()
        keys: set[str] = set()
        good = 0
        with open(self.path, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                try:
                    keys.add(str(json.loads(raw)["target"]))
                except (ValueError, KeyError, TypeError):
                    break
                good += len(raw)
        if good != self.path.stat().st_size:
            os.truncate(self.path, good)
        return keys

    def open(self) -> None:
        if self.path is not None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line: str) -> None:
        if self._fd is not None:
            data = line.encode()
            while data:
                data = data[os.write(self._fd, data):]
        else:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
