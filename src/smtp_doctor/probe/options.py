"""Probe knobs and their defaults, with the reasoning behind each number."""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass, field

from ..errors import UserError

#: Ports probed when the user names none: submission, submissions (RFC 8314), SMTP.
DEFAULT_PORTS = (587, 465, 25)


def default_ehlo_name() -> str:
    """Our own FQDN if we have one; RFC 5321 wants a domain, some servers reject bare words."""
    name = socket.getfqdn()
    return name if "." in name and not name.endswith(".") else "localhost.localdomain"


@dataclass(frozen=True)
class ProbeOptions:
    #: The whole probe of one port, whatever the server does.
    timeout: float = 30.0
    #: SYN → SYN/ACK. A filtered port never answers; 5 s is ten times a slow intercontinental RTT.
    connect_timeout: float = 5.0
    #: Greeting wait. RFC 5321 allows 5 min; greet-pause servers (postscreen) wait 5–30 s.
    greeting_timeout: float = 20.0
    #: Any other command reply, and the TLS handshake.
    command_timeout: float = 10.0
    tls_timeout: float = 10.0
    ca_file: str | None = None
    ehlo_name: str = field(default_factory=default_ehlo_name)
    #: Name sent as SNI and checked against the certificate; defaults to the host probed.
    servername: str | None = None
    #: Runtimes (ruby, python, node, java, php, go, openssl) whose own trust store should also
    #: verify the chain: "will my app's runtime trust this server?". Empty: none (it runs interpreters).
    runtimes: tuple[str, ...] = ()
    #: Also try each TLS version alone (four more connections per TLS port): which versions does it accept?
    tls_versions: bool = False

    def __post_init__(self) -> None:
        """Refuse what would make every deadline meaningless (``nan`` compares false with everything,
        so a NaN timeout once blamed a healthy server) or a name no TLS library accepts as SNI."""
        for name in ("timeout", "connect_timeout", "greeting_timeout", "command_timeout", "tls_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise UserError("input.bad_timeout", value=str(value))
        for name in ("greeting_timeout", "tls_timeout"):  # the two sides of the mode race
            if getattr(self, name) > 0.8 * self.timeout:
                # a wait as long as the whole probe ends with it: "no verdict" where "silent" is known
                object.__setattr__(self, name, 0.8 * self.timeout)
        if self.servername is not None:
            check_dns_name(self.servername, "--servername")
        if self.ca_file is not None and os.path.exists(self.ca_file) and not (
                os.path.isfile(self.ca_file) or os.path.isdir(self.ca_file)):
            raise UserError("input.bad_ca_file", path=self.ca_file)  # /dev/zero, a FIFO: a read never ending

    def phase(self, seconds: float) -> float:
        return min(seconds, self.timeout)


def check_dns_name(name: str, what: str) -> None:
    """A DNS name as RFC 1035 bounds it (253 octets in all, 63 a label) and IDNA can encode it."""
    try:
        encoded = name.rstrip(".").encode("idna") if name.strip() else b""
    except UnicodeError:
        encoded = b""
    labels = encoded.split(b".")
    if not encoded or len(encoded) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        raise UserError("input.bad_dns_name", what=what, name=name[:80] + ("…" if len(name) > 80 else ""))
