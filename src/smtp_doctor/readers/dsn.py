"""Mailer DSNs (Symfony ``MAILER_DSN``, Laravel ``MAIL_URL``, Nodemailer URLs) split into their parts.

Parsed by hand rather than with ``urllib.parse`` because each part needs its offset in the source
line (for the column of a finding) and PHP's ``parse_url`` rules (user info up to the last ``@``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from ..settings import ValueKind
from ._common import MASK, Ev


@dataclass(frozen=True)
class Part:
    key: str
    ev: Ev
    text: str  #: the part as written (percent-encoded)
    offset: int  #: character offset inside the DSN


@dataclass(frozen=True)
class Dsn:
    parts: tuple[Part, ...]
    masked: str  #: the whole DSN with its password replaced by the mask
    has_password: bool


class DsnError(ValueError):
    """Not a DSN: the caller turns it into a one-line UserError naming file and line."""


def parse_dsn(dsn: str, env: str | None = None) -> Dsn | None:
    """Split ``scheme://user:pass@host:port/path?opt=v``; ``None`` for ``failover(...)``-style lists."""
    s = dsn.strip()
    lead = len(dsn) - len(dsn.lstrip())
    if "(" in s.split("://", 1)[0]:
        return None
    scheme, sep, rest = s.partition("://")
    if not sep or not scheme or not all(c.isalnum() or c in "+.-_" for c in scheme):
        raise DsnError(dsn)
    parts: list[Part] = [Part("scheme", Ev(ValueKind.STRING, scheme, env), scheme, lead)]
    pos = lead + len(scheme) + 3
    end = len(rest)
    for stop in "/?#":
        i = rest.find(stop)
        if i != -1:
            end = min(end, i)
    authority, tail = rest[:end], rest[end:]
    masked_auth = authority
    has_password = False
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            parts.append(Part("user", Ev(ValueKind.STRING, unquote(user), env), user, pos))
        if colon:
            has_password = password != ""
            parts.append(Part("password", Ev(ValueKind.STRING, unquote(password), env), password,
                              pos + len(user) + 1))
            masked_auth = f"{user}:{MASK if has_password else ''}@{hostport}"
        hostpos = pos + len(userinfo) + 1
    else:
        hostport, hostpos = authority, pos
    if hostport.startswith("["):
        close = hostport.find("]")
        host, portpart = hostport[1 : close if close != -1 else None], hostport[close + 1 :]
    else:
        host, _, portpart = hostport.partition(":")
        portpart = ":" + portpart if _ else ""
    if host:
        parts.append(Part("host", Ev(ValueKind.STRING, unquote(host), env), host, hostpos))
    if portpart.startswith(":") and len(portpart) > 1:
        port = portpart[1:]
        number = port.isascii() and port.isdigit() and len(port) <= 10  # not "²", not 5000 digits for int()
        ev = Ev(ValueKind.INT, int(port), env) if number else Ev(ValueKind.STRING, port, env)
        parts.append(Part("port", ev, port, hostpos + len(hostport) - len(port)))
    path, _, query = tail.partition("?")
    query = query.split("#", 1)[0]
    qpos = pos + end + len(path) + 1
    for item in query.split("&") if query else []:
        name, eq, value = item.partition("=")
        if name:
            parts.append(Part(unquote(name), Ev(ValueKind.STRING, unquote(value) if eq else "", env), value,
                              qpos + len(name) + (1 if eq else 0)))
        qpos += len(item) + 1
    masked = s[: len(scheme) + 3] + masked_auth + tail
    return Dsn(tuple(parts), masked, has_password)


_DSN_LIST = re.compile(r"\s*(failover|roundrobin)\((.*)\)\s*", re.DOTALL)


def dsn_list(value: str) -> tuple[str, list[tuple[str, int]]] | None:
    """Symfony's ``failover(a b)`` / ``roundrobin(a b)``: (its kind, each DSN with its offset in ``value``); None
    for anything else, and for a list inside a list (kept whole: readers.note.dsn_unparsed). Symfony's
    Transport::fromDsns splits the list at blanks; RoundRobinTransport::send tries the next transport whenever
    one throws, so the app sends through the first that works."""
    m = _DSN_LIST.fullmatch(value)
    if m is None or "(" in m.group(2):
        return None
    members = [(t.group(0), m.start(2) + t.start()) for t in re.finditer(r"\S+", m.group(2))]
    return (m.group(1), members) if members else None


def dsn_member(value: str, alternative: tuple[str, int, int] | None) -> tuple[str, int] | None:
    """The transport of ``value``'s list that a config is (RawConfig.alternative): its text and offset; None when
    the config is no list's transport, or ``value`` holds no such list."""
    listed = dsn_list(value) if alternative is not None else None
    if listed is None or alternative is None or not 1 <= alternative[1] <= len(listed[1]):
        return None
    return listed[1][alternative[1] - 1]
