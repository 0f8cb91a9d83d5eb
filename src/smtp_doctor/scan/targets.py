"""Scan input: one target per line, streamed; an opt-out list; a domain's MX hosts with ``--mx``.

Lines are parsed one at a time and never collected, so a file of ten million targets costs the
memory of one. A malformed line becomes a record of its own (class ``invalid_target``), not an abort:
one bad line in a customer list must not stop the night's scan.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..probe.many import Target

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Item:
    """One input line understood: a target, or why it is not one."""

    text: str  #: the line as given (stripped), for the record's ``input``
    target: Target | None = None
    problem: str | None = None  #: "bad_port", "bad_host"
    domain: bool = False  #: a name without port or address: with --mx, a domain whose MX hosts are the targets
    port_given: bool = False


def valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host.rstrip(".")
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def parse_line(text: str, default_port: int) -> Item:
    """``host``, ``host:port``, ``[v6]:port``, ``v6``, or ``name@address[:port]`` (scan a name on a given IP)."""
    rest, port_text = text, ""
    name, _, pinned = text.rpartition("@") if "@" in text else ("", "", text)
    rest = pinned
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ("?" if tail else "")
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host = rest
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return Item(text, problem="bad_port")
        port = int(port_text)
    if not valid_host(host) or (name and not valid_host(name)):
        return Item(text, problem="bad_host")
    if name:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return Item(text, problem="bad_host")  # the part after @ must be an address
        return Item(text, Target(name.lower(), port, address=host), port_given=bool(port_text))
    return Item(text, Target(host.lower(), port), domain=not port_text and not _is_ip(host),
                port_given=bool(port_text))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def read_lines(stream: Iterable[str]) -> Iterator[str]:
    """Non-empty lines without comments (``#``), stripped; a line is never longer than 1 KB in a record."""
    for raw in stream:
        line = raw.split("#", 1)[0].strip()
        if line:
            yield line[:1024]


def items(stream: Iterable[str], ports: tuple[int, ...]) -> Iterator[Item]:
    """Each line once per port asked for (a line with its own port: that port only)."""
    for line in read_lines(stream):
        first = parse_line(line, ports[0])
        yield first
        if first.target is not None and not first.port_given:
            for port in ports[1:]:
                yield parse_line(line, port)


class Exclusions:
    """The opt-out list: host names (``.example.com`` or ``*.example.com`` for a whole domain), IPs, networks."""

    def __init__(self, lines: Iterable[str] = ()) -> None:
        self.names: set[str] = set()
        self.suffixes: tuple[str, ...] = ()
        nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        suffixes: list[str] = []
        for line in read_lines(lines):
            entry = line.lower().rstrip(".")
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith(("*.", ".")):
                suffixes.append("." + entry.lstrip("*."))
            else:
                self.names.add(entry)
        self.networks = tuple(nets)
        self.suffixes = tuple(suffixes)

    def __bool__(self) -> bool:
        return bool(self.names or self.suffixes or self.networks)

    def address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def excluded(self, target: Target) -> bool:
        host = target.host.rstrip(".")
        if host in self.names or host.endswith(self.suffixes) or ("." + host).endswith(self.suffixes):
            return True
        return self.address(target.address or host)
