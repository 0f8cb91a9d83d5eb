"""``--mx``: a domain's mail hosts (RFC 5321 §5.1), looked up with dnspython when it is installed.

Lookups run in a small thread pool, a batch at a time, so input stays streamed and in order. No MX:
the domain itself is its implicit MX; a null MX (RFC 7505, ``.``) means it accepts no mail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import islice
from typing import Any

from ..errors import UserError
from ..probe.many import Target
from .record import dumps, problem_record
from .targets import Item

BATCH = 64


def resolver(nameserver: str | None) -> Any:
    """The system's resolver, or one that asks only ``nameserver`` (``ADDR``, ``ADDR:PORT``, ``[v6]:PORT``)."""
    import dns.resolver

    if not nameserver:
        return dns.resolver.Resolver()
    res = dns.resolver.Resolver(configure=False)
    host, port = nameserver, 53
    if nameserver.startswith("["):
        host, _, rest = nameserver[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
    elif nameserver.count(":") == 1:
        host, _, tail = nameserver.partition(":")
        port = int(tail) if tail.isdigit() else 53
    res.nameservers, res.port = [host], port
    return res


def _lookup(res: Any, domain: str) -> tuple[list[str], str | None]:
    """(MX hosts by preference, error class or None)."""
    import dns.exception
    import dns.resolver

    try:
        answer = res.resolve(domain, "MX", lifetime=10.0)
    except dns.resolver.NoAnswer:
        return [domain], None
    except dns.resolver.NXDOMAIN:
        return [], "no_mx"
    except dns.exception.DNSException:
        return [], "dns_failure"
    hosts = [str(r.exchange).rstrip(".").lower() for r in sorted(answer, key=lambda r: r.preference)]  # type: ignore[attr-defined]
    if hosts in ([""], []):
        return [], "null_mx"
    return list(dict.fromkeys(hosts)), None


def expand(source: Iterable[Item], emit: Callable[[str], None], done: set[str],
           nameserver: str | None = None) -> Iterator[Item]:
    """Domains → their MX hosts as targets; a domain with none gets one record (once, also when resumed)."""
    try:
        import dns.resolver  # noqa: F401
    except ImportError:
        raise UserError("scan.no_dnspython") from None
    res = resolver(nameserver)
    it = iter(source)
    with ThreadPoolExecutor(16) as pool:
        while batch := list(islice(it, BATCH)):
            domains = [i.target.host for i in batch if i.domain and i.target is not None]
            found = dict(zip(domains, pool.map(lambda d: _lookup(res, d), domains), strict=True))
            for item in batch:
                if not item.domain or item.target is None:
                    yield item
                    continue
                hosts, error = found[item.target.host]
                if error and item.text not in done:
                    done.add(item.text)
                    emit(dumps(problem_record(item.text, error, item.target.host)))
                for host in hosts:
                    yield replace(item, target=Target(host, item.target.port, provider=_provider(host)))


def _provider(host: str) -> str:
    return ".".join(host.split(".")[-2:])
