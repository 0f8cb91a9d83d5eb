"""Lab servers that fail one audit check each, and clean ones that must pass them all.

Why not aiosmtpd: the faults live below its API (keeping plaintext buffered across STARTTLS, writing bytes
after ``220 Ready``), so this is one small asyncio SMTP server with fault knobs (security-checks.md §5).
The lab's own PKI is built with ``cryptography`` because the revoked certificate needs a CA whose key
also signs the CRL and the OCSP responses, served over HTTP on 127.0.0.1 by ``RevocationServer``.
SHA-1 certificates come from the ``openssl`` CLI: ``cryptography`` refuses to sign with SHA-1.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from .thread import run_in_thread

NAMES = ("localhost", "127.0.0.1", "::1", "mail.example.test")
#: No lab connection lives longer than this, and no connection reads more command lines than that.
MAX_LIFETIME = 60.0
MAX_LINES = 200
MAX_HTTP = 65536

_Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _pem_key(key: _Key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class AuditPKI:
    """A root CA (its key signs leaves, the CRL and OCSP answers) and one leaf per certificate fault."""

    def __init__(self, directory: Path, revocation_base: str, dead_base: str) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.base, self.dead_base = revocation_base, dead_base
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp-doctor audit lab CA")])
        now = dt.datetime.now(dt.UTC)
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        self.ca_file = directory / "audit-ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        (directory / "audit-ca.key").write_bytes(_pem_key(self.ca_key))
        self.revoked: dict[int, dt.datetime] = {}
        self._files: dict[str, tuple[Path, Path]] = {}

    def _leaf(self, kind: str, key: _Key, base: str | None) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        sans: list[x509.GeneralName] = []
        for n in NAMES:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"audit lab {kind}")]))
            .issuer_name(self.ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                           critical=False))
        if base is not None:  # where a client learns revocation: CRL (RFC 5280 §4.2.1.13) and OCSP (AIA)
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(f"{base}/crl.der")], None, None, None)]), critical=False)
            builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"{base}/ocsp"))]),
                critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def files(self, kind: str) -> tuple[Path, Path]:
        """(chain PEM: leaf then CA, key PEM) for good, rsa1024, sha1, revoked, crl-unreachable, plain-good."""
        if kind in self._files:
            return self._files[kind]
        cert_path, key_path = self.directory / f"{kind}.pem", self.directory / f"{kind}.key"
        if kind == "sha1":
            self._sha1(cert_path, key_path)
        else:
            key: _Key = rsa.generate_private_key(65537, 1024 if kind == "rsa1024" else 2048)
            base = {"good": self.base, "revoked": self.base, "crl-unreachable": self.dead_base}.get(kind)
            leaf = self._leaf(kind, key, base)
            if kind == "revoked":
                self.revoked[leaf.serial_number] = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                                  + self.ca_cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(_pem_key(key))
        self._files[kind] = (cert_path, key_path)
        return cert_path, key_path

    def _sha1(self, cert_path: Path, key_path: Path) -> None:
        """A leaf signed with sha1WithRSAEncryption, by the openssl CLI (cryptography will not)."""
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("the SHA-1 lab certificate needs the openssl command")
        key_path.write_bytes(_pem_key(rsa.generate_private_key(65537, 2048)))
        csr, ext = self.directory / "sha1.csr", self.directory / "sha1.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1,DNS:mail.example.test\n"
                       "basicConstraints=critical,CA:FALSE\n")
        subprocess.run([openssl, "req", "-new", "-key", str(key_path), "-subj", "/CN=audit lab sha1",
                        "-out", str(csr)], check=True, capture_output=True, timeout=30)
        subprocess.run([openssl, "x509", "-req", "-sha1", "-in", str(csr), "-CA", str(self.ca_file), "-CAkey",
                        str(self.directory / "audit-ca.key"), "-set_serial", str(x509.random_serial_number()),
                        "-days", "90", "-extfile", str(ext), "-out", str(cert_path)],
                       check=True, capture_output=True, timeout=30)
        cert_path.write_bytes(cert_path.read_bytes() + self.ca_cert.public_bytes(serialization.Encoding.PEM))

    def context(self, kind: str, versions: tuple[str, str] | None = None) -> ssl.SSLContext:
        cert, key = self.files(kind)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if versions is not None:
            with warnings.catch_warnings():  # a legacy server is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version, ctx.maximum_version = (ssl.TLSVersion[v.replace(".", "_")] for v in versions)
        if kind in ("rsa1024", "sha1") or versions is not None:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses to load weak keys/signatures above 0
        ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def crl(self) -> bytes:
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.ca_cert.subject)
                   .last_update(now - dt.timedelta(minutes=5)).next_update(now + dt.timedelta(days=1)))
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp_answer(self, request_der: bytes) -> bytes:
        """The CA answers for its own certificates (RFC 6960 §4.2.2.2: the issuer may sign responses)."""
        try:
            req = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
        leaf = next((c for c in self._issued() if c.serial_number == req.serial_number), None)
        if leaf is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        now = dt.datetime.now(dt.UTC)
        when = self.revoked.get(req.serial_number)
        status = ocsp.OCSPCertStatus.REVOKED if when else ocsp.OCSPCertStatus.GOOD
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf, issuer=self.ca_cert, algorithm=hashes.SHA1(), cert_status=status, this_update=now,
            next_update=now + dt.timedelta(hours=1), revocation_time=when,
            revocation_reason=x509.ReasonFlags.key_compromise if when else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca_cert)
        return builder.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def _issued(self) -> Iterator[x509.Certificate]:
        for cert_path, _ in self._files.values():
            yield x509.load_pem_x509_certificates(cert_path.read_bytes())[0]


class RevocationServer:
    """HTTP/1.0 on 127.0.0.1: ``GET /crl.der`` and ``POST /ocsp`` (RFC 6960 appendix A), bounded."""

    def __init__(self) -> None:
        self.pki: AuditPKI | None = None
        self.requests: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > MAX_HTTP:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, *_ = lines[0].split(" ") + ["", ""]
                length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                               if k.strip().lower() == "content-length" and v.strip().isdigit()), 0)
                body = await reader.readexactly(min(length, MAX_HTTP)) if length else b""
                self.requests.append(f"{method} {path}")
                assert self.pki is not None
                if method == "GET" and path == "/crl.der":
                    status, kind, data = "200 OK", "application/pkix-crl", self.pki.crl()
                elif method == "POST" and path == "/ocsp":
                    status, kind, data = "200 OK", "application/ocsp-response", self.pki.ocsp_answer(body)
                else:
                    status, kind, data = "404 Not Found", "text/plain", b"not here\n"
                writer.write(f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n"
                             f"Connection: close\r\n\r\n".encode() + data)
                await writer.drain()
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


@dataclass(frozen=True)
class Faults:
    """One server's misbehaviour; all False/empty is a clean server (the ``clean`` entry)."""

    buffer_leak: bool = False  #: keeps plaintext read with STARTTLS and runs it inside TLS (CVE-2011-0411)
    trailer: bytes = b""  #: written right after ``220 Ready to start TLS`` (response-injection vector)
    auth_before_tls: bool = False  #: AUTH PLAIN LOGIN advertised (and answered) in clear
    mail_before_tls: bool = False  #: MAIL FROM accepted in clear (no 530)
    readvertise: bool = False  #: STARTTLS still listed in the EHLO reply inside TLS
    second_starttls: bool = False  #: a second STARTTLS inside TLS answered 220
    talk_after_tls: bool = False  #: an unprompted line after every handshake (the sanity run catches it)
    keep_state: bool = False  #: a MAIL transaction begun in clear survives STARTTLS (session fixation)
    cert: str = "good"
    versions: tuple[str, str] | None = None
    implicit: bool = False


