"""smtp-doctor's benchmark: classification time against today's tools in the wrong mode, and RTT cost.

Run by ``make bench`` (bench/run.sh), which installs the clients first. Everything runs on this
machine: the lab servers on 127.0.0.1 for parts 1–2, and two private network namespaces joined by a
link with 50 ms RTT for part 3. Raw numbers go to bench/out/results.json, the report to
docs/benchmarks.md (regenerated whole on every run; do not edit it by hand).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import math
import os
import platform
import select
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import smtp_doctor
from smtp_doctor.probe import ProbeOptions

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SMTP_DOCTOR = str(VENV_BIN / "smtp-doctor")
NS_CLIENT, NS_SERVER = "sdbench-cli", "sdbench-srv"
#: RFC 5737 documentation range: exists only inside the two namespaces, routes nowhere.
ADDR_CLIENT, ADDR_SERVER = "192.0.2.1", "192.0.2.2"
ONE_WAY_DELAY_MS = 25


# --- small helpers ---------------------------------------------------------------------------------

def p90(values: Sequence[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def cmd_out(args: Sequence[str]) -> str:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (proc.stdout + proc.stderr).strip("\n").rstrip()  # keep leading spaces: `free -h` aligns with them


def first_line(text: str, match: str = "") -> str:
    for line in text.splitlines():
        if line.strip() and match.lower() in line.lower():
            return line.strip()
    return text.strip().splitlines()[0] if text.strip() else ""


def cell(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|").replace("`", "'")


def read_until(proc: subprocess.Popen[str], done: Callable[[str], bool], deadline_s: float) -> str:
    """Read a child's stdout (raw fd, so select() sees every byte) until ``done(text)`` or the deadline."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        if done(buf.decode("utf-8", "replace")):
            return buf.decode("utf-8", "replace")
    raise RuntimeError(f"{proc.args!r} gave no expected output within {deadline_s} s: {buf[:200]!r}")


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def read_json_object(proc: subprocess.Popen[str], deadline_s: float) -> dict[str, Any]:
    """The lab prints its ports as one JSON object: wait for it."""
    obj: dict[str, Any] = json.loads(read_until(proc, _is_json_object, deadline_s))
    return obj


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# --- the machine --------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": cmd_out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "os": first_line(Path("/etc/os-release").read_text(), "PRETTY_NAME").split("=", 1)[-1].strip('"')
        if Path("/etc/os-release").exists() else platform.platform(),
        "kernel": platform.release(),
        "nproc": cmd_out(["nproc"]),
        "cpu": first_line(Path("/proc/cpuinfo").read_text(), "model name").split(":", 1)[-1].strip()
        if Path("/proc/cpuinfo").exists() else platform.processor(),
        "free -h": cmd_out(["free", "-h"]),
        "python": platform.python_version(),
        "python ssl": ssl.OPENSSL_VERSION,
        "openssl": cmd_out(["openssl", "version"]),
        "swaks": first_line(cmd_out(["swaks", "--version"]), "version"),
        "curl": first_line(cmd_out(["curl", "--version"])),
        "smtp-doctor": smtp_doctor_version(),
        "load at start": loadavg(),
    }


