"""Fleet-scan benchmark: smtp-doctor scan vs sslyze (defaults and tuned) vs `openssl s_time -new`, one run.

Same machine, same targets, same check set (STARTTLS, then the certificate: chain, validity, trust):
a lab farm (src/smtp_doctor/lab/farm.py) of STARTTLS listeners on 127.0.0.1 in its own processes.
Each tool runs as a child process measured with wait4: wall time, CPU (user + system, its own
children included) and peak RSS (the largest single process). sslyze is installed into its own venv
(default /tmp/sslyze-venv; `--sslyze-python` to point elsewhere) so it never touches the project's.

Prints the Markdown section for docs/benchmarks.md (section 7) to stdout or ``--markdown FILE``.
``--big 100000`` also runs a 100k-target scan that is interrupted (SIGINT) and resumed, and checks that
every target is there once and every line validates against docs/scan.schema.json. ``--inflight`` measures
peak RSS against the number of probes in flight, on a second farm whose greeting comes 5 s late (so every
probe is in flight at once). ``--pin`` puts the farm on the first core and each single-process tool on the
last (the N-worker runs use every core).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from smtp_doctor.lab.farm import SLOW, farm, nginx_available, nginx_farm  # noqa: E402

SMTP_DOCTOR = str(Path(sys.executable).parent / "smtp-doctor")
OPEN = ["--per-ip", "0", "--per-provider", "0", "--ip-rate", "0"]  # one lab address: politeness caps off

SSLYZE_SCRIPT = r"""
import json, sys
from sslyze import (Scanner, ScanCommand, ScanCommandAttemptStatusEnum, ServerNetworkConfiguration,
                    ServerNetworkLocation, ServerScanRequest)
from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum
limit = int(sys.argv[2])
reqs = []
for line in open(sys.argv[1]):
    name, _, rest = line.strip().partition("@")
    ip, _, port = rest.rpartition(":")
    reqs.append(ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=name, port=int(port), ip_address=ip),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=name, smtp_ehlo_hostname="bench.farm.test",
            tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.SMTP),
        scan_commands={ScanCommand.CERTIFICATE_INFO}))
scanner = Scanner(concurrent_server_scans_limit=limit) if limit else Scanner()
scanner.queue_scans(reqs)
ok = 0
for r in scanner.get_results():
    ok += bool(r.scan_result and r.scan_result.certificate_info.status == ScanCommandAttemptStatusEnum.COMPLETED)
print(json.dumps({"ok": ok}))
"""


@dataclass
class Run:
    tool: str
    targets: int
    wall: float
    cpu: float
    rss_mb: float
    ok: int
    note: str = ""
    farm_cpu: float = 0.0  #: CPU seconds the farm spent during this run
    load: float = 0.0  #: the machine's 1-minute load average when the run ended (other users included)

    def __post_init__(self) -> None:
        self.farm_cpu = LAST_FARM_CPU[0]
        self.load = os.getloadavg()[0]

    @property
    def rate(self) -> float:
        return self.targets / self.wall if self.wall else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.targets if self.targets else 0.0


FARM_PIDS: tuple[int, ...] = ()
#: farm CPU seconds of the last measured run (is the farm the bottleneck?)
LAST_FARM_CPU = [0.0]


def cpu_of(pids: tuple[int, ...]) -> float:
    """User + system CPU seconds so far of running processes (from /proc/<pid>/stat)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


#: --pin: the cores single-process tools run on (the farm has the others); empty: no pinning
PIN: set[int] = set()


