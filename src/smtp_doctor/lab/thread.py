"""Run an asyncio lab on its own event loop in a daemon thread, for synchronous callers.

Tests start real clients as subprocesses and the CLI blocks on Ctrl-C, so the mail lab and the domain
lab both need a loop that is not the caller's. One place owns the start-up wait, the error hand-over
and the orderly shutdown (connection handlers cancelled before the loop closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def run_in_thread(lab: AbstractAsyncContextManager[T], name: str, start_timeout: float = 60.0,
                  join_timeout: float = 10.0) -> Iterator[T]:
    """Enter ``lab`` on a background loop, yield what it yields, and exit it when the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["info"] = loop.run_until_complete(lab.__aenter__())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        started.set()
        if "info" in box:
            loop.run_forever()
            loop.run_until_complete(lab.__aexit__(None, None, None))
            leftover = asyncio.all_tasks(loop)  # connection handlers still running: end them first
            for task in leftover:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not started.wait(start_timeout):
        raise RuntimeError(f"{name} did not start within {start_timeout:.0f} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    try:
        yield box["info"]  # type: ignore[misc]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(join_timeout)