def loadavg() -> str:
    """Other work on the machine skews the timings: say how busy it was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def smtp_doctor_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("smtp-doctor")
    except PackageNotFoundError:
        return "unknown"


# --- part 1: smtp-doctor's classification time -----------------------------------------------------

@dataclass
class DoctorRow:
    via: str  #: "CLI" or "library"
    server: str
    timeout: float
    expected: str
    runs: int = 0
    correct: int = 0
    detect: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def bench_doctor(lab: dict[str, Any], runs: int, timeouts: Sequence[float]) -> list[DoctorRow]:
    rows: list[DoctorRow] = []
    ports = lab["servers"]
    for timeout in timeouts:
        for server, expected in (("implicit", "implicit_tls"), ("starttls", "starttls")):
            cli = DoctorRow("CLI", server, timeout, expected)
            lib = DoctorRow("library", server, timeout, expected)
            target = f"127.0.0.1:{ports[server]}"
            for _ in range(runs):
                start = time.monotonic()
                proc = subprocess.run([SMTP_DOCTOR, "probe", target, "--timeout", str(timeout), "--json",
                                       "--ca-file", lab["ca_file"]], capture_output=True, text=True,
                                      timeout=timeout + 30)
                cli.wall.append(time.monotonic() - start)
                cli.runs += 1
                try:
                    port = json.loads(proc.stdout)["ports"][0]
                    cli.correct += port["mode"] == expected
                    cli.detect.append(port["timings"]["detect_seconds"])
                except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                    pass  # counted as a wrong classification
                opts = ProbeOptions(timeout=timeout, ca_file=lab["ca_file"],
                                    greeting_timeout=min(20.0, timeout), connect_timeout=min(5.0, timeout))
                start = time.monotonic()
                facts = smtp_doctor.probe("127.0.0.1", [ports[server]], opts).ports[0].facts
                lib.wall.append(time.monotonic() - start)
                lib.runs += 1
                lib.correct += facts.mode == expected
                if facts.detect_seconds is not None:
                    lib.detect.append(facts.detect_seconds)
            rows += [cli, lib]
    return rows


def bench_startup(runs: int) -> list[float]:
    """The CLI's fixed cost (interpreter start and imports), to read the CLI wall times against."""
    times = []
    for _ in range(runs):
        start = time.monotonic()
        subprocess.run([SMTP_DOCTOR, "--help"], capture_output=True, timeout=60, check=True)
        times.append(time.monotonic() - start)
    return times


# --- part 2: today's tools in the wrong mode ------------------------------------------------------------

@dataclass
class ToolCase:
    tool: str
    what: str
    server: str
    wrong: bool
    argv: list[str]


@dataclass
class ToolRun:
    seconds: float
    rc: int
    killed: bool
    said: str


def tool_cases(lab: dict[str, Any]) -> list[ToolCase]:
    s, i, ca = lab["servers"]["starttls"], lab["servers"]["implicit"], lab["ca_file"]
    swaks = ["swaks", "--server", "127.0.0.1", "--to", "bench@example.test", "--from", "bench@example.test",
             "--quit-after", "EHLO"]
    return [
        ToolCase("swaks", "`--tls-on-connect` (implicit TLS)", "starttls", True, [*swaks, "--port", str(s),
                                                                                   "--tls-on-connect"]),
        ToolCase("swaks", "plaintext (no TLS option)", "implicit", True, [*swaks, "--port", str(i)]),
        ToolCase("swaks", "`--tls` (STARTTLS)", "implicit", True, [*swaks, "--port", str(i), "--tls"]),
        ToolCase("openssl s_client", "no `-starttls` (implicit TLS)", "starttls", True,
                 ["openssl", "s_client", "-connect", f"127.0.0.1:{s}", "-CAfile", ca, "-brief"]),
        ToolCase("openssl s_client", "`-starttls smtp`", "implicit", True,
                 ["openssl", "s_client", "-connect", f"127.0.0.1:{i}", "-starttls", "smtp", "-CAfile", ca,
                  "-brief"]),
        ToolCase("curl", "`smtps://` (implicit TLS)", "starttls", True,
                 ["curl", "-sS", "--cacert", ca, f"smtps://127.0.0.1:{s}"]),
        ToolCase("curl", "`smtp://` `--ssl-reqd` (STARTTLS)", "implicit", True,
                 ["curl", "-sS", "--ssl-reqd", "--cacert", ca, f"smtp://127.0.0.1:{i}"]),
        # The same tools in the right mode, for scale.
        ToolCase("swaks", "`--tls` (STARTTLS)", "starttls", False, [*swaks, "--port", str(s), "--tls"]),
        ToolCase("swaks", "`--tls-on-connect`", "implicit", False, [*swaks, "--port", str(i),
                                                                     "--tls-on-connect"]),
        ToolCase("openssl s_client", "`-starttls smtp`", "starttls", False,
                 ["openssl", "s_client", "-connect", f"127.0.0.1:{s}", "-starttls", "smtp", "-CAfile", ca,
                  "-brief"]),
        ToolCase("openssl s_client", "no `-starttls`", "implicit", False,
                 ["openssl", "s_client", "-connect", f"127.0.0.1:{i}", "-CAfile", ca, "-brief"]),
        ToolCase("curl", "`smtp://` `--ssl-reqd`", "starttls", False,
                 ["curl", "-sS", "--ssl-reqd", "--cacert", ca, f"smtp://127.0.0.1:{s}"]),
        ToolCase("curl", "`smtps://`", "implicit", False, ["curl", "-sS", "--cacert", ca, f"smtps://127.0.0.1:{i}"]),
    ]


