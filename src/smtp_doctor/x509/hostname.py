"""Does a certificate name the host the client was configured with? (RFC 9525 / RFC 7817)

Rules applied, as mail clients should: SAN dNSName entries only (the CN is consulted only when
there is no SAN at all, and that fallback is reported as deprecated); a wildcard only as the whole
left-most label, matching exactly one label; IP addresses only against iPAddress entries.
"""

from __future__ import annotations

import ipaddress

from ..facts import CertInfo


def _dns_match(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    p_labels, h_labels = pattern.split("."), host.split(".")
    if p_labels[0] != "*" or len(p_labels) < 3 or len(p_labels) != len(h_labels):
        return False
    return p_labels[1:] == h_labels[1:] and bool(h_labels[0])


def match_hostname(info: CertInfo, host: str) -> tuple[bool, bool]:
    """Return ``(matches, via_cn_only)``."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(v) == ip for v in info.san_ip), False
    host_idna = host.encode("idna").decode("ascii") if not host.isascii() else host
    if info.san_dns or info.san_ip:
        return any(_dns_match(p, host_idna) for p in info.san_dns), False
    if info.common_name and _dns_match(info.common_name, host_idna):
        return True, True
    return False, False
