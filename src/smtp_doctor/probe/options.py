"""Probe knobs and their defaults, with the reasoning behind each number."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

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

    def phase(self, seconds: float) -> float:
        return min(seconds, self.timeout)
