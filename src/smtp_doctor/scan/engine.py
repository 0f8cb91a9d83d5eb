"""The scan: a stream of input lines in, one record per target out, on one core or many.

Scale-out is a ``concurrent.futures`` executor and nothing home-made: the targets are cut into
coarse shards (``shard_size`` each), and ``scan_shard`` — pure, picklable, its own event loop — runs
one shard wherever the executor puts it: this process (one worker), local processes (``--workers``),
or a Dask cluster (``Client.get_executor()``). With politeness caps on, targets of one provider go to
one lane and a lane runs one shard at a time, so the caps hold across workers without coordination.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import zlib
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

from ..probe.many import IMPLICIT_PORTS, Politeness, Target, probe_many
from ..probe.options import ProbeOptions
from .record import dumps, problem_record, result_record
from .targets import Exclusions, Item, items

#: Ports scanned for a line without one: the MX port (a fleet scan is mostly inbound mail).
DEFAULT_SCAN_PORTS = (25,)


@dataclass(frozen=True)
class ScanConfig:
    """Everything a shard needs, picklable: the same config gives the same records on any engine."""

    options: ProbeOptions = field(default_factory=ProbeOptions)
    politeness: Politeness = field(default_factory=Politeness)
    quick: bool = False
    concurrency: int = 200  #: probes in flight per worker (event loop)
    race_delay: float = 1.0  #: full probe: the implicit-TLS racing connection waits this long for a greeting
    exclude: Exclusions = field(default_factory=Exclusions)
    implicit_ports: frozenset[int] = IMPLICIT_PORTS  #: quick probe: ports where TLS starts at once
    nameserver: str | None = None  #: --mx: ask this resolver for MX records (default: the system's)


Job = tuple[Target, str]  #: a target and the input line it came from


async def _stream(jobs: Iterable[Job], config: ScanConfig, emit: Callable[[str], None]) -> None:
    texts: dict[Target, list[str]] = {}

    def targets() -> Iterator[Target]:
        for target, text in jobs:
            texts.setdefault(target, []).append(text)
            yield target

    exclude = config.exclude.address if config.exclude else None
    concurrency = fd_budget(config.concurrency, 2 if config.quick else 3)  # a closing socket is still open
    opts = config.options
    if config.quick and opts.tls_versions:
        from dataclasses import replace

        opts = replace(opts, tls_versions=False)
    async for result in probe_many(targets(), concurrency=concurrency, options=opts,
                                   politeness=config.politeness, quick=config.quick,
                                   race_delay=config.race_delay, exclude=exclude,
                                   implicit_ports=config.implicit_ports):
        pending = texts[result.target]
        text = pending.pop(0)
        if not pending:
            del texts[result.target]
        emit(dumps(result_record(result, text, opts.ca_file)))


def fd_budget(concurrency: int, per_probe: int, spare: int = 64) -> int:
    """Probes that may be in flight with the file descriptors this process may open; raises the soft limit.

    Why: a connection refused by our own ``EMFILE`` ("too many open files", at a soft limit of 1024 on
    many systems) would be recorded as the *server* being unreachable, a wrong verdict from our own
    overload. The soft limit is raised toward the hard one; what still does not fit waits its turn.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return concurrency
    need = concurrency * per_probe + spare
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return concurrency
    return max(1, min(concurrency, (soft - spare) // per_probe))


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """One event loop per shard: uvloop's when installed (the scan-fast extra; ~10 % less CPU per probe).

    The objects alive before the shard (modules, the catalogue, trust stores) are frozen out of the
    garbage collector: its full passes over them were a few per cent of a fleet probe's CPU, for nothing.
    """
    gc.freeze()
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro)


def scan_shard(jobs: list[Job], config: ScanConfig) -> list[str]:
    """Scan one shard on a fresh event loop; returns its JSONL lines (what a worker process sends back)."""
    lines: list[str] = []
    _run(_stream(jobs, config, lines.append))
    return lines


def plan(stream: Iterable[str], ports: tuple[int, ...], config: ScanConfig, done: set[str],
         emit: Callable[[str], None], mx: bool = False) -> Iterator[Job]:
    """Input lines → jobs to probe; invalid, excluded and already-done lines are handled here, in order.

    ``done`` holds the targets a previous run already wrote (resume); targets seen twice are probed once.
    """
    source: Iterable[Item] = items(stream, ports)
    if mx:
        from .mx import expand

        source = expand(source, emit, done, config.nameserver)
    for item in source:
        key = item.target.key if item.target is not None else item.text
        if key in done:
            continue
        done.add(key)
        if item.target is None:
            emit(dumps(problem_record(item.text, "invalid_target", item.problem or "")))
            continue
        if config.exclude and config.exclude.excluded(item.target):
            emit(dumps(problem_record(item.text, "excluded", "opt-out list", item.target)))
            continue
        yield item.target, item.text


def run_local(jobs: Iterator[Job], config: ScanConfig, emit: Callable[[str], None]) -> None:
    """One worker: this process, streaming each record as it is ready."""
    _run(_stream(jobs, config, emit))


def run_sharded(jobs: Iterator[Job], config: ScanConfig, emit: Callable[[str], None], executor: Executor,
                lanes: int, shard_size: int = 1000) -> None:
    """Shards to ``executor``, ``lanes`` at a time; each lane's shards run one after another.

    With per-IP/per-provider caps, a target's lane is a hash of its provider, so one provider is never
    probed from two workers at once; without caps, targets are dealt round-robin for even shards.
    """
    lanes = max(1, lanes)
    polite = config.politeness.per_ip > 0 or config.politeness.per_provider > 0
    buffers: list[list[Job]] = [[] for _ in range(lanes)]
    ready: list[deque[list[Job]]] = [deque() for _ in range(lanes)]
    running: dict[Future[list[str]], int] = {}
    busy: set[int] = set()

    def submit_ready() -> None:
        for lane in range(lanes):
            if lane not in busy and ready[lane]:
                running[executor.submit(scan_shard, ready[lane].popleft(), config)] = lane
                busy.add(lane)

    def collect(block: bool) -> None:
        if not running:
            return
        finished, _ = wait(list(running), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in finished:
            busy.discard(running.pop(fut))
            for line in fut.result():
                emit(line)

    for n, job in enumerate(jobs):
        lane = zlib.crc32(job[0].group.encode()) % lanes if polite else n % lanes
        buffers[lane].append(job)
        if len(buffers[lane]) >= shard_size:
            ready[lane].append(buffers[lane])
            buffers[lane] = []
            submit_ready()
            while sum(len(q) for q in ready) >= lanes:  # bounded memory: at most ~2 shards queued per lane
                collect(block=True)
                submit_ready()
    for lane in range(lanes):
        if buffers[lane]:
            ready[lane].append(buffers[lane])
    submit_ready()
    while running or any(ready):
        collect(block=True)
        submit_ready()
