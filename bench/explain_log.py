"""`explain --log` throughput: scan generated 100 MB logs with the real CLI, report time and peak memory.

Contract (bench/run.sh hook): makes its own input under bench/out/, stays within about a minute, prints the
body of section 4 of docs/benchmarks.md as Markdown on stdout.

Two logs of 100 MiB each, Rails production.log-shaped:
- "typical": 1 % of lines are SMTP/TLS failures (five kinds, repeated), the rest ordinary request lines,
  some of which mention mail ("Delivered mail …") so they pass the cheap prefilter and must be classified.
- "storm": 25 % failure lines, with a unique id in each, the worst case for the classification cache.
Each is scanned by `smtp-doctor explain --log FILE --json` in a child process; wall time from
time.perf_counter, peak RSS of that child from os.wait4 (ru_maxrss, KiB on Linux). Best of three runs.
"""

from __future__ import annotations

import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CLI = ROOT / ".venv" / "bin" / "smtp-doctor"
SIZE = 100 * 1024 * 1024
RUNS = 3

NORMAL = [
    'I, [{ts} #{pid}]  INFO -- : [{rid}] Started GET "/api/v1/timelines/home?limit={n}" for 10.0.{a}.{b} at {ts}',
    "I, [{ts} #{pid}]  INFO -- : [{rid}] Completed 200 OK in {n}ms (Views: 0.{a}ms | ActiveRecord: {b}.1ms)",
    'D, [{ts} #{pid}] DEBUG -- : [{rid}]   Account Load ({a}.{b}ms)  SELECT "accounts".* FROM "accounts" '
    'WHERE "accounts"."id" = {n} LIMIT 1',
    "I, [{ts} #{pid}]  INFO -- : [{rid}] Delivered mail {rid}@app.example.com ({n}.{a}ms)",
    "I, [{ts} #{pid}]  INFO -- : [{rid}] Rendered notification_mailer/mention.text.erb (Duration: {a}.{b}ms)",
]
FAILURES = [
    "E, [{ts} #{pid}] ERROR -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [{rid}] Error performing "
    "ActionMailer::MailDeliveryJob (Job ID: {rid}) in 5004.{a}ms: Net::ReadTimeout (Net::ReadTimeout with "
    "#<TCPSocket:(closed)>)",
    "E, [{ts} #{pid}] ERROR -- : [{rid}] OpenSSL::SSL::SSLError (SSL_connect returned=1 errno=0 "
    "peeraddr=203.0.113.7:587 state=error: wrong version number)",
    "E, [{ts} #{pid}] ERROR -- : [{rid}] Net::SMTPAuthenticationError (535-5.7.8 Username and Password not "
    "accepted. Learn more at)",
    "E, [{ts} #{pid}] ERROR -- : [{rid}] OpenSSL::SSL::SSLError (SSL_connect returned=1 errno=0 "
    "peeraddr=198.51.100.4:465 state=error: certificate verify failed (unable to get local issuer certificate))",
    "E, [{ts} #{pid}] ERROR -- : [{rid}] Errno::ECONNREFUSED (Connection refused - connect(2) for "
    "\"mail.internal\" port 25)",
]


def make_log(path: Path, failure_rate: float, seed: int) -> None:
    if path.exists() and path.stat().st_size >= SIZE:
        return
    rnd = random.Random(seed)
    written = 0
    i = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < SIZE:
            batch = []
            for _ in range(2000):
                i += 1
                ctx = {"ts": f"2024-05-{1 + (i // 86400) % 28:02d}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:"
                             f"{i % 60:02d}.{i % 1000000:06d}",
                       "pid": 100 + i % 17, "rid": f"{rnd.getrandbits(32):08x}-{i:012x}", "n": i % 997,
                       "a": i % 9, "b": i % 251}
                pool = FAILURES if rnd.random() < failure_rate else NORMAL
                batch.append(rnd.choice(pool).format(**ctx))
            text = "\n".join(batch) + "\n"
            fh.write(text)
            written += len(text.encode())


