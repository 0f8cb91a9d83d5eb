"""The quick probe's lean plumbing (issue 15, memory): real sockets on 127.0.0.1, real farm listeners.

What the slimmer connection and the one-timer deadline must keep from the streams and nested timeouts
they replaced: a peer's half-close still lets us send QUIT, a reset is an error and not an end of
stream, a phase running out says which phase, the whole probe running out says "total", and a probe
queued for a TLS slot is not charged for the wait. Last, a bound on what a waiting probe holds, so that
the memory won back does not creep back unnoticed.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from smtp_doctor.facts import Outcome
from smtp_doctor.lab.farm import SLOW, farm
from smtp_doctor.probe import ProbeOptions, many
from smtp_doctor.probe.channel import Channel, ConnectError, TLSFailure
from smtp_doctor.probe.many import Politeness, Target, probe_many
from smtp_doctor.probe.wire import PhaseTimeout

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run[Any]:
    """Each test on asyncio's own event loop and on uvloop's (what the scan runs on when installed)."""
    factory = asyncio.new_event_loop if request.param == "asyncio" else uvloop.new_event_loop

    def go(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)

    return go


async def _server(handler: object) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
    return server, server.sockets[0].getsockname()[1]


def test_after_the_peer_half_closes_we_still_send_quit(run: Run[tuple[bytes, bytes]]) -> None:
    """The server greets and shuts its sending side: we read the greeting, then the end, and QUIT still
    reaches it (the streams kept a half-closed connection open; so must the pipe)."""
    got: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 half ESMTP\r\n")
        await writer.drain()
        writer.write_eof()
        got.append(await asyncio.wait_for(reader.read(100), 5))
        writer.close()

    async def main() -> tuple[bytes, bytes]:
        server, port = await _server(handler)
        async with server:
            ch = await Channel.connect("127.0.0.1", port)
            first = await asyncio.wait_for(ch.read(), 5)
            end = await asyncio.wait_for(ch.read(), 5)
            await ch.write(b"QUIT\r\n")
            for _ in range(50):
                if got:
                    break
                await asyncio.sleep(0.05)
            ch.close()
            return first, end

    first, end = run(main())
    assert first == b"220 half ESMTP\r\n" and end == b""
    assert got == [b"QUIT\r\n"]


def test_a_reset_is_an_error_not_an_end_of_stream(run: Run[Outcome]) -> None:
    """RST instead of FIN (SO_LINGER 0): the read fails as a reset, never as a clean close."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def main() -> Outcome:
        server, port = await _server(handler)
        async with server:
            ch = await Channel.connect("127.0.0.1", port)
            try:
                data = await asyncio.wait_for(ch.read(), 5)
            except ConnectError as exc:
                return exc.outcome
            finally:
                ch.close()
            raise AssertionError(f"read returned {data!r}")

    assert run(main()) is Outcome.RESET


def test_a_phase_deadline_names_its_phase_and_the_whole_deadline_says_total(run: Run[list[str]]) -> None:
    async def main() -> list[str]:
        seen: list[str] = []
        for total, phase, expect in ((5.0, "greeting", PhaseTimeout), (5.0, "connect", ConnectError),
                                     (5.0, "tls", TLSFailure), (0.1, "greeting", many._Total)):
            budget = many._Budget(total)
            try:
                async with budget(phase, 0.1 if total > 1 else 5.0):
                    await asyncio.sleep(2)
            except expect as exc:
                seen.append(f"{phase}:{type(exc).__name__}")
        return seen

    assert run(main()) == ["greeting:PhaseTimeout", "connect:ConnectError", "tls:TLSFailure",
                                  "greeting:_Total"]


def test_queueing_at_the_gate_is_not_charged_to_the_probe(run: Run[float]) -> None:
    """A probe with 0.2 s left that queues 0.4 s for a TLS slot still has its 0.2 s for the handshake."""

    async def main() -> float:
        gate = many._Gate(1)
        await many._Slot(gate, many._Budget(60)).__aenter__()  # another probe's handshake holds the slot
        asyncio.get_running_loop().call_later(0.4, gate.release)
        budget = many._Budget(0.2)
        started = time.monotonic()
        slot = many._Slot(gate, budget)
        async with slot, budget("tls", 10.0):
            await asyncio.sleep(0.1)  # within what is left of the probe's own time
        assert gate.free == 1 and not gate.waiters
        return time.monotonic() - started

    assert run(main()) >= 0.5


def test_a_probe_waiting_for_its_greeting_holds_little_memory(tmp_path: Path,
                                                             run: Run[tuple[float, int]]) -> None:
    """400 probes held in flight by a farm that greets late: what each holds, traced by tracemalloc.

    Before issue 15's work a waiting probe held 8.5 KB on asyncio's loop and 9.0 KB on uvloop's (streams, two
    timers, more coroutine frames); after it, 5.7 and 5.8 KB. The bound, 8 KB, fails if those come back."""
    n = 400
    with farm(tmp_path / "slow", 20, kinds=(SLOW,), greet_delay=4.0) as info:
        ports = info.ports(SLOW)
        targets = [Target(f"m{i}.farm.test", ports[i % len(ports)], "127.0.0.1") for i in range(n)]
        options = ProbeOptions(ca_file=str(info.ca_file), timeout=30.0)

        async def main() -> tuple[float, int]:
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.take_snapshot()
                results: list[many.ProbeResult] = []

                async def consume() -> None:
                    async for r in probe_many(targets, concurrency=n, quick=True, options=options,
                                              politeness=Politeness(per_ip=0, per_provider=0, ip_rate=0)):
                        results.append(r)

                task = asyncio.create_task(consume())
                await asyncio.sleep(2.0)  # every probe connected, none greeted yet
                assert not results
                gc.collect()
                grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
            finally:
                tracemalloc.stop()
            await task
            ok = sum(1 for r in results if r.facts and r.facts.tls and r.facts.tls.verifications[-1].ok)
            return grown / n, ok

        per_probe, ok = run(main())
    assert ok == n  # every probe still got its real verdict
    assert per_probe < 8 * 1024, f"{per_probe:.0f} B per waiting probe"
