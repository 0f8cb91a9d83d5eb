"""Run a command with its output on a pseudo-terminal, as a user's terminal would see it.

rich draws colours and progress only on a terminal, so what reaches a real terminal emulator is tested
there, not through a pipe. The read loop is bounded and the child is waited for with a deadline.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess


def run_on_pty(argv: list[str], *, env: dict[str, str] | None = None, stdout_on_pty: bool = True,
               timeout: float = 120) -> tuple[int, bytes]:
    """(exit code, every byte written to the terminal); stderr always goes there, stdout when asked."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave if stdout_on_pty else subprocess.DEVNULL, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    for _ in range(int(timeout) * 100):  # bounded: each pass waits at most 1 s
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=timeout), b"".join(chunks)
