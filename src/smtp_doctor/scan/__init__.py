"""``smtp-doctor scan``: thousands of mail servers, one JSONL record each (docs/scan.md).

The library entry point is :func:`scan`; it returns a :class:`ScanSummary`. The CLI only parses its
options, calls this, and renders progress and the summary table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor

from ..errors import ExitCode, UserError
from .engine import DEFAULT_SCAN_PORTS, ScanConfig, plan, run_local, run_sharded, scan_shard
from .output import Output
from .record import SCHEMA, SCHEMA_VERSION
from .summary import ScanSummary

__all__ = ["DEFAULT_SCAN_PORTS", "SCHEMA", "SCHEMA_VERSION", "Output", "ScanConfig", "ScanSummary", "scan",
           "scan_shard"]


def _executor(engine: str, workers: int, scheduler: str | None) -> tuple[Executor, int, Callable[[], None]]:
    """(executor, lanes, close) for ``local`` processes or a ``dask`` cluster."""
    if engine == "dask":
        try:
            from distributed import Client
        except ImportError:
            raise UserError("scan.no_dask") from None
        try:
            client = Client(scheduler, timeout="20s") if scheduler else Client(processes=True, n_workers=workers)
        except (OSError, TimeoutError) as exc:
            raise UserError("scan.dask_unreachable", ExitCode.UNREACHABLE, scheduler=scheduler or "-",
                            error=str(exc)[:200]) from None
        lanes = workers if workers > 1 else max(1, sum(client.nthreads().values()))
        return client.get_executor(pure=False), lanes, client.close
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    return pool, workers, lambda: pool.shutdown(wait=False, cancel_futures=True)


def scan(lines: Iterable[str], output: Output, config: ScanConfig | None = None,
         ports: tuple[int, ...] = DEFAULT_SCAN_PORTS, *, workers: int = 1, engine: str = "local",
         scheduler: str | None = None, shard_size: int = 1000, mx: bool = False,
         on_record: Callable[[str], None] | None = None) -> ScanSummary:
    """Scan every target of ``lines`` once, appending to ``output`` and skipping what it already holds."""
    config = config or ScanConfig()
    summary = ScanSummary()
    started = time.monotonic()
    done = output.done()
    if output.path is not None and done:
        with open(output.path, encoding="utf-8") as fh:
            for line in fh:
                summary.add(line, new=False)
    output.open()

    def emit(line: str) -> None:
        output.write(line)
        summary.add(line)
        if on_record is not None:
            on_record(line)

    try:
        jobs = plan(lines, ports, config, done, emit, mx)
        if engine == "local" and workers <= 1:
            run_local(jobs, config, emit)
        else:
            executor, lanes, close = _executor(engine, workers, scheduler)
            try:
                run_sharded(jobs, config, emit, executor, lanes, shard_size)
            finally:
                close()
    finally:
        output.close()
        summary.seconds = time.monotonic() - started
    return summary
