"""Servers that try to forge our output: every reply, the banner, the EHLO lines and the certificate's
names carry terminal escapes, bidi overrides, rich markup, ``:emoji:`` codes and bare line breaks that
would print a fake "✔ Certificate chain verifies" line under our layout if they reached the terminal.

They speak enough real SMTP (greeting, EHLO, STARTTLS with a real certificate signed by a trustme CA,
AUTH PLAIN/LOGIN, MAIL/RCPT/DATA, QUIT) that ``probe``, ``send`` and ``check`` walk every phase and
print every kind of server text. The secret-echo mode answers AUTH by quoting the credentials it was
sent, in the clear and in base64, so the known-secret filter is tested against a real peer.
Everything is bounded: a connection lives at most :data:`MAX_LIFETIME` seconds and reads at most
:data:`MAX_LINES` lines.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MAX_LIFETIME = 30.0
MAX_LINES = 200

#: The hostile corpus: one entry per way of forging output. ``FORGE_A``/``FORGE_B`` mark the two halves
#: of a value split by a line break, so a test can tell an extra line from an escaped one.
OSC_TITLE = "\x1b]0;pwned-title\x07"
CSI_CLEAR = "\x1b[2J\x1b[H"
OSC8_LINK = "\x1b]8;;https://evil.example/\x1b\\click-me\x1b]8;;\x1b\\"
BIDI = "\u202eexe.txt\u202c \u2066iso\u2069 \u200e\u200f\u061c"
ZERO_WIDTH = "zw\u200b\u200c\u200d\ufeffsp"
SEPARATORS = "ls\u2028ps\u2029"
MARKUP = "[bold red]markup[/]"
EMOJI = ":100: :thumbs_up:"
FORGED = "FORGE-A\n✔ Certificate chain verifies FORGE-B"
FORGED_CR = "FORGE-C\r✔ Trusted by every store FORGE-D"
C0_C1 = "nul\x00bel\x07bs\x08del\x7fc1\x9b31m\x85end"

CORPUS: tuple[str, ...] = (OSC_TITLE, CSI_CLEAR, OSC8_LINK, BIDI, ZERO_WIDTH, SEPARATORS, MARKUP, EMOJI, FORGED,
                           FORGED_CR, C0_C1)
#: The corpus as one reply line a parser still reads as one line (no NUL, CR or LF): for the banner and
#: EHLO, so that the session goes on to STARTTLS and the certificate.
WIRE = " ".join(x for x in CORPUS if not any(c in x for c in "\x00\r\n"))


def hostile_cert(ca: trustme.CA, directory: Path) -> tuple[Path, Path]:
    """A leaf signed by ``ca`` whose subject (CN, O, OU) and DNS names carry the corpus; it also names
    127.0.0.1 and localhost, so it verifies and every name field is printed as a *good* certificate's."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"FORGE-A{CSI_CLEAR}\n✔ Chain verifies FORGE-B {MARKUP}"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"org{OSC_TITLE}{BIDI}{EMOJI}"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"FORGE-A\n{OSC8_LINK}{C0_C1}"[:64]),
    ])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
        x509.DNSName(f"evil{OSC_TITLE}.example"), x509.DNSName("FORGE-A\n[bold red]x[/]FORGE-B.example"),
        x509.DNSName(f"zw{CSI_CLEAR}:100:.example"),
    ]
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path, key_path = directory / "forge.pem", directory / "forge.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _line(code: int, text: str, last: bool = True) -> bytes:
    """One reply line; CR and LF of the corpus are kept bare (they cannot end an SMTP line alone)."""
    return f"{code}{' ' if last else '-'}{text}".encode("utf-8", "surrogateescape") + b"\r\n"


