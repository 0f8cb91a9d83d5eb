"""A farm of many small SMTP listeners on 127.0.0.1, for scanning at scale (tests and bench/scan_bench.py).

Why not the lab's aiosmtpd servers: a fleet benchmark needs hundreds of listeners answering thousands
of probes a second, and the farm must not be the bottleneck. Each listener is a bare asyncio
``Protocol`` (greeting, EHLO, STARTTLS, QUIT) with an ECDSA P-256 certificate (a server-side
handshake costs a fraction of RSA's), in separate processes from the scanner. Every listener has a
known kind, so a scan's verdicts can be checked against what each port really is.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import multiprocessing
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

import trustme

HOST = "127.0.0.1"
DOMAIN = "farm.test"
#: Listener kinds: STARTTLS with a valid or an expired certificate, plaintext only, implicit TLS.
KINDS = ("starttls", "starttls-expired", "plain", "implicit")
#: Not dealt by default: STARTTLS whose greeting comes ``greet_delay`` seconds late (a greet-pause server),
#: so that a scan's probes stay in flight (bench/scan_bench.py measures memory per in-flight probe with it).
SLOW = "starttls-slow"
NAMES = ("localhost", HOST, DOMAIN, f"*.{DOMAIN}")


@dataclass(frozen=True)
class FarmInfo:
    host: str
    ca_file: Path
    listeners: tuple[tuple[int, str], ...]  #: (port, kind)
    pids: tuple[int, ...] = ()  #: the farm's processes (a benchmark reads their CPU time)

    def ports(self, kind: str) -> list[int]:
        return [p for p, k in self.listeners if k == kind]


def make_certs(directory: Path) -> Path:
    """A farm CA (ECDSA) and two leaves, valid and expired, all naming 127.0.0.1 and *.farm.test."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="smtp-doctor farm CA", key_type=trustme.KeyType.ECDSA)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    for kind, extra in (("valid", {}), ("expired", {"not_before": dt.datetime(2020, 1, 1),
                                                     "not_after": dt.datetime(2021, 1, 1)})):
        leaf = ca.issue_cert(*NAMES, key_type=trustme.KeyType.ECDSA, **extra)  # type: ignore[arg-type]
        (directory / f"{kind}.pem").write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(directory / f"{kind}.key"))
    return directory / "ca.pem"


