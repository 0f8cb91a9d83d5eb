"""``host``, ``host:port``, ``[v6]:port``: the one parser for a server named on the command line or in an API call."""

from __future__ import annotations

import re

from .errors import UserError

_BRACKETED = re.compile(r"^\[([0-9A-Fa-f:.%a-zA-Z]+)\](?::(\d+))?$")


def parse_port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or not 0 < int(text) < 65536:  # not "²"
        raise UserError("probe.bad_port", port=text)
    return int(text)


def parse_target(target: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port or None)."""
    target = target.strip()
    if not target or any(c.isspace() for c in target) or "/" in target:
        raise UserError("probe.bad_target", target=target)
    if (m := _BRACKETED.match(target)):
        return m.group(1), parse_port(m.group(2)) if m.group(2) else None
    if target.count(":") == 1:
        host, port = target.split(":")
        if not host:
            raise UserError("probe.bad_target", target=target)
        return host, parse_port(port)
    return target, None