def measure(argv: list[str], pin: bool = True) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MB, exit code, stdout) of one child process and its descendants."""
    cores = PIN if pin else set()
    with tempfile.TemporaryFile() as out:
        farm_before = cpu_of(FARM_PIDS)
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL,
                                preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        LAST_FARM_CPU[0] = cpu_of(FARM_PIDS) - farm_before
        out.seek(0)
        text = out.read().decode()
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), text


def targets_file(directory: Path, ports: list[int], n: int) -> Path:
    path = directory / f"targets-{n}.txt"
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(f"t{i}.farm.test@127.0.0.1:{ports[i % len(ports)]}\n")
    return path


def doctor(path: Path, n: int, ca: Path, workers: int, directory: Path) -> Run:
    out = directory / f"scan-{n}-{workers}.jsonl"
    out.unlink(missing_ok=True)
    wall, cpu, rss, code, _ = measure([SMTP_DOCTOR, "scan", str(path), "-o", str(out), "--quick", "-q",
                                       "--ca-file", str(ca), "--workers", str(workers), *OPEN], pin=workers == 1)
    ok = sum(1 for line in out.open() if '"mode":"starttls"' in line and '"ca-file":true' in line)
    label = f"smtp-doctor scan --quick, {workers} worker{'s' if workers > 1 else ''}"
    return Run(label, n, wall, cpu, rss, ok, "" if code == 0 else f"exit {code}")


def sslyze(python: str, path: Path, n: int, limit: int) -> Run:
    script = Path(tempfile.gettempdir()) / "smtp-doctor-sslyze-bench.py"
    script.write_text(SSLYZE_SCRIPT)
    wall, cpu, rss, code, stdout = measure([python, str(script), str(path), str(limit)])
    ok = json.loads(stdout.strip().splitlines()[-1])["ok"] if code == 0 and stdout.strip() else 0
    label = f"sslyze, concurrent_server_scans_limit={limit}" if limit else "sslyze, defaults"
    return Run(label, n, wall, cpu, rss, ok, "" if code == 0 else f"exit {code}")


def s_time(port: int, seconds: int) -> tuple[float, str]:
    """Handshakes per second `openssl s_time -new` reaches against one farm listener (implicit TLS)."""
    r = subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 30,
                       preexec_fn=(lambda: os.sched_setaffinity(0, PIN)) if PIN else None)
    m = re.search(r"(\d+) connections in (\d+) real seconds", r.stdout)
    if not m:
        return 0.0, "no result"
    return int(m.group(1)) / max(1, int(m.group(2))), f"{m.group(1)} connections in {m.group(2)} s"


INFLIGHT_SCRIPT = r"""
import sys
from pathlib import Path
from smtp_doctor.probe import ProbeOptions
from smtp_doctor.probe.many import Politeness
from smtp_doctor.scan import Output, ScanConfig, scan
targets, out, ca, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = ScanConfig(options=ProbeOptions(ca_file=ca, timeout=120.0), politeness=Politeness(0, 0, 0, 0),
                    quick=True, concurrency=n)
with open(targets) as fh:
    scan(fh, Output(Path(out)), config)
"""


@dataclass
class InFlight:
    in_flight: int
    rss_mb: float
    wall: float
    ok: int


def inflight(ca: Path, ports: list[int], counts: list[int], directory: Path) -> list[InFlight]:
    """Peak RSS of one scan process with ``n`` probes in flight at once: ``n`` targets, concurrency ``n``, a
    farm whose greeting comes 5 s late. The library's ``scan`` (what the CLI calls; the CLI caps
    --concurrency at 5000); one process, so peak RSS is the whole cost."""
    script = directory / "inflight.py"
    script.write_text(INFLIGHT_SCRIPT)
    out: list[InFlight] = []
    for n in counts:
        path = targets_file(directory, ports, n)
        result = directory / f"inflight-{n}.jsonl"
        result.unlink(missing_ok=True)
        wall, _cpu, rss, _code, _ = measure([sys.executable, str(script), str(path), str(result), str(ca), str(n)])
        ok = sum(1 for line in result.open() if '"mode":"starttls"' in line and '"ca-file":true' in line)
        out.append(InFlight(n, rss, wall, ok))
        print(f"  {out[-1]}", file=sys.stderr)
    return out


TRACE_SCRIPT = r"""
import asyncio, gc, linecache, sys, tracemalloc
import uvloop
from smtp_doctor.probe import ProbeOptions, many
from smtp_doctor.probe.many import Politeness, Target, probe_many
ca, n, delay, top = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
ports = [int(p) for p in sys.argv[5].split(",")]
many.TLS_SLOTS = 1  # after the greetings every probe queues for the one slot: the state at the RSS peak
targets = [Target(f"t{i}.farm.test", ports[i % len(ports)], "127.0.0.1") for i in range(n)]
opts = ProbeOptions(ca_file=ca, timeout=600.0, command_timeout=120.0, tls_timeout=120.0)

