"""The embedded lab: local SMTP servers on 127.0.0.1 showing every failure mode.

It is the demo's target and the test suite's fixture, so both run offline against real sockets
and real TLS. ``Lab`` is the asyncio form; ``run_lab_in_thread`` runs it on a background loop for
synchronous callers (tests that start real clients as subprocesses, the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import hostile, servers
from .certs import LabPKI
from .servers import LAB_OAUTH_TOKEN, LAB_PASSWORD, LAB_USER, SPECS, Mailbox, Spec


@dataclass(frozen=True)
class LabServer:
    name: str
    host: str
    port: int
    spec: Spec | None = None  #: None for hostile servers

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class LabInfo:
    host: str
    ca_file: Path
    directory: Path
    user: str = LAB_USER
    password: str = LAB_PASSWORD
    oauth_token: str = LAB_OAUTH_TOKEN
    servers: dict[str, LabServer] = field(default_factory=dict)
    hostile: dict[str, LabServer] = field(default_factory=dict)
    mailbox: Mailbox = field(default_factory=Mailbox)


class Lab:
    """``async with Lab(dir) as info:`` starts every server on an ephemeral port."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", with_hostile: bool = True) -> None:
        self.directory = directory
        self.host = host
        self.with_hostile = with_hostile
        self._servers: list[asyncio.Server] = []

    async def __aenter__(self) -> LabInfo:
        # aiosmtpd logs every odd command (our own TLS ClientHellos among them) at WARNING level
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        pki = LabPKI(self.directory)
        info = LabInfo(self.host, pki.ca_file, self.directory)
        try:
            for spec in SPECS:
                srv = await servers.start(spec, pki, info.mailbox, self.host)
                self._servers.append(srv)
                info.servers[spec.name] = LabServer(spec.name, self.host, _port(srv), spec)
            if self.with_hostile:
                for name in hostile.names():
                    srv = await hostile.start(name, pki, self.host)
                    self._servers.append(srv)
                    info.hostile[name] = LabServer(name, self.host, _port(srv))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return info

    async def __aexit__(self, *exc: object) -> None:
        for srv in self._servers:
            srv.close()
        for srv in self._servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await srv.wait_closed()
        self._servers.clear()


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


@contextlib.contextmanager
def run_lab_in_thread(directory: Path, host: str = "127.0.0.1", with_hostile: bool = True) -> Iterator[LabInfo]:
    """Run the lab on its own event loop in a daemon thread for as long as the ``with`` block."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}
    lab = Lab(directory, host, with_hostile)

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

    thread = threading.Thread(target=run, name="smtp-doctor-lab", daemon=True)
    thread.start()
    if not started.wait(60):
        raise RuntimeError("the lab did not start within 60 s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    try:
        yield box["info"]  # type: ignore[misc]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
