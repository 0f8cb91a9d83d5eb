"""The embedded lab: local SMTP servers on 127.0.0.1 showing every failure mode.

It is the demo's target and the test suite's fixture, so both run offline against real sockets
and real TLS. ``Lab`` is the asyncio form; ``run_lab_in_thread`` runs it on a background loop for
synchronous callers (tests that start real clients as subprocesses, the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import hostile, servers
from .certs import LabPKI
from .servers import LAB_OAUTH_TOKEN, LAB_PASSWORD, LAB_USER, SPECS, Mailbox, Spec
from .thread import run_in_thread


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
    with run_in_thread(Lab(directory, host, with_hostile), "smtp-doctor-lab") as info:
        yield info