def run_once(path: Path) -> tuple[float, int, dict[str, Any], float]:
    """One child process: wall time, its own peak RSS (wait4 rusage, KiB), its JSON report, and its CPU time
    (user + system): on a shared, loaded machine the CPU time is what the scan itself costs."""
    result = OUT / "explain_log_result.json"
    with result.open("wb") as out, open(os.devnull, "wb") as null:
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child: become the CLI
            os.dup2(out.fileno(), 1)
            os.dup2(null.fileno(), 2)
            os.execv(str(CLI), [str(CLI), "explain", "--log", str(path), "--json"])
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"explain --log failed with status {status}")
    return elapsed, int(usage.ru_maxrss), json.loads(result.read_text()), usage.ru_utime + usage.ru_stime


def corpus_figures() -> None:
    """explain's accuracy on real client output (tests/corpus/explain): the same computation as
    tests/test_explain_corpus.py, printed next to the speed so neither is reported without the other."""
    sys.path.insert(0, str(ROOT / "tests"))
    from corpus.explain.score import score

    print("\n`smtp-doctor explain` on real client output (tests/corpus/explain; right = the true failure mode as "
          "the answer, with the printing client's fix lines; tests/corpus/explain/score.py):\n")
    print("| part | right | texts | share | clients | scenarios |")
    print("|---|---:|---:|---:|---:|---:|")
    for part in ("dev", "held_out", "second", "third_dev", "third_held_out", "fourth_dev", "fourth_held_out"):
        s = score(part)
        print(f"| {part} | {s.right} | {s.cases} | {s.ratio:.1%} | {len(s.clients)} | {len(s.scenarios)} |")
    print("\nThe held-out figure of issue 11 is fourth_held_out: corpus 4 (1,901 runs of 20 client families against "
          "real Postfix, Exim and Dovecot and the lab, 26 scenarios), split once by (scenario, client) before it "
          "was scored: 726/785 (92.5 %) untouched, then measured once after tuning on its dev half only: 752/785 "
          "(95.8 %; 745/785 = 94.9 % with corpus 3's id normaliser). Corpora 1-3 were read while tuning since "
          "their own first held-out figures (82.6 %, 81.0 %, 92.3 %) and are development data now "
          "(docs/explain.md).")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, rate, seed in (("typical", 0.01, 1), ("storm", 0.25, 2)):
        path = OUT / f"explain_{name}_100mb.log"
        make_log(path, rate, seed)
        best = None
        for _ in range(RUNS):
            elapsed, kib, doc, cpu = run_once(path)
            if best is None or elapsed < best[0]:
                best = (elapsed, kib, doc, cpu)
        assert best is not None
        elapsed, kib, doc, cpu = best
        mib = path.stat().st_size / 2**20
        rows.append((name, rate, mib, doc["lines"], doc["failures"], len(doc["groups"]), elapsed, mib / elapsed,
                     kib / 1024, cpu, mib / cpu))
    print("`smtp-doctor explain --log FILE --json` on generated Rails production.log files "
          "(bench/explain_log.py; best of three runs; peak RSS of the child process from `wait4`).\n")
    print("| log | failure lines | size | lines | failures found | groups | wall time | throughput | CPU time | "
          "throughput per CPU second | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rate, mib, lines, failures, groups, elapsed, speed, rss, cpu, cpu_speed in rows:
        print(f"| {name} | {rate:.0%} | {mib:.0f} MiB | {lines:,} | {failures:,} | {groups} | {elapsed:.2f} s | "
              f"{speed:.0f} MiB/s | {cpu:.2f} s | {cpu_speed:.0f} MiB/s | {rss:.0f} MiB |")
    print(f"\nLoad average during the run: {os.getloadavg()[0]:.1f} (wall time counts other processes' load; "
          "CPU time does not). Both include the CLI's start-up.")
    goals = {"typical": 100, "storm": 50}  # MiB/s, issue 11
    print("Targets (issue 11): " + "; ".join(
        f"{row[0]} ≥ {goals[row[0]]} MiB/s: {'met' if row[10] >= goals[row[0]] else 'NOT met'} per CPU second "
        f"({row[10]:.0f}), {'met' if row[7] >= goals[row[0]] else 'not met'} in wall time ({row[7]:.0f})"
        for row in rows) + ".")
    corpus_figures()
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}. Memory stays flat: the file is read in 1 MiB blocks and only "
          "lines containing a prefilter needle are decoded; peak RSS is the interpreter plus one block.")


if __name__ == "__main__":
    main()
