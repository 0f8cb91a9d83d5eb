"""Probe many ports politely: a fixed number in flight, caps per IP and provider, back-off on 421/4xx.

Why not ``gather`` over every target: started all at once, a thousand probes against one healthy
Postfix gave 322 wrong verdicts (its process limit queued them past our greeting timeout, and its
per-client limit answered 421). Here a fixed set of worker tasks pulls targets from a streamed
iterator, so memory and load stay bounded whatever the input size, and a server that says "not now"
(421 or another 4xx at greeting or EHLO) is retried after a back-off and, if it keeps saying so,
reported as rate-limited: never as a TLS or certificate failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..facts import Mode, Outcome, PortFacts, TLSError, Verification
from ..smtp.dialogue import Dialogue, Direction
from ..smtp.ehlo import parse_ehlo
from ..smtp.reply import ProtocolError, Reply, looks_like_smtp
from ..x509.verify import TrustSource, certifi_source, system_source, user_source, verify_chain, verify_known
from .channel import Channel, ConnectError, TLSFailure, probe_tls_context
from .engine import Closed, PhaseTimeout, _note_failure, _tls_facts, probe_port, sni_for
from .options import ProbeOptions
from .resolve import ResolveError, resolve
from .wire import receive_reply

#: Ports where a quick probe starts TLS at once (RFC 8314 submissions); elsewhere it waits for a greeting.
IMPLICIT_PORTS = frozenset({465})
#: TLS handshakes a quick scan runs at once, however many probes are in flight. A handshake is CPU work
#: on one core, so more at once finish no sooner; but each holds OpenSSL's buffers (~25 KB), and ten
#: thousand probes whose greetings arrive together would hold them all at once. Waiting for a slot is
#: outside the handshake's own deadline: our queue is never blamed on the server.
TLS_SLOTS = 256


@dataclass(frozen=True, slots=True)
class Target:
    """One port to probe. ``address`` pins the IP (scan a name on a given server); ``provider`` groups caps."""

    host: str
    port: int
    address: str | None = None
    provider: str | None = None

    @property
    def key(self) -> str:
        """The identity in results and in a resumed scan: ``host:port`` or ``host@address:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}@{self.address}:{self.port}" if self.address else f"{host}:{self.port}"

    @property
    def group(self) -> str:
        """Provider key: the given one, else the last two labels of the name (mx1.google.com → google.com)."""
        if self.provider:
            return self.provider
        try:
            return str(ipaddress.ip_address(self.host.strip("[]")))
        except ValueError:
            return ".".join(self.host.rstrip(".").lower().split(".")[-2:])


@dataclass(frozen=True)
class Politeness:
    """How hard a scan may press on other people's servers (0 = no limit). Defaults: docs/scan.md."""

    per_ip: int = 4  #: connections in flight per IP address (zgrab2 caps at 50; internet.nl uses 1)
    per_provider: int = 16  #: in flight per provider (MX suffix)
    rate: float = 0.0  #: new connections per second in all (token bucket)
    ip_rate: float = 20.0  #: new connections per second per IP (zgrab2's default)
    retries: int = 3  #: more tries after a 421/4xx
    backoff: float = 2.0  #: seconds before the first retry, doubled each time


@dataclass(slots=True)
class ProbeResult:
    """What came back for one target: facts, or an error class; ``rate_limited`` when it kept deferring."""

    target: Target
    facts: PortFacts | None
    error: str | None = None  #: "rate_limited", "dns_nxdomain", "dns_failure", "internal"
    detail: str = ""
    attempts: int = 1
    seconds: float = 0.0