def show(title, snap, base):
    stats = snap.compare_to(base, "lineno")
    total = sum(s.size_diff for s in stats)
    print(f"{title}|{total / n:.0f}")
    for s in stats[:top]:
        f = s.traceback[0]
        code = linecache.getline(f.filename, f.lineno).strip()[:70].replace("|", "/")
        print(f"{s.size_diff / n:.0f}|{s.count_diff / n:.2f}|{'/'.join(f.filename.split('/')[-2:])}:{f.lineno}|{code}")

async def main():
    gc.collect()
    tracemalloc.start(1)
    base = tracemalloc.take_snapshot()
    done = []
    async def consume():
        async for r in probe_many(targets, concurrency=n, options=opts, quick=True,
                                  politeness=Politeness(0, 0, 0, 0)):
            done.append(r)
    task = asyncio.create_task(consume())
    await asyncio.sleep(delay / 2)
    gc.collect()
    show("waiting for the greeting", tracemalloc.take_snapshot(), base)
    await asyncio.sleep(delay / 2 + 1.0)
    gc.collect()
    show(f"queued for a TLS slot ({len(done)} done)", tracemalloc.take_snapshot(), base)
    tracemalloc.stop()
    task.cancel()

with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
    runner.run(main())
"""


def trace(ca: Path, ports: list[int], n: int, delay: float, directory: Path, top: int = 12) -> list[str]:
    """Where a probe in flight's memory goes (tracemalloc, by source line; bytes per probe), in two states:
    ``n`` probes waiting for a late greeting, then all of them queued for a TLS slot (the state at the
    peak of the in-flight curve). Python's allocations only: OpenSSL's and the C library's are not seen."""
    script = directory / "trace.py"
    script.write_text(TRACE_SCRIPT)
    r = subprocess.run([sys.executable, str(script), str(ca), str(n), str(delay), str(top),
                        ",".join(map(str, ports))], capture_output=True, text=True, timeout=600)
    out: list[str] = []
    for line in r.stdout.splitlines():
        cells = line.split("|")
        if len(cells) == 2:
            out += ["", f"*{cells[0]}*: **{cells[1]} B per probe** traced; the largest sources:", "",
                    "| B per probe | blocks per probe | allocated at | line |", "|---:|---:|---|---|"]
        elif len(cells) == 4:
            out.append(f"| {cells[0]} | {cells[1]} | `{cells[2]}` | `{cells[3]}` |")
    if r.returncode != 0 and not out:
        out.append(f"(trace failed: {r.stderr.strip()[-300:]})")
    return out


def nginx_version() -> str:
    r = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
    m = re.search(r"nginx/(\S+)", r.stderr + r.stdout)
    return m.group(1) if m else "?"