WHAT_THEY_SAY = ("error", "timeout", "timed out", "wrong version", "failed", "could not", "unable", "***")


def run_tool(case: ToolCase, bound: float) -> ToolRun:
    start = time.monotonic()
    proc = subprocess.run(["timeout", "-k", "5", str(bound), *case.argv], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, errors="replace", timeout=bound + 30)
    seconds = time.monotonic() - start
    out = proc.stderr + "\n" + proc.stdout
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    # A read timeout is the news when there is one (swaks reports it on stdout, then the fallout on stderr).
    said = next((ln for ln in lines if "timeout" in ln.lower() or "timed out" in ln.lower()), "") or next(
        (ln for ln in lines if any(w in ln.lower() for w in WHAT_THEY_SAY)), "")
    if not said and proc.returncode == 0:
        said = "(connected and exited normally)"
    elif not said:  # typically a client still waiting when the bound killed it: its last words
        said = f"last output: {lines[-1]}" if lines else "(no output)"
    return ToolRun(seconds, proc.returncode, proc.returncode in (124, 137), said)


def bench_tools(lab: dict[str, Any], bound: float, repeats: int) -> list[dict[str, Any]]:
    """Every case once, all at the same time (a hang costs wall time, not CPU); the quick ones again,
    one after another, for a clean median."""
    cases = tool_cases(lab)
    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        first = list(pool.map(lambda c: run_tool(c, bound), cases))
    results = []
    for case, run in zip(cases, first, strict=True):
        runs = [run]
        if run.seconds < 5 and not run.killed:
            runs = [run_tool(case, bound) for _ in range(repeats)]
        results.append({"case": asdict(case), "runs": [asdict(r) for r in runs]})
    return results


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never says a word: how long does a client wait on its own?

    The lab's implicit-TLS server gives up on a silent client after 60 s (asyncio's handshake timeout);
    this one never does, so each client's own limit shows (or the bound's)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.sock.close()


def silent_cases(port: int) -> list[ToolCase]:
    return [
        ToolCase("swaks", "plaintext (no TLS option)", "silent", True,
                 ["swaks", "--server", "127.0.0.1", "--port", str(port), "--to", "bench@example.test",
                  "--from", "bench@example.test", "--quit-after", "EHLO"]),
        ToolCase("openssl s_client", "`-starttls smtp`", "silent", True,
                 ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", "smtp", "-brief"]),
        ToolCase("curl", "`smtp://` `--ssl-reqd`", "silent", True,
                 ["curl", "-sS", "--ssl-reqd", f"smtp://127.0.0.1:{port}"]),
    ]


# --- part 3: a STARTTLS probe across 50 ms RTT ---------------------------------------------------------

def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=check)


def cleanup_netns() -> None:
    for ns in (NS_CLIENT, NS_SERVER):
        sh("ip", "netns", "del", ns, check=False)


def make_link() -> tuple[str, list[str], subprocess.Popen[str] | None]:
    """Two namespaces joined by a 50 ms RTT link: veth + netem if the kernel has it, otherwise a
    userspace delay line over TUN devices. Returns (method, notes, delay-line process)."""
    notes: list[str] = []
    cleanup_netns()
    for ns in (NS_CLIENT, NS_SERVER):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", "sdbench-c", "netns", NS_CLIENT, "type", "veth", "peer", "name", "sdbench-s",
       "netns", NS_SERVER)
    netem_ok = True
    for ns, dev, addr in ((NS_CLIENT, "sdbench-c", ADDR_CLIENT), (NS_SERVER, "sdbench-s", ADDR_SERVER)):
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
        tc = sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "netem", "delay",
                f"{ONE_WAY_DELAY_MS}ms", check=False)
        if tc.returncode != 0:
            netem_ok = False
            notes.append(f"`tc qdisc add dev {dev} root netem delay {ONE_WAY_DELAY_MS}ms` failed: "
                         f"{cell(tc.stderr or tc.stdout)}")
            break
    if netem_ok:
        return f"veth pair + tc netem delay {ONE_WAY_DELAY_MS} ms on each side", notes, None
    sh("ip", "-n", NS_CLIENT, "link", "del", "sdbench-c", check=False)
    notes.append("sch_netem is not available in this kernel, so netem could not be used.")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "delayline.py"), "--delay-ms",
                             str(ONE_WAY_DELAY_MS), "--ns-a", NS_CLIENT, "--ns-b", NS_SERVER,
                             "--addr-a", ADDR_CLIENT, "--addr-b", ADDR_SERVER],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        read_until(proc, lambda text: "ready\n" in text, 15)
    except RuntimeError:
        stop(proc)
        raise
    return (f"userspace delay line (bench/delayline.py): TUN device in each namespace, every IP packet held "
            f"{ONE_WAY_DELAY_MS} ms each way"), notes, proc


