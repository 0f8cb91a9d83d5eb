"""The domain lab's DNS: zones signed with dnspython, served by NSD, resolved by Unbound.

Why real servers: a DNSSEC verdict is only worth something if a real validating resolver reached it
(Unbound, with the lab's root key as its only trust anchor) from data a real authoritative server
served (NSD). dnspython signs the zones because only a signer we control can publish the broken
states a domain owner meets: a corrupted signature, an expired RRSIG, a child without a DS.
Everything listens on 127.0.0.1 on ports the kernel hands out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec
from dns.rdtypes.ANY.DNSKEY import DNSKEY

ALGORITHM = dns.dnssec.Algorithm.ECDSAP256SHA256


@dataclass
class ZoneSpec:
    """One zone: its records as zone-file lines, and how it is signed."""

    origin: str  #: "example.test."
    records: list[str] = field(default_factory=list)  #: "name TTL TYPE data", names relative or absolute
    dnssec: str = "secure"  #: secure | insecure (unsigned, no DS) | bogus | expired
    #: records of this owner+type get their RRSIG corrupted when dnssec == "bogus"
    bogus_target: tuple[str, str] = ("", "TLSA")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now (DNS servers need both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port for the lab DNS servers")


def _key() -> tuple[ec.EllipticCurvePrivateKey, DNSKEY]:
    private = ec.generate_private_key(ec.SECP256R1())
    return private, dns.dnssec.make_dnskey(private.public_key(), ALGORITHM, flags=257)  # a CSK: KSK+ZSK


def _corrupt(zone: dns.zone.Zone, owner: str, rdtype: str) -> None:
    """Flip bits in the signature over ``owner``/``rdtype``: data a validator must call bogus."""
    assert zone.origin is not None
    name = dns.name.from_text(owner, zone.origin) if owner else zone.origin
    node = zone.get_node(name)
    assert node is not None, f"no {owner} in {zone.origin}"
    covered = dns.rdatatype.from_text(rdtype)
    rrsigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covered)
    assert rrsigs is not None, f"no RRSIG over {owner} {rdtype}"
    old = list(rrsigs)
    rrsigs.clear()
    for sig in old:
        broken = bytearray(sig.signature)  # type: ignore[attr-defined]
        broken[5] ^= 0xFF
        rrsigs.add(sig.replace(signature=bytes(broken)))  # type: ignore[attr-defined]


def build_zones(specs: Sequence[ZoneSpec], directory: Path) -> tuple[dict[str, Path], str]:
    """Sign every zone (children first, so each DS goes into its parent) and write the zone files.

    Returns the zone files by origin and the root's DNSKEY as a trust-anchor line.
    """
    directory.mkdir(parents=True, exist_ok=True)
    by_origin = {s.origin: s for s in specs}
    keys = {s.origin: _key() for s in specs if s.dnssec != "insecure"}
    extra: dict[str, list[str]] = {s.origin: [] for s in specs}
    for spec in specs:  # DS records of signed children go into the parent
        if spec.origin == "." or spec.origin not in keys:
            continue
        parent = dns.name.from_text(spec.origin).parent().to_text()
        if parent in by_origin:
            ds = dns.dnssec.make_ds(spec.origin, keys[spec.origin][1], "SHA256")
            extra[parent].append(f"{spec.origin} 3600 IN DS {ds.to_text()}")
    files: dict[str, Path] = {}
    for spec in specs:
        text = "\n".join([*spec.records, *extra[spec.origin]]) + "\n"
        zone = dns.zone.from_text(text, origin=spec.origin, relativize=False, check_origin=True)
        if spec.origin in keys:
            now = dt.datetime.now(dt.UTC)
            if spec.dnssec == "expired":  # signed last year, expired last month
                inception, expiration = now - dt.timedelta(days=400), now - dt.timedelta(days=30)
            else:
                inception, expiration = now - dt.timedelta(hours=1), now + dt.timedelta(days=30)
            dns.dnssec.sign_zone(zone, keys=[keys[spec.origin]], inception=inception, expiration=expiration)
            if spec.dnssec == "bogus":
                _corrupt(zone, *spec.bogus_target)
        path = directory / ("root.zone" if spec.origin == "." else f"{spec.origin.rstrip('.')}.zone")
        zone.to_file(str(path), relativize=False)
        files[spec.origin] = path
    root_key = keys["."][1]
    return files, f". DNSKEY {root_key.to_text()}"


@dataclass
class DNSServers:
    """Running NSD (authoritative) and two Unbounds (one validating, one that does not)."""

    auth_port: int
    validating_port: int
    plain_port: int
    anchor_file: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.validating_port}"

    @property
    def non_validating_resolver(self) -> str:
        return f"127.0.0.1:{self.plain_port}"

    def reload(self) -> None:
        """Make NSD re-read its zone files (SIGHUP)."""
        self.processes[0].send_signal(signal.SIGHUP)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.processes.clear()


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the lab process dies, so no NSD/Unbound outlives a killed test."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def binaries_missing() -> list[str]:
    return [b for b in ("nsd", "unbound") if not (shutil.which(b) or Path(f"/usr/sbin/{b}").exists())]


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _nsd_conf(directory: Path, port: int, files: dict[str, Path]) -> Path:
    zones = "".join(f'zone:\n  name: "{origin}"\n  zonefile: "{path}"\n' for origin, path in files.items())
    conf = directory / "nsd.conf"
    conf.write_text(
        "server:\n"
        f"  ip-address: 127.0.0.1@{port}\n"
        '  username: ""\n  chroot: ""\n'
        f'  zonesdir: "{directory}"\n  database: ""\n'
        f'  pidfile: "{directory}/nsd.pid"\n  xfrdfile: "{directory}/xfrd.state"\n'
        f'  zonelistfile: "{directory}/zone.list"\n  xfrdir: "{directory}"\n'
        f'  logfile: "{directory}/nsd.log"\n  verbosity: 1\n  server-count: 1\n'
        "  reuseport: no\n  hide-version: yes\n"
        "remote-control:\n  control-enable: no\n"
        + zones
    )
    return conf


def _unbound_conf(directory: Path, name: str, port: int, auth_port: int, anchor: Path | None,
                  zones: Iterable[str]) -> Path:
    """Unbound as a sender's resolver would run. Every lab zone is a stub at NSD's port: NS records
    cannot carry a port, so a referral would otherwise send Unbound to port 53."""
    stubs = "".join(f'stub-zone:\n  name: "{z}"\n  stub-addr: 127.0.0.1@{auth_port}\n' for z in zones)
    validator = (
        f'  module-config: "validator iterator"\n  trust-anchor-file: "{anchor}"\n'
        "  val-log-level: 2\n  ede: yes\n"
        if anchor else '  module-config: "iterator"\n'
    )
    conf = directory / f"{name}.conf"
    conf.write_text(
        "server:\n"
        f"  interface: 127.0.0.1@{port}\n  port: {port}\n"
        "  do-ip6: no\n  do-not-query-localhost: no\n"
        '  username: ""\n  chroot: ""\n'
        f'  directory: "{directory}"\n  pidfile: "{directory}/{name}.pid"\n'
        f'  logfile: "{directory}/{name}.log"\n  use-syslog: no\n  verbosity: 1\n'
        "  do-daemonize: no\n  num-threads: 1\n  qname-minimisation: no\n"
        "  access-control: 127.0.0.0/8 allow\n  harden-referral-path: no\n"
        "  target-fetch-policy: \"0 0 0 0 0\"\n"
        "  cache-max-ttl: 5\n  cache-max-negative-ttl: 5\n  infra-host-ttl: 5\n"
        # RFC 6761 names (.test) are blocked by Unbound's default local zones; the lab lives there
        + "".join(f'  local-zone: "{z}" nodefault\n' for z in zones if z != ".")
        + validator
        + stubs +
        "remote-control:\n  control-enable: no\n"
    )
    return conf


def _wait_ready(port: int, name: str, procs: Iterable[subprocess.Popen[bytes]], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    query = dns.message.make_query(name, "SOA")
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                detail = log.read_text(errors="replace")[-800:] if log.exists() else ""
                raise RuntimeError(f"a lab DNS server exited ({proc.args!r}): {detail}")
        with contextlib.suppress(Exception):
            answer = dns.query.udp(query, "127.0.0.1", timeout=0.5, port=port)
            if answer.answer:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the lab DNS server on port {port} did not answer within {seconds:.0f} s")


def start_dns(directory: Path, files: dict[str, Path], anchor_line: str) -> DNSServers:
    """Start NSD with ``files`` and the two Unbounds in front of it."""
    if missing := binaries_missing():
        raise RuntimeError(f"the domain lab needs {', '.join(missing)} (scripts/install-system-deps.sh)")
    anchor = directory / "lab-root.key"
    anchor.write_text(anchor_line + "\n")
    servers = DNSServers(free_port(), free_port(), free_port(), anchor)
    env = {**os.environ, "LC_ALL": "C"}
    try:
        nsd = subprocess.Popen([_binary("nsd"), "-d", "-c", str(_nsd_conf(directory, servers.auth_port, files))],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env, preexec_fn=_die_with_parent)
        servers.processes.append(nsd)
        _wait_ready(servers.auth_port, ".", [nsd], directory / "nsd.log", 20)
        for name, port, trust in (("unbound-validating", servers.validating_port, anchor),
                                  ("unbound-plain", servers.plain_port, None)):
            conf = _unbound_conf(directory, name, port, servers.auth_port, trust, files)
            proc = subprocess.Popen([_binary("unbound"), "-d", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                    preexec_fn=_die_with_parent)
            servers.processes.append(proc)
            _wait_ready(port, ".", [proc], directory / f"{name}.log", 20)
    except BaseException:
        servers.stop()
        raise
    return servers
