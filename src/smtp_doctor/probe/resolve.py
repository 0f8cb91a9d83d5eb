"""Name resolution, with failures told apart (no such name vs. resolver trouble)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from ..facts import Outcome


class ResolveError(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


async def resolve(host: str, seconds: float) -> tuple[str, ...]:
    """Addresses for ``host`` in the resolver's preference order, without duplicates."""
    literal = host.strip("[]")
    try:
        return (str(ipaddress.ip_address(literal)),)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(seconds):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise ResolveError(Outcome.DNS_FAILURE, "the resolver did not answer in time") from None
    except socket.gaierror as exc:
        nx = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5))
        raise ResolveError(Outcome.DNS_NXDOMAIN if nx else Outcome.DNS_FAILURE, exc.strerror or str(exc)) from None
    except UnicodeError:
        raise ResolveError(Outcome.DNS_NXDOMAIN, "not a valid host name") from None
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return tuple(seen)