def bench_rtt(runs: int) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {"skipped": "not root: network namespaces need root"}
    if not shutil.which("ip") or not shutil.which("tc"):
        return {"skipped": "`ip`/`tc` (iproute2) not installed"}
    probe = sh("ip", "netns", "list", check=False)
    if probe.returncode != 0:
        return {"skipped": f"`ip netns` does not work here: {cell(probe.stderr)}"}
    delay: subprocess.Popen[str] | None = None
    lab: subprocess.Popen[str] | None = None
    try:
        method, notes, delay = make_link()
        lab = subprocess.Popen(["ip", "netns", "exec", NS_SERVER, sys.executable,
                                str(ROOT / "bench" / "netns_lab.py"), "--host", ADDR_SERVER,
                                "--duration", "180"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        info = read_json_object(lab, 60)
        s, i = info["servers"]["starttls"], info["servers"]["implicit"]
        out = sh("ip", "netns", "exec", NS_CLIENT, sys.executable, str(ROOT / "bench" / "rtt_probe.py"),
                 "--host", ADDR_SERVER, "--starttls", str(s), "--implicit", str(i), "--ca-file",
                 info["ca_file"], "--runs", str(runs), check=False)
        if out.returncode != 0:
            return {"skipped": f"rtt_probe failed: {cell(out.stderr[-300:])}", "method": method,
                    "notes": notes}
        data: dict[str, Any] = json.loads(out.stdout)
        cli = []
        for _ in range(3):
            start = time.monotonic()
            sh("ip", "netns", "exec", NS_CLIENT, SMTP_DOCTOR, "probe", f"{ADDR_SERVER}:{s}", "--json",
               "--servername", "localhost", "--ca-file", info["ca_file"], check=False)
            cli.append(time.monotonic() - start)
        data.update(method=method, notes=notes, cli_wall=cli)
        return data
    finally:
        if lab is not None:
            stop(lab)
        if delay is not None:
            stop(delay)
        cleanup_netns()


# --- the report ------------------------------------------------------------------------------------------

def render(m: dict[str, str], doctor: list[DoctorRow], startup: list[float], tools: list[dict[str, Any]],
           silent: list[dict[str, Any]], rtt: dict[str, Any], extra: list[str], args: argparse.Namespace,
           total: float) -> str:
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("<!-- Generated by `make bench` (bench/run.sh → bench/bench.py). Do not edit by hand: re-run it. -->")
    w("")
    w(f"Run on {m['date']} at commit `{m['commit']}` (smtp-doctor {m['smtp-doctor']}); the whole run took "
      f"{total:.0f} s.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for key in ("os", "kernel", "cpu", "nproc", "python", "python ssl", "openssl", "swaks", "curl"):
        w(f"| {key} | {cell(m[key])} |")
    w(f"| load average (1, 5, 15 min) | at start {m['load at start']}; at end {loadavg()} |")
    w("")
    w("```")
    w("$ free -h")
    w(m["free -h"])
    w("```")
    w("")
    w("## Method")
    w("")
    w(f"Parts 1 and 2 run against one `smtp-doctor lab --no-hostile` process on 127.0.0.1 (aiosmtpd; the "
      f"`starttls` server is a 587-style port, `implicit` a 465-style port, both with certificates from the "
      f"lab's private CA). Part 1 runs the CLI (`smtp-doctor probe 127.0.0.1:PORT --timeout T --json "
      f"--ca-file CA`, wall time of the whole process, including Python start-up) and the library "
      f"(`smtp_doctor.probe()` in the benchmark process; *detect* is `facts.detect_seconds`, the time until "
      f"the mode was known) {args.runs} times per port and per timeout. Part 2 runs each client once with "
      f"the coreutils `timeout {args.bound:.0f}` bound, all cases at the same moment (a client that waits "
      f"costs wall time, not CPU); the cases that ended within 5 s were then run {args.repeats} more times "
      f"one after another, and their median is shown. Part 3 builds two private network namespaces "
      f"(addresses from the RFC 5737 documentation range {ADDR_CLIENT}/{ADDR_SERVER}, which exist only "
      f"inside them; removed at the end) joined by a link with {2 * ONE_WAY_DELAY_MS} ms RTT, runs the lab "
      f"in one and the probe in the other, and splits each STARTTLS probe into phases using the "
      f"transcript's own timestamps. Medians are medians; p90 is the nearest-rank 90th percentile.")
    w("")
    w("## 1. smtp-doctor: time to classify a port")
    w("")
    w("| via | server (expected mode) | `--timeout` | correct | detect median | detect p90 | "
      "wall median | wall p90 |")
    w("|---|---|---|---|---|---|---|---|")
    for r in doctor:
        d_med, d_p90 = (ms(statistics.median(r.detect)), ms(p90(r.detect))) if r.detect else ("—", "—")
        w(f"| {r.via} | {r.server} ({r.expected}) | {r.timeout:.0f} s | {r.correct}/{r.runs} | "
          f"{d_med} | {d_p90} | {ms(statistics.median(r.wall))} | {ms(p90(r.wall))} |")
    w("")
    w(f"For scale: `smtp-doctor --help` alone (interpreter start-up and imports) takes "
      f"{ms(statistics.median(startup))} (median of {len(startup)}), which is most of the CLI's wall time.")
    w("")
    w(independence_sentence(doctor))
    w("")
    w(f"## 2. Today's tools against the same ports (bound: `timeout {args.bound:.0f}`)")
    w("")
    w("| tool | client mode | server | right mode? | time to exit | exit | what it said |")
    w("|---|---|---|---|---|---|---|")
    for res in tools:
        case, runs = res["case"], res["runs"]
        times = [r["seconds"] for r in runs]
        shown = statistics.median(times)
        when = secs(shown) + (f" (median of {len(runs)})" if len(runs) > 1 else "")
        last = runs[-1]
        if last["killed"]:
            when, code = f"**killed by the bound** at {secs(shown)}", "killed"
        else:
            code = str(last["rc"])
        mode = "yes" if not case["wrong"] else "**wrong**"
        w(f"| {case['tool']} | {case['what']} | {case['server']} | {mode} | {when} | {code} | "
          f"{cell(last['said'] or '(nothing)', 90)} |")
    w("")
    w(tools_sentence(doctor, tools, args.bound))
    killed = [f"{r['case']['tool']} {r['case']['what']}" for r in tools if r["runs"][-1]["killed"]]
    if killed:
        w("")
        w(f"The bound, not the client, ended the runs marked *killed* ({', '.join(killed)}): no timeout of "
          f"their own fired within {args.bound:.0f} s. Against the lab they would have been released after "
          f"60 s at the latest, only because the lab's implicit-TLS server (asyncio) drops a connection that "
          f"sends no ClientHello within 60 s (asyncio's default TLS handshake timeout); a server that waits "
          f"longer keeps them waiting longer.")
    w("")
    w(f"### 2b. How long they wait on their own (bound: `timeout {args.silent_bound:.0f}`)")
    w("")
    w("The same STARTTLS-first clients against a server that accepts the connection and never speaks "
      "(a bench-own listener on 127.0.0.1: unlike the lab it never gives up), started in the background at "
      "the beginning of the run.")
    w("")
    w("| tool | client mode | time to exit | exit | what it said |")
    w("|---|---|---|---|---|")
    for res in silent:
        case, run = res["case"], res["runs"][-1]
        when = f"**killed by the bound** at {secs(run['seconds'])}" if run["killed"] else secs(run["seconds"])
        code = "killed" if run["killed"] else str(run["rc"])
        w(f"| {case['tool']} | {case['what']} | {when} | {code} | {cell(run['said'] or '(nothing)', 90)} |")
    w("")
    w(f"## 3. A full STARTTLS probe across {2 * ONE_WAY_DELAY_MS} ms RTT")
    w("")
    w(render_rtt(rtt))
    w("")
    w("## 4. `explain --log` throughput")
    w("")
    if not extra:
        w("Not measured yet: bench/run.sh runs bench/explain_log.py when it exists (see the hook there).")
    for section in extra:
        w(section.rstrip())
    w("")
    return "\n".join(out)


def independence_sentence(rows: list[DoctorRow]) -> str:
    lib = {(r.server, r.timeout): statistics.median(r.detect)
           for r in rows if r.via == "library" and r.detect}
    timeouts = sorted({t for _, t in lib})
    parts = []
    for server in ("implicit", "starttls"):
        vals = [f"{ms(lib[(server, t)])} at `--timeout {t:.0f}`" for t in timeouts if (server, t) in lib]
        parts.append(f"{server}: " + ", ".join(vals))
    return ("Median library detect time by timeout — " + "; ".join(parts) + ". The implicit-TLS port is "
            "the wrong mode for a client that waits for a plaintext greeting; smtp-doctor races that wait "
            "against a TLS handshake on a second connection, so the answer comes after one handshake whatever "
            "the configured timeout is.")


def tools_sentence(doctor: list[DoctorRow], tools: list[dict[str, Any]], bound: float) -> str:
    slow = [r for r in tools
            if r["case"]["wrong"] and (r["runs"][-1]["killed"] or r["runs"][-1]["seconds"] > 5)]
    lib = [statistics.median(r.detect) for r in doctor
           if r.via == "library" and r.server == "implicit" and r.detect]
    names = ", ".join(f"{r['case']['tool']} {r['case']['what']}" for r in slow)
    best = ms(max(lib)) if lib else "—"
    return (f"{len(slow)} of the {sum(r['case']['wrong'] for r in tools)} wrong-mode cases did not fail fast "
            f"({names}): they wait for a greeting the implicit-TLS server never sends, until their own read "
            f"timeout or the {bound:.0f} s bound. The implicit-TLS-against-STARTTLS cases fail within "
            f"milliseconds, but with OpenSSL's raw wording. smtp-doctor named the implicit-TLS port's mode "
            f"in {best} (library median).")


def render_rtt(rtt: dict[str, Any]) -> str:
    lines: list[str] = []
    w = lines.append
    if "skipped" in rtt:
        for note in rtt.get("notes", []):
            w(f"- {note}")
        w(f"Not measured: {rtt['skipped']}.")
        return "\n".join(lines)
    w(f"Link: {rtt['method']}.")
    for note in rtt["notes"]:
        w(f"- {note}")
    rtt_s = statistics.median(rtt["tcp_connect"])
    w("")
    w(f"Measured RTT (bare TCP connect, SYN → SYN/ACK, median of {len(rtt['tcp_connect'])}): "
      f"**{ms(rtt_s)}**. Multiples below are of this measured RTT. {len(rtt['starttls'])} runs per server.")
    w("")
    st = rtt["starttls"]
    modes = {r["mode"] for r in st} | {r["mode"] for r in rtt["implicit"]}
    w("| phase of the STARTTLS probe | median | × RTT | expected |")
    w("|---|---|---|---|")
    phases = [("greeting", "banner wait after connect", "1 (ACK reaches server, 220 comes back)"),
              ("ehlo_plain", "EHLO (plaintext)", "1"), ("starttls", "STARTTLS → 220", "1"),
              ("tls_handshake", "TLS handshake", "1 (TLS 1.3)"),
              ("verify_local", "chain verification (local, 3 trust sources)", "0 (CPU only)"),
              ("ehlo_tls", "EHLO (inside TLS)", "1"), ("quit", "QUIT → 221", "1")]
    w(f"| TCP connect (measured separately) | {ms(rtt_s)} | 1.0 | 1 |")
    for key, label, expected in phases:
        vals = [r["phases"][key] for r in st if key in r.get("phases", {})]
        if vals:
            med = statistics.median(vals)
            w(f"| {label} | {ms(med)} | {med / rtt_s:.1f} | {expected} |")
    detect = statistics.median(r["detect"] for r in st)
    total = statistics.median(r["total"] for r in st)
    w(f"| **mode known** (`detect_seconds`, from the start) | {ms(detect)} | {detect / rtt_s:.1f} | 2 |")
    w(f"| **whole probe** (`total_seconds`) | {ms(total)} | {total / rtt_s:.1f} | 7 + local work |")
    w("")
    imp_d = statistics.median(r["detect"] for r in rtt["implicit"])
    imp_t = statistics.median(r["total"] for r in rtt["implicit"])
    cli = statistics.median(rtt["cli_wall"])
    w(f"Implicit-TLS server across the same link: mode known after {ms(imp_d)} ({imp_d / rtt_s:.1f} RTT: "
      f"connect + TLS 1.3 handshake), whole probe {ms(imp_t)} ({imp_t / rtt_s:.1f} RTT). The CLI end to end "
      f"(`smtp-doctor probe 192.0.2.2:PORT --json`, process start to exit, median of {len(rtt['cli_wall'])}) "
      f"took {ms(cli)}. Modes seen: {', '.join(sorted(modes))}; chains verified against the lab CA: "
      f"{sum(r['verified'] for r in st)}/{len(st)} (STARTTLS), "
      f"{sum(r['verified'] for r in rtt['implicit'])}/{len(rtt['implicit'])} (implicit).")
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20, help="runs per port and timeout (part 1)")
    ap.add_argument("--timeouts", default="10,60", help="comma-separated --timeout values (part 1)")
    ap.add_argument("--bound", type=float, default=40.0, help="coreutils timeout bound per tool run (part 2)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the quick tool cases (part 2)")
    ap.add_argument("--silent-bound", type=float, default=140.0,
                    help="bound for clients waiting on a silent server (part 2b, runs in the background)")
    ap.add_argument("--rtt-runs", type=int, default=10, help="probes per server across the delayed link")
    ap.add_argument("--extra-section", action="append", default=[],
                    help="Markdown file whose body becomes section 4 (bench/explain_log.py's output)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = ap.parse_args()
    started = time.monotonic()
    raw_dir = ROOT / "bench" / "out"
    raw_dir.mkdir(exist_ok=True)

    m = machine()
    silent = SilentServer()
    waiting = concurrent.futures.ThreadPoolExecutor(3)
    silent_runs = [(c, waiting.submit(run_tool, c, args.silent_bound)) for c in silent_cases(silent.port)]
    print(f"bench: part 2b started in the background (clients against a silent server, "
          f"bound {args.silent_bound:.0f} s) …", flush=True)
    lab_proc = subprocess.Popen([SMTP_DOCTOR, "lab", "--json", "--no-hostile", "--duration", "900"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lab = read_json_object(lab_proc, 60)
        print("bench: part 2, today's tools (one bound-limited round, then repeats) …", flush=True)
        tools = bench_tools(lab, args.bound, args.repeats)
        print("bench: part 1, smtp-doctor classification …", flush=True)
        doctor = bench_doctor(lab, args.runs, [float(t) for t in args.timeouts.split(",")])
        startup = bench_startup(5)
    finally:
        stop(lab_proc)
    print("bench: part 3, STARTTLS probe across 50 ms RTT …", flush=True)
    try:
        rtt = bench_rtt(args.rtt_runs)
    except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
        rtt = {"skipped": cell(str(exc), 300)}
    print("bench: waiting for part 2b …", flush=True)
    silent_results = [{"case": asdict(c), "runs": [asdict(f.result())]} for c, f in silent_runs]
    waiting.shutdown()
    silent.close()
    extra = [Path(p).read_text() for p in args.extra_section if Path(p).is_file() and Path(p).stat().st_size]
    total = time.monotonic() - started
    (raw_dir / "results.json").write_text(json.dumps(
        {"machine": m, "doctor": [asdict(r) for r in doctor], "cli_startup": startup, "tools": tools,
         "silent": silent_results, "rtt": rtt},
        indent=2))
    Path(args.out).write_text(render(m, doctor, startup, tools, silent_results, rtt, extra, args, total))
    print(f"bench: wrote {args.out} ({total:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