def big_run(path: Path, n: int, ca: Path, workers: int, directory: Path) -> dict[str, object]:
    """A scan of ``n`` targets interrupted by SIGINT at about a third, resumed, then checked."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "scan.schema.json").read_text()))
    out = directory / f"big-{n}.jsonl"
    out.unlink(missing_ok=True)
    argv = [SMTP_DOCTOR, "scan", str(path), "-o", str(out), "--quick", "-q", "--ca-file", str(ca),
            "--workers", str(workers), "--shard-size", "2000", *OPEN]
    t0 = time.monotonic()
    # SIGINT at its default in the child: a shell starts background jobs with it ignored, and an ignored
    # signal stays ignored across exec (the scan would never see the Ctrl-C this run stands for).
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while proc.poll() is None and (not out.exists() or out.stat().st_size < 300 * n // 3):
        time.sleep(0.2)
    interrupted = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        err += b" (did not stop within 600 s of SIGINT: killed)"
    stopped_in = time.monotonic() - interrupted
    first_wall = time.monotonic() - t0
    first = sum(1 for _ in out.open())
    wall, cpu, rss, code, _ = measure(argv)
    keys, valid, bad = set(), 0, 0
    lines = 0
    for line in out.open():
        lines += 1
        rec = json.loads(line)
        keys.add(rec["target"])
        if validator.is_valid(rec):
            valid += 1
        else:
            bad += 1
    return {"targets": n, "interrupted_after": round(first_wall, 1), "first_run_lines": first,
            "stopped_in": round(stopped_in, 1),
            "first_exit": proc.returncode, "first_stderr": err.decode().strip()[-200:],
            "resume_wall": round(wall, 1), "resume_cpu_ms": round(1000 * cpu / max(1, n - first), 2),
            "resume_rss_mb": round(rss), "resume_exit": code, "lines": lines, "unique_targets": len(keys),
            "schema_valid": valid, "schema_invalid": bad}


def markdown(runs: list[Run], s_rate: float, s_note: str, cores: int, farm_note: str,
             big: dict[str, object] | None, flights: list[InFlight] | None = None,
             traced: list[str] | None = None) -> str:
    w: list[str] = []
    w.append("## 7. Fleet scan: `smtp-doctor scan` against sslyze and the handshake limit")
    w.append("")
    w.append(f"Same targets and check set for every tool (STARTTLS, then the certificate: chain, validity, trust), "
             f"{farm_note}. `bench/scan_bench.py`; each tool is one child process measured with wait4 "
             f"(CPU = user + system of the process and its children; RSS = the largest single process). "
             f"{cores} CPU cores, shared by the farm and the scanner.")
    w.append("")
    w.append("| tool | targets | wall s | targets/s | CPU ms/target | peak RSS MB | verified | farm busy | load "
             "| note |")
    w.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in runs:
        busy = 100 * r.farm_cpu / r.wall if r.wall else 0
        w.append(f"| {r.tool} | {r.targets} | {r.wall:.1f} | {r.rate:.0f} | {r.cpu_ms:.2f} | {r.rss_mb:.0f} | "
                 f"{r.ok} | {busy:.0f} % | {r.load:.1f} | {r.note} |")
    w.append(f"| `openssl s_time -new` (handshakes only, one listener) | - | - | {s_rate:.0f} | - | - | - | - | - | "
             f"{s_note} |")
    w.append("")
    w.append("*verified*: records with STARTTLS done and the chain verified (smtp-doctor: against the farm CA given "
             "with --ca-file; sslyze: certificate scan completed). *farm busy*: the farm's CPU time over the wall "
             "time, in % of one core (100 % per farm process means the farm was the bottleneck). *load*: the machine's "
             "1-minute load average at the end of the run — other work on the same cores included.")
    w.append("")
    one = max((r for r in runs if r.tool.endswith("1 worker")), key=lambda r: r.targets, default=None)
    many = max((r for r in runs if "workers" in r.tool), key=lambda r: r.targets, default=None)
    for ref in (r for r in runs if r.tool.startswith("sslyze") and r.rate):
        best = max((r for r in runs if r.tool.startswith("smtp-doctor") and r.targets == ref.targets),
                   key=lambda r: r.rate, default=None)
        if best:
            w.append(f"- {ref.targets} targets: {best.tool} vs {ref.tool}: **{best.rate / ref.rate:.1f}×** "
                     f"targets/s, {ref.cpu_ms / best.cpu_ms:.1f}× less CPU per target.")
    if one and s_rate:
        w.append(f"- smtp-doctor, 1 worker, against the handshake limit: **{100 * one.rate / s_rate:.0f} %** "
                 f"of `openssl s_time -new`.")
    if one and many:
        same = next((r for r in runs if r.tool.endswith("1 worker") and r.targets == many.targets), one)
        n = int(many.tool.split(",")[1].split()[0])
        w.append(f"- Scaling: {many.tool}: {many.rate / same.rate:.2f}× the single worker's targets/s "
                 f"({many.targets} targets; {n} workers should give ≥ {0.8 * n:.1f}× where the cores are free).")
        farm_ms = 1000 * many.farm_cpu / many.targets
        ceiling = 1000 * cores / (many.cpu_ms + farm_ms)
        w.append(f"- What {cores} cores can do at all, the farm included: each target cost {many.cpu_ms:.2f} ms of "
                 f"scanner CPU and {farm_ms:.2f} ms of farm CPU in the {n}-worker run, so {cores} cores top out at "
                 f"{ceiling:.0f} targets/s; the run reached **{100 * many.rate / ceiling:.0f} %** of that. "
                 f"{n} × the single worker's rate would be {n * same.rate:.0f}/s"
                 + (": more than this machine can do once the farm has its share." if n * same.rate > ceiling
                    else ", within what the cores allow."))
    if big:
        w.append("")
        w.append(f"**{big['targets']} targets, interrupted and resumed.** The scan was stopped with SIGINT after "
                 f"{big['interrupted_after']} s (it stopped {big['stopped_in']} s after the signal; "
                 f"{big['first_run_lines']} records written, exit "
                 f"{big['first_exit']}); the same command resumed in {big['resume_wall']} s "
                 f"({big['resume_cpu_ms']} ms CPU per remaining target, {big['resume_rss_mb']} MB peak RSS, exit "
                 f"{big['resume_exit']}). The file then held {big['lines']} lines for {big['unique_targets']} "
                 f"distinct targets; {big['schema_valid']} validate against docs/scan.schema.json, "
                 f"{big['schema_invalid']} do not.")
    if flights:
        base = flights[0]
        w.append("")
        w.append("**Memory against probes in flight.** One scan process (`--quick`, the library's `scan`), "
                 "concurrency = targets, against a farm of STARTTLS listeners whose greeting comes 5 s late, so "
                 "that every probe is in flight at once; then every greeting arrives together and all of them "
                 "reach TLS (at most 256 handshakes at a time). Peak RSS of the process:")
        w.append("")
        w.append(f"| probes in flight | peak RSS MB | above {base.in_flight} in flight | KB per probe in flight "
                 f"| verified | wall s |")
        w.append("|---:|---:|---:|---:|---:|---:|")
        for f in flights:
            extra = f.rss_mb - base.rss_mb
            per = 1024 * extra / (f.in_flight - base.in_flight) if f.in_flight > base.in_flight else 0
            w.append(f"| {f.in_flight} | {f.rss_mb:.0f} | {extra:.0f} MB | {per:.1f} | {f.ok} | {f.wall:.1f} |")
        if len(flights) > 2:
            a, b = flights[-2], flights[-1]
            w.append("")
            w.append(f"Between the last two rows each further probe in flight cost "
                     f"{1024 * (b.rss_mb - a.rss_mb) / (b.in_flight - a.in_flight):.1f} KB; the column above also "
                     f"counts what does not grow with the probes (up to 256 TLS handshakes at once, ~41 KB of "
                     f"OpenSSL buffers each, against at most 100 at the baseline).")
    if traced:
        w.append("")
        w.append("**Where it goes** (`--trace`: tracemalloc in one scan process, by source line):")
        w += traced
    w += verdicts(runs, s_rate, cores, flights or [])
    w.append("")
    return "\n".join(w)


def verdicts(runs: list[Run], s_rate: float, cores: int, flights: list[InFlight]) -> list[str]:
    """Issue 15's "Done when" figures, each said plainly as reached or not, from this run's numbers only."""
    w = ["", "Against issue 15's figures, from this run:", ""]
    doctor = [r for r in runs if r.tool.startswith("smtp-doctor")]
    tuned = max((r for r in runs if "limit=" in r.tool), key=lambda r: r.targets, default=None)
    if tuned and tuned.rate:
        best = max((r for r in doctor if r.targets == tuned.targets), key=lambda r: r.rate, default=None)
        if best:
            x = best.rate / tuned.rate
            w.append(f"- **≥ 10× sslyze tuned: {'reached' if x >= 10 else 'not reached'}, {x:.1f}×** "
                     f"({best.tool}, {best.rate:.0f} vs {tuned.rate:.0f} targets/s at {tuned.targets} targets; "
                     f"{tuned.cpu_ms / best.cpu_ms:.1f}× less CPU per target).")
    one = max((r for r in doctor if r.tool.endswith("1 worker")), key=lambda r: r.targets, default=None)
    many = next((r for r in doctor if "workers" in r.tool and one and r.targets == one.targets), None)
    if one and s_rate:
        pct = 100 * one.rate / s_rate
        w.append(f"- **≥ 50 % of the handshake limit: {'reached' if pct >= 50 else 'not reached'}, {pct:.0f} %** "
                 f"(1 worker, {one.rate:.0f}/s, against `openssl s_time -new`'s {s_rate:.0f} handshakes/s, a "
                 f"sequential client).")
    if one and many:
        n = int(many.tool.split(",")[1].split()[0])
        farm_ms = 1000 * many.farm_cpu / many.targets
        ceiling = 1000 * cores / (many.cpu_ms + farm_ms)
        best_ratio = ceiling / one.rate
        grown = many.rate / one.rate
        w.append(f"- **≥ {0.8 * n:.1f}× with {n} workers: {'reached' if grown >= 0.8 * n else 'not reached'}, "
                 f"{grown:.2f}×.** With the farm on the same {cores} cores, the most {n} workers could reach is "
                 f"{cores} cores ÷ ({many.cpu_ms:.2f} ms scanner + {farm_ms:.2f} ms farm CPU per target) = "
                 f"{ceiling:.0f}/s, {best_ratio:.2f}× the single worker: "
                 + (f"{0.8 * n:.1f}× cannot be shown on this machine whatever the scanner does; the "
                    f"{n}-worker run reached {100 * many.rate / ceiling:.0f} % of that ceiling."
                    if best_ratio < 0.8 * n else f"the run reached {100 * many.rate / ceiling:.0f} % of it."))
    if flights and len(flights) > 1:
        base, top = flights[0], flights[-1]
        per = 1024 * (top.rss_mb - base.rss_mb) / (top.in_flight - base.in_flight)
        per_10k = per * 10000 / 1024
        w.append(f"- **≤ 100 MB per 10,000 in flight: {'reached' if per_10k <= 100 else 'not reached'}, "
                 f"{per:.1f} KB per probe in flight** ({per_10k:.0f} MB per 10,000; {top.rss_mb:.0f} MB peak RSS "
                 f"with {top.in_flight} in flight)."
                 + (" By number of targets the RSS is flat: " + ", ".join(
                     f"{r.rss_mb:.0f} MB at {r.targets}" for r in doctor if r.tool.endswith("1 worker"))
                    + " (1 worker, 200 in flight)." if doctor else ""))
    return w


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000", help="target counts for smtp-doctor")
    ap.add_argument("--sslyze-sizes", default="1000", help="target counts for sslyze (it is 10-20x slower)")
    ap.add_argument("--sslyze-python", default="/tmp/sslyze-venv/bin/python")
    ap.add_argument("--listeners", type=int, default=500)
    ap.add_argument("--farm-processes", type=int, default=2)
    ap.add_argument("--farm", choices=("auto", "nginx", "python"), default="auto",
                    help="who serves the farm: nginx's mail module (auto: when installed) or the Python farm")
    ap.add_argument("--big", type=int, default=0, help="also run an interrupted and resumed scan of this many")
    ap.add_argument("--inflight", default="100,1000,5000,10000",
                    help="probes in flight for the memory curve (the first is the baseline; empty: skip)")
    ap.add_argument("--memory-only", action="store_true",
                    help="only the in-flight memory curve (and --trace): no throughput runs, no sslyze")
    ap.add_argument("--trace", type=int, default=0, metavar="N",
                    help="also trace (tracemalloc) where N probes in flight keep their memory")
    ap.add_argument("--pin", action="store_true",
                    help="farm on the first core, single-process tools on the last (needs 2 cores or more)")
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--render", default=None, metavar="JSON",
                    help="only re-render the Markdown from a previous run's bench/out/scan.json")
    args = ap.parse_args()
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        keep = {f for f in Run.__dataclass_fields__}
        loaded = []
        for raw in saved["runs"]:
            run = Run(**{k: v for k, v in raw.items() if k in keep})
            run.farm_cpu, run.load = raw["farm_cpu"], raw["load"]
            loaded.append(run)
        text = markdown(loaded, saved["s_time"], saved.get("s_note", ""), saved.get("cores", os.cpu_count() or 1),
                        saved.get("note", ""), saved["big"], [InFlight(**f) for f in saved.get("inflight", [])],
                        saved.get("trace"))
        if args.markdown:
            Path(args.markdown).write_text(text)
        else:
            print(text)
        return 0
    cores = os.cpu_count() or 1
    if not Path(args.sslyze_python).exists():
        print(f"scan_bench: installing sslyze into {Path(args.sslyze_python).parents[1]} …", file=sys.stderr)
        venv = Path(args.sslyze_python).parents[1]
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "sslyze"], check=True)
    work = Path(tempfile.mkdtemp(prefix="smtp-doctor-scan-bench-"))
    runs: list[Run] = []
    kinds = ("starttls",) * 49 + ("implicit",)
    global FARM_PIDS
    server = "nginx" if args.farm == "nginx" or (args.farm == "auto" and nginx_available()) else "python"
    serve = nginx_farm if server == "nginx" else farm
    s_rate, s_note, big = 0.0, "not run (--memory-only)", None
    farm_note = "no throughput runs (--memory-only)"
    if not args.memory_only:
        with serve(work / "farm", args.listeners, kinds=kinds, processes=args.farm_processes) as info:
            FARM_PIDS = info.pids
            if args.pin and cores >= 2:
                PIN.add(cores - 1)
                for pid in info.pids:
                    os.sched_setaffinity(pid, set(range(cores - 1)))
            ports = info.ports("starttls")
            who = (f"nginx {nginx_version()} (mail module, {args.farm_processes} worker processes)" if server == "nginx"
                   else f"smtp-doctor's Python farm ({args.farm_processes} processes)")
            farm_note = (f"a farm of {len(ports)} STARTTLS listeners (ECDSA P-256 certificate from a farm CA, no "
                         f"session tickets) served by {who} on 127.0.0.1")
            for n in (int(x) for x in args.sizes.split(",") if x):
                path = targets_file(work, ports, n)
                for workers in sorted({1, cores}):
                    print(f"scan_bench: smtp-doctor {n} targets, {workers} worker(s) …", file=sys.stderr)
                    runs.append(doctor(path, n, info.ca_file, workers, work))
                    print(f"  {runs[-1]}", file=sys.stderr)
            for n in (int(x) for x in args.sslyze_sizes.split(",") if x):
                path = targets_file(work, ports, n)
                for limit in (0, 100):
                    print(f"scan_bench: sslyze {n} targets, limit {limit or 'default'} …", file=sys.stderr)
                    runs.append(sslyze(args.sslyze_python, path, n, limit))
                    print(f"  {runs[-1]}", file=sys.stderr)
            print("scan_bench: openssl s_time -new …", file=sys.stderr)
            s_rate, s_note = s_time(info.ports("implicit")[0], 10)
            if args.big:
                print(f"scan_bench: {args.big} targets, interrupted and resumed …", file=sys.stderr)
                big = big_run(targets_file(work, ports, args.big), args.big, info.ca_file, cores, work)
                print(f"  {big}", file=sys.stderr)
    flights: list[InFlight] = []
    if args.inflight:
        print("scan_bench: memory against probes in flight …", file=sys.stderr)
        with farm(work / "slow", 100, kinds=(SLOW,), processes=1, greet_delay=5.0) as slow:
            FARM_PIDS = slow.pids
            flights = inflight(slow.ca_file, slow.ports(SLOW), [int(x) for x in args.inflight.split(",")], work)
    traced: list[str] = []
    if args.trace:
        print(f"scan_bench: tracing {args.trace} probes in flight …", file=sys.stderr)
        with farm(work / "trace", 100, kinds=(SLOW,), processes=1, greet_delay=10.0) as slow:
            traced = trace(slow.ca_file, slow.ports(SLOW), args.trace, 10.0, work)
    shutil.rmtree(work, ignore_errors=True)  # targets and records: up to ~200 MB with --big 100000
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    note = (farm_note + f"; Python {platform.python_version()}, {ssl.OPENSSL_VERSION}; {cpu}; measured "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `python bench/scan_bench.py "
            f"{' '.join(sys.argv[1:])}`" + ("; single-process tools pinned to the last core, the farm to the others"
                                            if PIN else ""))
    text = markdown(runs, s_rate, s_note, cores, note, big, flights, traced)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "scan.json").write_text(json.dumps(
        {"runs": [r.__dict__ | {"rate": r.rate, "cpu_ms": r.cpu_ms} for r in runs], "s_time": s_rate, "big": big,
         "s_note": s_note, "cores": cores, "note": note, "inflight": [f.__dict__ for f in flights],
         "trace": traced},
        indent=2))
    if args.markdown:
        Path(args.markdown).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