SERVERS: dict[str, Faults] = {
    "clean": Faults(),
    "clean-implicit": Faults(implicit=True),
    "injection": Faults(buffer_leak=True),
    "leak-after-220": Faults(trailer=b"250-audit.lab\r\n250 AUTH PLAIN LOGIN\r\n"),
    "auth-before-tls": Faults(auth_before_tls=True),
    "mail-before-tls": Faults(mail_before_tls=True),
    "starttls-readvertised": Faults(readvertise=True, second_starttls=True),
    "talks-after-tls": Faults(talk_after_tls=True),
    "session-fixation": Faults(mail_before_tls=True, keep_state=True),
    "tls10-only": Faults(versions=("TLSv1", "TLSv1")),
    "rsa1024": Faults(cert="rsa1024"),
    "sha1": Faults(cert="sha1"),
    "revoked": Faults(cert="revoked"),
    "crl-unreachable": Faults(cert="crl-unreachable"),
}


#: Servers that staple an OCSP response for a certificate of this kind (StaplingServer).
STAPLED = {"stapled-good": "good", "stapled-revoked": "revoked"}


def _ehlo(tls: bool, f: Faults) -> bytes:
    caps = [b"audit.lab", b"PIPELINING", b"SIZE 10240000", b"8BITMIME"]
    if not tls or f.readvertise:
        caps.append(b"STARTTLS")
    if tls or f.auth_before_tls:
        caps.append(b"AUTH PLAIN LOGIN")
    return b"".join(b"250-" + c + b"\r\n" for c in caps[:-1]) + b"250 " + caps[-1] + b"\r\n"


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, f: Faults, ctx: ssl.SSLContext,
                  tls: bool = False) -> None:
    """One SMTP connection; never accepts DATA (the lab keeps no mail) and answers every AUTH 535."""
    writer.write(b"220 audit.lab ESMTP smtp-doctor audit lab\r\n")
    mail = False
    for _ in range(MAX_LINES):
        await writer.drain()
        line = await reader.readline()
        if not line:
            return
        verb = line.split(b" ", 1)[0].split(b":", 1)[0].strip().upper()
        if verb in (b"EHLO", b"HELO"):
            writer.write(_ehlo(tls, f) if verb == b"EHLO" else b"250 audit.lab\r\n")
            mail = mail and f.keep_state  # RFC 5321 §4.1.4: EHLO resets the transaction (unless the fault)
        elif verb == b"STARTTLS":
            if tls and not f.second_starttls:
                writer.write(b"503 5.5.1 TLS already active\r\n")
            elif tls:
                writer.write(b"220 2.0.0 Ready to start TLS\r\n")
                await writer.drain()
                return  # the lab does not nest TLS; accepting the command is the fault shown
            else:
                writer.write(b"220 2.0.0 Ready to start TLS\r\n" + f.trailer)
                await writer.drain()
                if not f.buffer_leak:  # what aiosmtpd 1.4.6 and Postfix do: plaintext read so far is dropped
                    getattr(reader, "_buffer").clear()  # noqa: B009 - StreamReader keeps it private
                await writer.start_tls(ctx)
                tls, mail = True, mail and f.keep_state
                if f.talk_after_tls:
                    writer.write(b"250 audit.lab says hello unprompted\r\n")
        elif verb == b"MAIL":
            mail = tls or f.mail_before_tls
            writer.write(b"250 2.1.0 Ok\r\n" if mail else b"530 5.7.0 Must issue a STARTTLS command first\r\n")
        elif verb == b"RCPT":
            writer.write(b"250 2.1.5 Ok\r\n" if mail else b"503 5.5.1 Need MAIL first\r\n")
        elif verb == b"AUTH":
            writer.write(b"535 5.7.8 Authentication failed\r\n" if tls or f.auth_before_tls
                         else b"538 5.7.11 Encryption required for requested authentication mechanism\r\n")
        elif verb in (b"RSET", b"NOOP"):
            mail = mail and verb == b"NOOP"
            writer.write(b"250 2.0.0 Ok\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 2.0.0 Bye\r\n")
            await writer.drain()
            return
        elif verb == b"DATA":
            writer.write(b"554 5.7.1 the audit lab accepts no mail\r\n")
        else:
            writer.write(b"502 5.5.2 Command not recognized\r\n")