def _context(directory: Path, kind: str) -> ssl.SSLContext:
    """No TLS 1.3 session tickets: no prober resumes, and minting two per handshake was ~15 % of the
    farm's handshake CPU (the same for every tool the benchmark runs against it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    name = "expired" if kind.endswith("expired") else "valid"
    ctx.load_cert_chain(directory / f"{name}.pem", directory / f"{name}.key")
    ctx.num_tickets = 0
    return ctx


class _SMTP(asyncio.Protocol):
    """Just enough SMTP for a probe: 220, EHLO (with STARTTLS when offered), STARTTLS, NOOP, RSET, QUIT."""

    def __init__(self, kind: str, ctx: ssl.SSLContext | None, greet_delay: float = 0.0) -> None:
        self.kind, self.ctx, self.greet_delay = kind, ctx, greet_delay
        self.buf = b""
        self.tls = kind == "implicit"
        self.upgrading = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        if self.kind == SLOW:
            asyncio.get_running_loop().call_later(self.greet_delay, self._greet)
        else:
            self._greet()

    def _greet(self) -> None:
        if self.transport is not None:
            self.transport.write(b"220 mx." + DOMAIN.encode() + b" ESMTP smtp-doctor farm\r\n")

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > 4096:  # a line that long is not a probe's: hang up
            self._close()
            return
        if self.upgrading:  # the client's first TLS command can arrive before start_tls returns the transport
            return
        while b"\n" in self.buf and self.transport is not None:
            line, _, self.buf = self.buf.partition(b"\n")
            verb = line.strip()[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                offer = b"250-STARTTLS\r\n" if self.kind.startswith("starttls") and not self.tls else b""
                self.transport.write(b"250-mx." + DOMAIN.encode() + b"\r\n250-PIPELINING\r\n" + offer +
                                     b"250 8BITMIME\r\n")
            elif verb == b"STAR" and self.kind.startswith("starttls") and not self.tls:
                self.transport.write(b"220 2.0.0 ready to start TLS\r\n")
                self.buf, self.upgrading = b"", True
                asyncio.get_running_loop().create_task(self._upgrade())
                return
            elif verb == b"QUIT":
                self.transport.write(b"221 2.0.0 bye\r\n")
                self._close()
            elif verb in (b"NOOP", b"RSET"):
                self.transport.write(b"250 2.0.0 ok\r\n")
            else:
                self.transport.write(b"502 5.5.2 not implemented\r\n")

    async def _upgrade(self) -> None:
        assert self.transport is not None and self.ctx is not None
        loop = asyncio.get_running_loop()
        try:
            new = await loop.start_tls(self.transport, self, self.ctx, server_side=True, ssl_handshake_timeout=10)
        except (OSError, ssl.SSLError, ConnectionError, TimeoutError):
            self._close()
            return
        self.transport, self.tls, self.upgrading = new, True, False  # type: ignore[assignment]
        if self.buf:
            self.data_received(b"")

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def _serve(directory: Path, kinds: list[str], conn: Connection, greet_delay: float) -> None:
    loop = asyncio.get_running_loop()
    contexts = {k: _context(directory, k) for k in {*KINDS, SLOW} - {"plain"}}
    servers: list[asyncio.Server] = []
    listeners: list[tuple[int, str]] = []
    for kind in kinds:
        ctx = contexts.get(kind)
        implicit = kind == "implicit"
        server = await loop.create_server(lambda k=kind, c=ctx: _SMTP(k, c, greet_delay), HOST, 0, backlog=4096,
                                          ssl=ctx if implicit else None, ssl_handshake_timeout=10 if implicit else None)
        servers.append(server)
        listeners.append((server.sockets[0].getsockname()[1], kind))
    conn.send(listeners)
    await loop.run_in_executor(None, conn.recv)  # any message (or the parent's end) stops the farm
    for server in servers:
        server.close()


def _child(directory: str, kinds: list[str], conn: Connection, greet_delay: float) -> None:
    """One farm process: its listeners on uvloop when installed (a cheaper farm leaves the scanner the CPU).

    Its descriptor limit is raised to the hard one: a benchmark holds ten thousand probes in flight.
    """
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY else hard, hard))
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        pass
    with contextlib.suppress(KeyboardInterrupt, EOFError), asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve(Path(directory), kinds, conn, greet_delay))


@contextlib.contextmanager
def farm(directory: Path, count: int, kinds: tuple[str, ...] = KINDS, processes: int = 1,
         greet_delay: float = 5.0) -> Iterator[FarmInfo]:
    """``count`` listeners (kinds dealt in turn) over ``processes`` processes, for the ``with`` block;
    ``greet_delay``: how late the ``starttls-slow`` listeners greet."""
    ca_file = make_certs(directory)
    plan = [kinds[i % len(kinds)] for i in range(count)]
    ctx = multiprocessing.get_context("spawn")
    children: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    listeners: list[tuple[int, str]] = []
    try:
        for n in range(max(1, processes)):
            parent, child = ctx.Pipe()
            proc: multiprocessing.process.BaseProcess = ctx.Process(
                target=_child, args=(str(directory), plan[n::processes], child, greet_delay), daemon=True,
                               name=f"smtp-doctor-farm-{n}")
            proc.start()
            children.append((proc, parent))
        for proc, parent in children:
            for _ in range(600):  # 60 s, but a child that died is noticed at once
                if parent.poll(0.1) or not proc.is_alive():
                    break
            if not parent.poll(0):
                raise RuntimeError(f"farm process {proc.name} did not start (exit code {proc.exitcode})")
            listeners += parent.recv()
        yield FarmInfo(HOST, ca_file, tuple(listeners), tuple(p.pid for p, _ in children if p.pid))
    finally:
        for _proc, parent in children:
            with contextlib.suppress(OSError):
                parent.send("stop")
        for proc, _ in children:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def _free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 now (nginx cannot listen on port 0 and say which it got)."""
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _nginx() -> tuple[str, Path | None] | None:
    """nginx and its mail module (a dynamic module on Debian, built in elsewhere), or None."""
    import shutil

    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        return None
    module = next((p for p in (Path("/usr/lib/nginx/modules/ngx_mail_module.so"),
                               Path("/usr/lib64/nginx/modules/ngx_mail_module.so")) if p.exists()), None)
    return binary, module


