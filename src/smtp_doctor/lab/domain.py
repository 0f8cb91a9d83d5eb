"""The domain lab: signed DNS, MTA-STS policy hosts over HTTPS and MX servers, all on loopback.

One SMTP listener (aiosmtpd, STARTTLS) on 127.0.0.2 and 127.0.0.3 serves every MX host; it picks
the certificate by SNI, so each MX name shows its own certificate, as separate machines would. One
HTTPS listener on 127.0.0.1 serves every ``mta-sts.<domain>`` the same way, and records every
request, so a test can prove a redirect target was never fetched. Ports come from the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .certs import WRONG_NAME, LabPKI
from .dns import DNSServers, ZoneSpec, build_zones, start_dns
from .domain_cases import CASES, DomainCase, MXSpec
from .servers import Mailbox
from .thread import run_in_thread

MX_ADDRESSES = ("127.0.0.2", "127.0.0.3")
PLAIN_ADDRESS = "127.0.0.4"  #: an MX without STARTTLS, same port
DOWN_ADDRESS = "127.0.0.254"  #: nothing listens here
POLICY_ADDRESS = "127.0.0.1"
NS_TTL = 3600
TTL = 60


@dataclass
class DomainLabInfo:
    directory: Path
    ca_file: Path
    resolver: str  #: validating Unbound, "127.0.0.1:PORT"
    non_validating_resolver: str
    auth: str  #: NSD
    smtp_port: int
    https_port: int
    anchor_file: Path
    cases: dict[str, DomainCase] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  #: (Host, path) the HTTPS server saw
    policies: dict[str, bytes] = field(default_factory=dict)  #: policy body served per mta-sts host
    #: PEM chain each MX host name serves (for the second implementation, which reads it from a file)
    chains: dict[str, Path] = field(default_factory=dict)

    def domain_args(self) -> list[str]:
        """The options `smtp-doctor domain` needs to check a lab domain."""
        return ["--resolver", self.resolver, "--port", str(self.smtp_port), "--policy-port",
                str(self.https_port), "--ca-file", str(self.ca_file)]


def _spki(cert_or_key: x509.Certificate | ec.EllipticCurvePublicKey) -> bytes:
    key = cert_or_key.public_key() if isinstance(cert_or_key, x509.Certificate) else cert_or_key
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def tlsa_data(selector: int, mtype: int, cert: x509.Certificate | None, key: ec.EllipticCurvePublicKey | None
              ) -> str:
    """The TLSA association data, as the zone file spells it."""
    if selector == 0:
        assert cert is not None
        blob = cert.public_bytes(serialization.Encoding.DER)
    else:
        blob = _spki(cert if cert is not None else key)  # type: ignore[arg-type]
    if mtype == 1:
        blob = hashlib.sha256(blob).digest()
    elif mtype == 2:
        blob = hashlib.sha512(blob).digest()
    return blob.hex()


class _Certs:
    """Every certificate the lab's hosts serve, by host name, and the SNI callback that picks one."""

    def __init__(self, pki: LabPKI) -> None:
        self.pki = pki
        self.intermediate = pki.ca.create_child_ca()
        self.contexts: dict[str, ssl.SSLContext] = {}
        self.leaves: dict[str, trustme.LeafCert] = {}

    def add(self, host: str, kind: str) -> trustme.LeafCert:
        if kind == "wrong-name":
            leaf = self.pki.ca.issue_cert(WRONG_NAME)
        elif kind == "ta":
            leaf = self.intermediate.issue_cert(host)
        else:
            leaf = self.pki.ca.issue_cert(host)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(ctx)
        self.contexts[host.lower()] = ctx
        self.leaves[host.lower()] = leaf
        return leaf

    def server_context(self) -> ssl.SSLContext:
        default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.pki.ca.issue_cert("localhost").configure_cert(default)

        def pick(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            chosen = self.contexts.get((name or "").lower())
            if chosen is not None:
                sock.context = chosen

        default.sni_callback = pick  # type: ignore[assignment]
        return default


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _mx_host(c: DomainCase, mx: MXSpec) -> str:
    return f"{mx.label}.{c.domain}" if mx.label else c.domain


def _zone(c: DomainCase, certs: _Certs, next_key: ec.EllipticCurvePublicKey,
          other_key: ec.EllipticCurvePublicKey, ipv6: bool) -> ZoneSpec:
    d = c.domain + "."
    rec = [f"{d} {NS_TTL} IN SOA ns.test. hostmaster.test. 1 3600 600 86400 {TTL}", f"{d} {NS_TTL} IN NS ns.test."]
    if c.null_mx:
        rec.append(f"{d} {TTL} IN MX 0 .")
    for i, mx in enumerate(c.mx):
        host = _mx_host(c, mx)
        if not c.implicit_mx:
            rec.append(f"{d} {TTL} IN MX {mx.preference} {host}.")
        address = DOWN_ADDRESS if mx.down else PLAIN_ADDRESS if mx.plaintext else MX_ADDRESSES[i % 2]
        if not mx.no_address:
            rec.append(f"{host}. {TTL} IN A {address}")
        if mx.ipv6 and ipv6:
            rec.append(f"{host}. {TTL} IN AAAA ::1")
        leaf = certs.add(host, mx.cert)
        leaf_cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
        ta_cert = x509.load_pem_x509_certificate(certs.intermediate.cert_pem.bytes())
        for entry in mx.tlsa:
            usage, selector, mtype, what = entry.split()
            cert, key = {"leaf": (leaf_cert, None), "ta": (ta_cert, None), "next": (None, next_key),
                         "other": (None, other_key)}[what]
            data = tlsa_data(int(selector), int(mtype), cert, key)
            rec.append(f"_25._tcp.{host}. {TTL} IN TLSA {usage} {selector} {mtype} {data}")
    for txt in c.sts_txt:
        rec.append(f'_mta-sts.{d} {TTL} IN TXT "{txt}"')
    if c.policy is not None:
        address = DOWN_ADDRESS if c.policy.down else POLICY_ADDRESS
        rec.append(f"mta-sts.{d} {TTL} IN A {address}")
    for txt in c.tlsrpt:
        rec.append(f'_smtp._tls.{d} {TTL} IN TXT "{txt.format(domain=c.domain)}"')
    bogus_owner = f"_25._tcp.{_mx_host(c, c.mx[0])}." if c.mx else ""
    return ZoneSpec(d, rec, c.dnssec, (bogus_owner, "TLSA"))


def _policy_body(c: DomainCase) -> bytes:
    assert c.policy is not None
    body = c.policy.body.format(domain=c.domain)
    if c.policy.pad:
        line = "# " + "x" * 97 + "\n"
        body += line * (c.policy.pad // len(line) + 1)
    return body.encode()


class Lab:
    """``async with DomainLab(dir) as info``: DNS (NSD + Unbound), HTTPS and SMTP for every case."""

    def __init__(self, directory: Path, cases: tuple[DomainCase, ...] = CASES, mx_port: int = 0) -> None:
        self.directory = directory
        self.cases = cases
        self.mx_port = mx_port  #: 0: the kernel picks; 25 (as root) lets `domain` run without --port
        self._servers: list[asyncio.base_events.Server] = []
        self._dns: DNSServers | None = None

    async def __aenter__(self) -> DomainLabInfo:
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        pki = LabPKI(self.directory / "pki")
        certs = _Certs(pki)
        next_key, other_key = (ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(2))
        zones = [ZoneSpec(".", [f". {NS_TTL} IN SOA ns.test. hostmaster.test. 1 3600 600 86400 {TTL}",
                                f". {NS_TTL} IN NS ns.test.", f"test. {NS_TTL} IN NS ns.test.",
                                f"ns.test. {NS_TTL} IN A 127.0.0.1"]),
                 ZoneSpec("test.", [f"test. {NS_TTL} IN SOA ns.test. hostmaster.test. 1 3600 600 86400 {TTL}",
                                    f"test. {NS_TTL} IN NS ns.test.", f"ns.test. {NS_TTL} IN A 127.0.0.1"]
                          + [f"{c.domain}. {NS_TTL} IN NS ns.test." for c in self.cases]
                          # a lame delegation: its name server does not exist, so the resolver SERVFAILs
                          + [f"lame.test. {NS_TTL} IN NS ns.lame.invalid."])]
        ipv6 = _has_ipv6_loopback()
        zones += [_zone(c, certs, next_key, other_key, ipv6) for c in self.cases]
        for c in self.cases:
            if c.policy is not None:
                certs.add(f"mta-sts.{c.domain}", c.policy.cert)
        files, anchor = await asyncio.to_thread(build_zones, zones, self.directory / "zones")
        try:
            smtp_port = await self._start_smtp(certs)
            info_box: dict[str, DomainLabInfo] = {}
            https = await asyncio.start_server(lambda r, w: self._http(r, w, info_box["info"]), POLICY_ADDRESS, 0,
                                               ssl=certs.server_context())
            self._servers.append(https)
            # in this thread, not a worker: the servers die with the thread that started them (PDEATHSIG)
            self._dns = start_dns(self.directory / "zones", files, anchor)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        info = DomainLabInfo(self.directory, pki.ca_file, self._dns.resolver, self._dns.non_validating_resolver,
                             f"127.0.0.1:{self._dns.auth_port}", smtp_port, int(https.sockets[0].getsockname()[1]),
                             self._dns.anchor_file, {c.name: c for c in self.cases})
        info_box["info"] = info
        for c in self.cases:
            if c.policy is not None:
                info.policies[f"mta-sts.{c.domain}"] = _policy_body(c)
            for mx in c.mx:
                host = _mx_host(c, mx)
                path = self.directory / "chains" / f"{host}.pem"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"".join(p.bytes() for p in certs.leaves[host].cert_chain_pems))
                info.chains[host] = path
        return info

    async def _start_smtp(self, certs: _Certs) -> int:
        tls = certs.server_context()
        mailbox = Mailbox()

        def factory(starttls: bool = True) -> SMTP:
            return SMTP(mailbox, hostname="mx.lab.smtp-doctor.test", ident="smtp-doctor domain lab",
                        tls_context=tls if starttls else None, require_starttls=False, timeout=30)

        loop = asyncio.get_running_loop()
        for _ in range(20):  # the same port on every MX address; retry when another one is taken
            first = await loop.create_server(factory, MX_ADDRESSES[0], self.mx_port)
            port = int(first.sockets[0].getsockname()[1])
            rest: list[asyncio.base_events.Server] = []
            try:
                rest.append(await loop.create_server(factory, MX_ADDRESSES[1], port))
                rest.append(await loop.create_server(lambda: factory(False), PLAIN_ADDRESS, port))
                if _has_ipv6_loopback():
                    rest.append(await loop.create_server(factory, "::1", port))
            except OSError:
                for srv in (first, *rest):
                    srv.close()
                if self.mx_port:
                    raise
                continue
            self._servers += [first, *rest]
            return port
        raise RuntimeError("no port free on every MX address")

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: DomainLabInfo) -> None:
        """A minimal HTTP/1.1 server: one request per connection, answered from the case table."""
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
            host = next((ln.split(":", 1)[1].strip() for ln in lines[1:] if ln.lower().startswith("host:")), "")
            host = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
            info.requests.append((host, path))
            c = next((c for c in self.cases if f"mta-sts.{c.domain}" == host), None)
            if c is None or c.policy is None or path != "/.well-known/mta-sts.txt":
                status, ctype, body, extra = 404, "text/plain", b"not found\n", ""
            else:
                status, ctype = c.policy.status, c.policy.content_type
                body = info.policies[host] if status == 200 else b"moved or missing\n"
                port = writer.get_extra_info("sockname")[1]
                extra = f"Location: {c.policy.location.format(port=port)}\r\n" if c.policy.location else ""
            head = (f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    f"{extra}Connection: close\r\n\r\n").encode()
            if c is not None and c.policy is not None and c.policy.drip:
                writer.write(head)
                for i in range(min(len(body), 150)):  # bounded: at most 60 s
                    writer.write(body[i:i + 1])
                    await writer.drain()
                    await asyncio.sleep(0.4)
                return
            writer.write(head + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, IndexError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def __aexit__(self, *exc: object) -> None:
        for srv in self._servers:
            srv.close()
        self._servers.clear()
        if self._dns is not None:
            await asyncio.to_thread(self._dns.stop)
            self._dns = None


DomainLab = Lab


@contextlib.contextmanager
def run_domain_lab_in_thread(directory: Path, cases: tuple[DomainCase, ...] = CASES, mx_port: int = 0
                             ) -> Iterator[DomainLabInfo]:
    """The domain lab on its own event loop in a daemon thread, for synchronous callers (tests)."""
    with run_in_thread(Lab(directory, cases, mx_port), "smtp-doctor-domain-lab", start_timeout=120,
                       join_timeout=15) as info:
        yield info