class TokenBucket:
    """``rate`` tokens a second, bursts of at most ``burst``; ``take`` waits for one."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate, self.burst = rate, max(1.0, burst)
        self.tokens, self.stamp = self.burst, time.monotonic()

    async def take(self) -> None:
        while self.rate > 0:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)

    def idle(self) -> bool:
        return self.rate <= 0 or self.tokens + (time.monotonic() - self.stamp) * self.rate >= self.burst


class _Caps:
    """Per-key semaphores and buckets, dropped when idle so a million distinct IPs cost nothing."""

    def __init__(self, limit: int, rate: float = 0.0) -> None:
        self.limit, self.rate = limit, rate
        self.slots: dict[str, tuple[asyncio.Semaphore, TokenBucket, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        if self.limit <= 0 and self.rate <= 0:
            yield
            return
        entry = self.slots.get(key)
        if entry is None:
            entry = self.slots[key] = (asyncio.Semaphore(self.limit if self.limit > 0 else 1 << 30),
                                       TokenBucket(self.rate), [0])
        sem, bucket, users = entry
        users[0] += 1
        try:
            async with sem:
                await bucket.take()
                yield
        finally:
            users[0] -= 1
            if users[0] == 0 and bucket.idle():
                self.slots.pop(key, None)


class _Untold(Dialogue):
    """A dialogue without a transcript, for the quick probe: a scan record carries none, and with ten
    thousand probes in flight its lines were about a kilobyte each, besides their CPU."""

    def _log(self, direction: Direction, text: str) -> None:
        return None


def _stamp(path: str | None) -> float | None:
    try:
        return os.stat(path).st_mtime if path else None
    except OSError:
        return None


class TrustCache:
    """One scan's trust sources and chain verdicts, for the quick probe.

    Why: looked up per probe, the sources cost about ten ``stat`` calls a target (the system paths, then
    each store's modification time on every cache lookup), a tenth of a fleet probe's CPU. Here the
    sources are resolved once, their files looked at again at most once a second (a replaced
    ``--ca-file`` is still noticed), and a chain's verdicts kept for the current minute, as
    ``x509.verify`` does (validity dates move a verdict at most a minute late).
    """

    MAX = 4096  #: chains remembered; a scan of a million distinct chains keeps at most this many

    def __init__(self, ca_file: str | None) -> None:
        self.sources: tuple[TrustSource, ...] = (system_source(), certifi_source()) + (
            (user_source(ca_file),) if ca_file else ())
        self.verdicts: dict[tuple[bytes, ...], tuple[Verification, ...]] = {}
        self.state: tuple[object, ...] = ()
        self.checked = -1.0

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self.checked < 1.0:
            return
        self.checked = now
        state = (int(time.time() // 60), *(_stamp(p) for s in self.sources for p in (s.cafile, s.capath)))
        if state != self.state:
            self.state = state
            self.verdicts.clear()

    async def __call__(self, chain: tuple[bytes, ...]) -> tuple[Verification, ...]:
        self._fresh()
        known = self.verdicts.get(chain)
        if known is None:
            sources = self.sources
            known = verify_known(chain, sources) or tuple(
                await asyncio.to_thread(lambda: [verify_chain(chain, s) for s in sources]))
            if len(self.verdicts) >= self.MAX:
                self.verdicts.clear()
            self.verdicts[chain] = known
        return known


class _Total(Exception):
    """The whole probe's deadline passed (``timed_out = "total"``), whatever phase was running."""


def _expired(phase: str) -> Exception:
    """What each phase's own deadline raises, as ``wire``'s steps do."""
    if phase == "connect":
        return ConnectError(Outcome.TIMEOUT, "no answer to the connection attempt")
    if phase == "tls":
        return TLSFailure(TLSError("timeout", "no answer to the TLS ClientHello"))
    return PhaseTimeout(phase)


class _Budget:
    """A quick probe's one timer: the running phase's deadline, or the whole probe's when that comes first.

    Why not ``asyncio.timeout`` around the probe and another around each phase, as ``wire`` does: two live
    timers a probe, about 1.2 KB with uvloop's, with ten thousand probes waiting for greetings (docs/scan.md,
    memory). Same verdicts: a phase that runs out raises what ``wire``'s step raises (``PhaseTimeout``, a
    connect timeout, a TLS timeout); the whole probe running out raises ``_Total``.
    """

    __slots__ = ("end", "phase", "total", "timer", "paused")

    def __init__(self, seconds: float) -> None:
        self.end = asyncio.get_running_loop().time() + seconds
        self.phase = ""
        self.total = False
        self.timer: asyncio.Timeout | None = None
        self.paused = 0.0  #: when the probe began queueing for a TLS slot (0: not queued)

    def pause(self) -> None:
        """Stop the whole probe's clock while it queues for a TLS slot; the next phase starts it again."""
        self.paused = asyncio.get_running_loop().time()

    def when(self) -> float:
        return self.end

    def reschedule(self, when: float | None) -> None:
        """``asyncio.Timeout``'s, for ``_Slot``: between phases no timer runs, so ``None`` has nothing to stop."""
        if when is not None:
            self.end = when

    def __call__(self, phase: str, seconds: float) -> _Budget:
        now = asyncio.get_running_loop().time()
        if self.paused:
            self.end, self.paused = self.end + now - self.paused, 0.0
        self.phase, self.total = phase, self.end <= now + seconds
        self.timer = asyncio.timeout_at(min(self.end, now + seconds))
        return self

    async def __aenter__(self) -> None:
        assert self.timer is not None
        await self.timer.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        timer, self.timer = self.timer, None
        assert timer is not None
        try:
            await timer.__aexit__(*exc)
        except TimeoutError:
            raise (_Total() if self.total else _expired(self.phase)) from None


class _Gate:
    """The TLS slots of one ``probe_many``: an ``asyncio.Semaphore`` whose queue holds bare futures.

    Why: a probe queued behind thousands of others for a handshake slot held ``Semaphore.acquire``'s and
    ``_Slot.__aenter__``'s coroutine frames, about 450 B each, and at the peak of a wide scan nearly every
    probe in flight is queued here. A released slot passes straight to the oldest waiter. A waiter
    cancelled after being handed a slot (only when the whole scan is torn down) keeps it: the gate
    dies with the scan.
    """

    __slots__ = ("free", "waiters", "ready")

    def __init__(self, n: int) -> None:
        self.free = n
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.ready = asyncio.get_running_loop().create_future()  #: awaited when a slot is free at once
        self.ready.set_result(None)

    def enter(self, budget: _Budget) -> asyncio.Future[None]:
        if self.free > 0:
            self.free -= 1
            return self.ready
        budget.pause()  # our queue is never charged to the server
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return waiter

    def release(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class _Slot:
    """A TLS slot whose wait is not charged to the probe: the whole-probe deadline moves by the time waited."""

    __slots__ = ("slots", "deadline")

    def __init__(self, slots: asyncio.Semaphore | _Gate | None, deadline: asyncio.Timeout | _Budget) -> None:
        self.slots, self.deadline = slots, deadline

    def __aenter__(self) -> Awaitable[None]:
        """A bare future with a ``_Gate`` and a ``_Budget`` (the scan's case), no coroutine frame kept."""
        if isinstance(self.slots, _Gate) and isinstance(self.deadline, _Budget):
            return self.slots.enter(self.deadline)
        return self._enter()

    async def _enter(self) -> None:
        if self.slots is None:
            return
        assert isinstance(self.slots, asyncio.Semaphore)
        if not self.slots.locked():
            await self.slots.acquire()
            return
        loop = asyncio.get_running_loop()
        started, when = loop.time(), self.deadline.when()
        self.deadline.reschedule(None)  # the clock stops while we queue
        try:
            await self.slots.acquire()
        finally:
            if when is not None:
                self.deadline.reschedule(when + loop.time() - started)

    async def __aexit__(self, *exc: object) -> None:
        if self.slots is not None:
            self.slots.release()


_reply = receive_reply  #: without its own timer (the caller's ``_Budget`` is the deadline)


async def _command(ch: Channel, dlg: Dialogue, line: str, phase: str, opts: ProbeOptions, budget: _Budget
                   ) -> Reply:
    await ch.write(dlg.command(line))
    async with budget(phase, opts.phase(opts.command_timeout)):
        return await _reply(ch, dlg, phase)


async def _handshake(ch: Channel, host: str, opts: ProbeOptions, budget: _Budget) -> None:
    async with budget("tls", opts.phase(opts.tls_timeout)):
        await ch.start_tls(probe_tls_context(), sni_for(host, opts))


def deferred(facts: PortFacts) -> bool:
    """The server said "not now": 421 anywhere, or another 4xx to the greeting or EHLO."""
    replies = [facts.greeting, facts.ehlo_reply_plain, facts.starttls_reply]
    if any(r is not None and r.code == 421 for r in replies):
        return True
    return any(r is not None and 400 <= r.code < 500 for r in replies[:2])


async def quick_port(target: Target, addresses: tuple[str, ...], opts: ProbeOptions,
                     implicit_ports: frozenset[int] = IMPLICIT_PORTS, trust: TrustCache | None = None,
                     slots: asyncio.Semaphore | _Gate | None = None) -> PortFacts:
    """One connection: TLS at once on an implicit-TLS port, else greeting, EHLO, STARTTLS, handshake, QUIT.

    The mode is taken from the port's convention instead of raced; a wrong-mode port shows up as
    silent or not SMTP, and the full probe tells which. Half the connections of the race.
    """
    host, port = target.host, target.port
    facts = PortFacts(host, port, address=addresses[0])
    started = time.monotonic()
    implicit = port in implicit_ports
    budget = _Budget(opts.timeout)
    try:
        try:
            async with budget("connect", opts.phase(opts.connect_timeout)):
                ch = await Channel.connect(addresses[0], port)
        except ConnectError as exc:
            facts.outcome, facts.outcome_detail = exc.outcome, exc.detail
            return facts
        dlg = _Untold()
        first = bytearray()
        try:
            if implicit:
                async with _Slot(slots, budget):
                    await _handshake(ch, host, opts, budget)
                    facts.mode = Mode.IMPLICIT_TLS
                    facts.tls = await _tls_facts(ch, host, opts, trust)
            else:
                async with budget("greeting", opts.phase(opts.greeting_timeout)):
                    facts.greeting = await _reply(ch, dlg, "greeting", first)
                facts.mode = Mode.PLAINTEXT
            await _quick_session(facts, ch, dlg, host, opts, implicit, first, trust, _Slot(slots, budget), budget)
        except TLSFailure as exc:
            facts.tls_error = exc.error
            got = exc.error.received
            facts.mode = (Mode.NOT_SMTP if got and not looks_like_smtp(got) else Mode.PLAINTEXT if got
                          else Mode.CLOSED if exc.error.kind in ("closed", "reset") else Mode.SILENT)
            facts.first_bytes = got
        except PhaseTimeout as exc:
            facts.timed_out = exc.phase
            facts.mode = Mode.PLAINTEXT if looks_like_smtp(bytes(first)) else Mode.SILENT
        except Closed:
            facts.mode, facts.closed_at = Mode.CLOSED, "greeting"
        except ProtocolError as exc:
            facts.mode, facts.protocol_error, facts.protocol_error_phase = Mode.NOT_SMTP, str(exc.kind), "greeting"
        except ConnectError:
            facts.mode, facts.closed_at = Mode.CLOSED, "greeting"
        finally:
            facts.first_bytes = facts.first_bytes or bytes(first)
            facts.transcript = dlg.transcript
            ch.close()
    except _Total:
        facts.timed_out = facts.timed_out or "total"
    facts.detect_seconds = facts.total_seconds = round(time.monotonic() - started, 4)
    return facts


async def _quick_session(facts: PortFacts, ch: Channel, dlg: Dialogue, host: str, opts: ProbeOptions,
                         implicit: bool, first: bytearray, trust: TrustCache | None, slot: _Slot,
                         budget: _Budget) -> None:
    """The quick check set and nothing more: EHLO and STARTTLS (or the greeting inside implicit TLS), the
    handshake and the certificate, then QUIT without waiting for its answer. No EHLO inside TLS: AUTH
    and what TLS changes in EHLO are the full probe's business. Three round trips fewer per port.
    """
    if implicit:
        async with budget("greeting", opts.phase(opts.greeting_timeout)):
            facts.greeting = await _reply(ch, dlg, "greeting", first)
    elif facts.greeting is not None and facts.greeting.code == 220:
        phase = "ehlo"
        try:
            ehlo = await _command(ch, dlg, f"EHLO {opts.ehlo_name}", phase, opts, budget)
            facts.ehlo_reply_plain = ehlo
            facts.ehlo_plain = parse_ehlo(ehlo) if ehlo.code == 250 else None
            facts.mode = Mode.STARTTLS if facts.ehlo_plain and facts.ehlo_plain.starttls else Mode.PLAINTEXT
            if facts.mode is Mode.STARTTLS:
                phase = "starttls"
                facts.starttls_reply = await _command(ch, dlg, "STARTTLS", phase, opts, budget)
                if facts.starttls_reply.code == 220:
                    facts.bytes_after_starttls = dlg.restart_after_tls()
                    phase = "tls"
                    async with slot:
                        await _handshake(ch, host, opts, budget)
                        facts.tls = await _tls_facts(ch, host, opts, trust)
        except (PhaseTimeout, Closed, ProtocolError, TLSFailure, ConnectError) as exc:
            _note_failure(facts, exc, phase)  # what the full probe's session records, phase by phase
            return
    with contextlib.suppress(Exception):
        await ch.write(dlg.command("QUIT"))


async def _aiter(targets: Iterable[Target] | AsyncIterable[Target]) -> AsyncIterator[Target]:
    if isinstance(targets, AsyncIterable):
        async for t in targets:
            yield t
    else:
        for t in targets:
            yield t


async def probe_many(targets: Iterable[Target] | AsyncIterable[Target], *, concurrency: int = 100,
                     options: ProbeOptions | None = None, politeness: Politeness | None = None,
                     quick: bool = False, race_delay: float = 1.0,
                     exclude: Callable[[str], bool] | None = None,
                     implicit_ports: frozenset[int] = IMPLICIT_PORTS) -> AsyncGenerator[ProbeResult, None]:
    """Probe every target with at most ``concurrency`` in flight; results stream out as they finish.

    The input is pulled only as workers free up, so a generator of ten million targets costs the
    memory of ``concurrency`` probes. ``race_delay``: the full probe opens its implicit-TLS racing
    connection only when no greeting came within this many seconds. ``exclude(address)``: an opt-out
    list checked after resolution, so a name pointing into an excluded network is not touched either.
    """
    opts = options or ProbeOptions()
    polite = politeness or Politeness()
    per_ip, per_provider = _Caps(polite.per_ip, polite.ip_rate), _Caps(polite.per_provider)
    overall = TokenBucket(polite.rate, burst=max(1.0, polite.rate / 10))
    source = _aiter(targets).__aiter__()
    pull = asyncio.Lock()
    out: asyncio.Queue[ProbeResult | None] = asyncio.Queue(maxsize=max(1, concurrency))
    capped = polite.per_ip > 0 or polite.per_provider > 0 or polite.ip_rate > 0 or polite.rate > 0
    trust = TrustCache(opts.ca_file) if quick else None
    slots = _Gate(TLS_SLOTS)

    async def one(target: Target, first: PortFacts | None = None, started: float = 0.0) -> ProbeResult:
        """Resolve, check the opt-out list, probe, retry after a back-off while the server defers.
        ``first``: the first attempt's facts when the worker already probed (``started`` is its start)."""
        started = started or time.monotonic()
        try:
            addresses = (target.address,) if target.address else await resolve(
                target.host, opts.phase(opts.connect_timeout))
        except ResolveError as exc:
            facts = PortFacts(target.host, target.port, outcome=exc.outcome, outcome_detail=exc.detail)
            return ProbeResult(target, facts, str(exc.outcome), exc.detail, 0, time.monotonic() - started)
        if exclude is not None and exclude(addresses[0]):
            facts = PortFacts(target.host, target.port, address=addresses[0])
            return ProbeResult(target, facts, "excluded", addresses[0], 0, time.monotonic() - started)
        attempt = 0
        while True:
            attempt += 1
            if first is not None:
                facts, first = first, None
            elif capped:
                async with per_provider.hold(target.group), per_ip.hold(addresses[0]):
                    await overall.take()
                    facts = (await quick_port(target, addresses, opts, implicit_ports, trust, slots) if quick
                             else await probe_port(target.host, addresses, target.port, opts, race_delay))
            elif quick:  # caps off (a lab, a benchmark): no per-key bookkeeping at all
                facts = await quick_port(target, addresses, opts, implicit_ports, trust, slots)
            else:
                facts = await probe_port(target.host, addresses, target.port, opts, race_delay)
            if facts.outcome is not Outcome.CONNECTED or not deferred(facts):
                return ProbeResult(target, facts, None, "", attempt, time.monotonic() - started)
            if attempt > polite.retries:
                reply = facts.greeting or facts.ehlo_reply_plain or facts.starttls_reply
                detail = f"{reply.code} {reply.lines[0][:120]}" if reply and reply.lines else ""
                return ProbeResult(target, facts, "rate_limited", detail, attempt, time.monotonic() - started)
            await asyncio.sleep(polite.backoff * 2 ** (attempt - 1))

    async def worker() -> None:
        """Pulls targets until there are none. The quick probe without caps is awaited right here, not
        through ``one``: with thousands in flight, a coroutine frame less a probe (~400 B)."""
        while True:
            async with pull:
                try:
                    target = await source.__anext__()
                except StopAsyncIteration:
                    return
            try:
                if quick and not capped and target.address and (exclude is None or not exclude(target.address)):
                    started = time.monotonic()
                    facts = await quick_port(target, (target.address,), opts, implicit_ports, trust, slots)
                    result = (ProbeResult(target, facts, None, "", 1, time.monotonic() - started)
                              if facts.outcome is not Outcome.CONNECTED or not deferred(facts)
                              else await one(target, facts, started))  # it deferred: back off and retry
                else:
                    result = await one(target)
            except Exception as exc:  # a bug must cost one target, not the scan
                result = ProbeResult(target, None, "internal", f"{type(exc).__name__}: {exc}"[:200])
            await out.put(result)

    async def run() -> None:
        try:
            await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
        except BaseException:
            with contextlib.suppress(asyncio.QueueFull):  # the reader left: nobody waits for the end mark
                out.put_nowait(None)
            raise
        await out.put(None)

    runner = asyncio.create_task(run())
    try:
        while (item := await out.get()) is not None:
            yield item
        await runner
    finally:
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