def nginx_available() -> bool:
    return _nginx() is not None


@contextlib.contextmanager
def nginx_farm(directory: Path, count: int, kinds: tuple[str, ...] = ("starttls", "implicit"),
               processes: int = 1) -> Iterator[FarmInfo]:
    """The same listeners served by nginx's mail module (C, one event loop per worker) instead of Python.

    Why: a farm in Python spends about as much CPU per probe as the OpenSSL handshake itself, on the
    same cores as the tools being measured; nginx (a real SMTP front end of large mail providers) spends
    little more than the handshake. Greeting, EHLO with STARTTLS, STARTTLS, QUIT; AUTH is never reached.
    Needs ``nginx`` with ``ngx_mail_module`` (Debian: nginx-core, libnginx-mod-mail).
    """
    import subprocess

    found = _nginx()
    if found is None:
        raise RuntimeError("nginx is not installed (Debian: nginx-core libnginx-mod-mail)")
    binary, module = found
    ca_file = make_certs(directory)
    plan = [kinds[i % len(kinds)] for i in range(count)]
    listeners = list(zip(_free_ports(count), plan, strict=True))
    servers = []
    for port, kind in listeners:
        cert = "expired" if kind.endswith("expired") else "valid"
        tls = {"implicit": "", "plain": " starttls off;"}.get(kind, " starttls on;")
        servers.append(f"  server {{ listen {HOST}:{port}{' ssl' if kind == 'implicit' else ''}; protocol smtp;{tls}"
                       f" ssl_certificate {directory}/{cert}.pem; ssl_certificate_key {directory}/{cert}.key; }}")
    conf = directory / "nginx.conf"
    conf.write_text("\n".join([
        f"load_module {module};" if module else "",
        "daemon off; master_process on;",
        f"worker_processes {max(1, processes)};",
        "worker_rlimit_nofile 65536;",
        f"error_log {directory}/nginx-error.log warn;",
        f"pid {directory}/nginx.pid;",
        "events { worker_connections 30000; multi_accept on; }",
        "mail {",
        f"  server_name mx.{DOMAIN};",
        "  auth_http 127.0.0.1:9/auth;",  # required by the module; a probe never authenticates
        "  smtp_auth none;",
        "  ssl_session_tickets off; ssl_session_cache off;",  # as the Python farm: no prober resumes
        "  ssl_protocols TLSv1.2 TLSv1.3;",
        *servers,
        "}",
        ""]))
    log = directory / "nginx-error.log"
    proc = subprocess.Popen([binary, "-c", str(conf), "-e", str(log)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        workers: list[int] = []
        for _ in range(100):  # 10 s
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-300:] if log.exists() else ""
                raise RuntimeError(f"nginx farm did not start (exit {proc.returncode}): {tail}")
            workers = _children(proc.pid)
            if len(workers) >= max(1, processes):
                break
            time.sleep(0.1)
        time.sleep(0.2)  # the workers inherit the listening sockets: ready once they exist
        yield FarmInfo(HOST, ca_file, tuple(listeners), (proc.pid, *workers))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