class StaplingServer:
    """A STARTTLS server that staples an OCSP response (the stdlib ``ssl`` server cannot; pyOpenSSL can).

    Blocking sockets in daemon threads, bounded like the asyncio servers: a connection lives at most
    ``MAX_LIFETIME`` seconds (socket timeouts) and reads at most ``MAX_LINES`` lines.
    """

    def __init__(self, pki: AuditPKI, kind: str, host: str) -> None:
        from OpenSSL import SSL

        cert, key = pki.files(kind)
        leaf = x509.load_pem_x509_certificates(cert.read_bytes())[0]
        request = ocsp.OCSPRequestBuilder().add_certificate(leaf, pki.ca_cert, hashes.SHA1()).build()
        self.staple = pki.ocsp_answer(request.public_bytes(serialization.Encoding.DER))
        self.ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        self.ctx.use_certificate_chain_file(str(cert))
        self.ctx.use_privatekey_file(str(key))
        self.ctx.set_cipher_list(b"ECDHE+AESGCM:ECDHE+CHACHA20")  # forward secrecy only: clean but for the staple
        self.ctx.set_ocsp_server_callback(lambda conn, data: self.staple)
        self.sock = socket.create_server((host, 0))
        self.port = int(self.sock.getsockname()[1])
        self._stop = False
        threading.Thread(target=self._accept, name="smtp-doctor-stapling", daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        from OpenSSL import SSL

        # kernel timeouts, not Python's: pyOpenSSL treats a socket with a Python timeout as non-blocking
        tv = struct.pack("ll", int(MAX_LIFETIME), 0)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        stream: socket.socket | SSL.Connection = raw
        buf, tls = b"", False
        try:
            raw.sendall(b"220 audit.lab ESMTP (stapling)\r\n")
            for _ in range(MAX_LINES):
                while b"\n" not in buf:
                    data = stream.recv(4096)
                    if not data:
                        return
                    buf += data
                line, buf = buf.split(b"\n", 1)
                verb = line.strip().split(b" ", 1)[0].upper()
                if verb == b"EHLO":
                    stream.sendall(b"250-audit.lab\r\n250 AUTH PLAIN\r\n" if tls
                                   else b"250-audit.lab\r\n250 STARTTLS\r\n")
                elif verb == b"STARTTLS" and not tls:
                    raw.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                    buf = b""  # plaintext read with STARTTLS is dropped, as a correct server does
                    conn = SSL.Connection(self.ctx, raw)
                    conn.set_accept_state()
                    conn.do_handshake()
                    stream, tls = conn, True
                elif verb == b"QUIT":
                    stream.sendall(b"221 2.0.0 Bye\r\n")
                    return
                elif verb == b"STARTTLS":
                    stream.sendall(b"503 5.5.1 TLS already active\r\n")
                elif verb == b"MAIL" and not tls:
                    stream.sendall(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
                else:
                    stream.sendall(b"250 2.0.0 Ok\r\n")
        except (OSError, SSL.Error):
            return
        finally:
            raw.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@dataclass
class AuditLabInfo:
    host: str
    ca_file: Path
    ports: dict[str, int] = field(default_factory=dict)
    revocation_port: int = 0
    http_requests: list[str] = field(default_factory=list)


class AuditLab:
    """``async with AuditLab(dir) as info``: every server of ``SERVERS`` on its own ephemeral port."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self.directory, self.host = directory, host
        self._servers: list[asyncio.Server] = []
        self._staplers: list[StaplingServer] = []

    async def __aenter__(self) -> AuditLabInfo:
        http = RevocationServer()
        srv = await asyncio.start_server(http.handle, self.host, 0)
        self._servers.append(srv)
        dead = await asyncio.start_server(lambda r, w: None, self.host, 0)  # bound, then closed: refuses
        dead_port = _port(dead)
        dead.close()
        pki = AuditPKI(self.directory, f"http://{self.host}:{_port(srv)}", f"http://{self.host}:{dead_port}")
        http.pki = pki
        info = AuditLabInfo(self.host, pki.ca_file, revocation_port=_port(srv), http_requests=http.requests)
        for name, kind in STAPLED.items():
            stapler = StaplingServer(pki, kind, self.host)
            self._staplers.append(stapler)
            info.ports[name] = stapler.port
        for name, faults in SERVERS.items():
            ctx = pki.context(faults.cert, faults.versions)

            async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, f: Faults = faults,
                              c: ssl.SSLContext = ctx) -> None:
                try:
                    async with asyncio.timeout(MAX_LIFETIME):
                        await session(r, w, f, c, tls=f.implicit)
                except (OSError, TimeoutError, ssl.SSLError, ValueError, asyncio.IncompleteReadError,
                        asyncio.CancelledError):
                    pass
                finally:
                    with contextlib.suppress(Exception):
                        w.close()

            server = await asyncio.start_server(handler, self.host, 0, ssl=ctx if faults.implicit else None)
            self._servers.append(server)
            info.ports[name] = _port(server)
        return info

    async def __aexit__(self, *exc: object) -> None:
        for srv in self._servers:
            srv.close()
        for stapler in self._staplers:
            stapler.close()
        self._servers.clear()
        self._staplers.clear()


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


@contextlib.contextmanager
def audit_lab_in_thread(directory: Path, host: str = "127.0.0.1") -> Iterator[AuditLabInfo]:
    """The audit lab on its own loop in a daemon thread (for synchronous tests and subprocess clients)."""
    with run_in_thread(AuditLab(directory, host), "smtp-doctor-audit-lab") as info:
        yield info