@dataclass
class Forge:
    """A hostile SMTP server on 127.0.0.1; ``echo_secrets`` quotes the AUTH credentials back."""

    context: ssl.SSLContext
    echo_secrets: bool = False
    reject: bool = False
    greeting: int = 220  #: 554: refuse the session in the greeting, with the corpus as the reason

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(self._session(reader, writer), MAX_LIFETIME)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_line(self.greeting, f"forge.lab ESMTP {WIRE}"))
        if self.greeting != 220:
            await writer.drain()
            await reader.readline()  # QUIT, or nothing
            writer.write(_line(221, f"bye {FORGED}"))
            await writer.drain()
            return
        tls = False
        for _ in range(MAX_LINES):
            raw = await reader.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                lines = [f"forge.lab greets you {WIRE}", f"X-{MARKUP}{EMOJI}", f"X-BIDI {BIDI}",
                         "SIZE 10240000", "8BITMIME"] + (["AUTH PLAIN LOGIN"] if tls else ["STARTTLS"])
                writer.write(b"".join(_line(250, x, i == len(lines) - 1) for i, x in enumerate(lines)))
            elif verb == "STARTTLS" and not tls:
                writer.write(_line(220, f"2.0.0 go ahead {CSI_CLEAR}"))
                await writer.drain()
                await writer.start_tls(self.context)
                tls = True
                continue
            elif verb == "AUTH":
                await self._auth(line, reader, writer)
            elif verb == "MAIL":
                writer.write(_line(550 if self.reject else 250, f"5.7.1 sender {FORGED} {OSC8_LINK} {MARKUP}"
                                   if self.reject else f"2.1.0 ok {OSC_TITLE}{BIDI}"))
            elif verb == "RCPT":
                writer.write(_line(250, f"2.1.5 ok {FORGED_CR} {EMOJI}"))
            elif verb == "DATA":
                writer.write(_line(354, f"go on {CSI_CLEAR}{SEPARATORS}"))
                await writer.drain()
                for _ in range(10_000):
                    data = await reader.readline()
                    if not data or data == b".\r\n":
                        break
                writer.write(_line(250, f"2.0.0 queued as {OSC8_LINK} {FORGED} {C0_C1}"))
            elif verb == "QUIT":
                writer.write(_line(221, f"bye {OSC_TITLE}{ZERO_WIDTH}"))
                await writer.drain()
                return
            elif verb in ("RSET", "NOOP"):
                writer.write(_line(250, f"ok {MARKUP}"))
            else:
                writer.write(_line(502, f"5.5.1 what? {FORGED} {CSI_CLEAR}"))
            await writer.drain()

    async def _auth(self, line: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parts = line.split()
        mech = parts[1].upper() if len(parts) > 1 else ""
        sent: list[str] = parts[2:3]
        if mech == "LOGIN":
            for prompt in ([] if sent else [b"VXNlcm5hbWU6"]) + [b"UGFzc3dvcmQ6"]:
                writer.write(b"334 " + prompt + b"\r\n")
                await writer.drain()
                sent.append((await reader.readline()).decode("ascii", "replace").strip())
        elif mech == "PLAIN" and not sent:
            writer.write(b"334 \r\n")
            await writer.drain()
            sent.append((await reader.readline()).decode("ascii", "replace").strip())
        if self.echo_secrets:
            decoded = " ".join(base64.b64decode(s + "==").decode("utf-8", "replace") for s in sent if s != "*")
            writer.write(_line(535, f"5.7.8 you sent {' '.join(sent)} = {decoded!r} {FORGED}"))
        else:
            writer.write(_line(235, f"2.7.0 welcome {OSC_TITLE} {FORGED}"))


@dataclass(frozen=True)
class ForgeInfo:
    host: str
    port: int
    ca_file: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def running(directory: Path, *, echo_secrets: bool = False, reject: bool = False,
            greeting: int = 220) -> Iterator[ForgeInfo]:
    """Run a forging server on 127.0.0.1 (ephemeral port) in a thread for the ``with`` block, so that
    a subprocess (the real CLI) can talk to it; its CA is written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name=f"forge CA {MARKUP}")
    ca_file = directory / "forge-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert, key = hostile_cert(ca, directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    forge = Forge(context, echo_secrets=echo_secrets, reject=reject, greeting=greeting)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, asyncio.Server] = {}

    async def serve() -> None:
        box["server"] = await asyncio.start_server(forge.handle, "127.0.0.1", 0)
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    started.wait(10)
    server = box["server"]
    try:
        yield ForgeInfo("127.0.0.1", server.sockets[0].getsockname()[1], ca_file)
    finally:
        async def stop() -> None:
            server.close()
            await server.wait_closed()

        with suppress(TimeoutError, RuntimeError):  # a client still connected: the daemon thread ends with us
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
