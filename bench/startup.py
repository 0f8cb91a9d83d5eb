"""CLI start-up: `smtp-doctor --help`, `explain "<one line>"` and `lint FILE` against `python -c pass`.

Why: explain and lint are pure computation, often run from pre-commit hooks; most of what a user waits for
is interpreter start and imports. Every command runs once per round, the order rotating each round
(interleaved, so a busy neighbour slows all rows alike); the table gives medians and the ratio to
`python -c pass` from the same run. `python -X importtime` then runs each command once: how many modules
it loads, the heaviest imports, and whether the heavy stacks (asyncio, ssl, cryptography, pyOpenSSL,
tree-sitter, rich) were loaded at all.

Writes bench/out/startup.json and the section between the markers in docs/benchmarks.md (bench.py
regenerates that file whole; bench/run.sh runs this after it). `--check` exits 1 when a target is missed
(--help and explain: median ≤ 150 ms and ≤ 10× `python -c pass`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SMTP_DOCTOR = str(BIN / "smtp-doctor")
EXPLAIN_LINE = "SSL_connect returned=1 errno=0 peeraddr=127.0.0.1:587 state=error: wrong version number"
LINT_FILE = "tests/fixtures/configs/django/mysite/settings.py"
BEGIN, END = "<!-- startup:begin (bench/startup.py) -->", "<!-- startup:end -->"
HEAVY = ("asyncio", "ssl", "cryptography", "OpenSSL", "tree_sitter", "rich.console", "httpx", "dns", "re2")
LIMIT_MS, LIMIT_RATIO = 150.0, 10.0

#: row name → argv after the interpreter / console script (None: `python -c pass`)
CASES: dict[str, list[str] | None] = {
    "python -c pass": None,
    "smtp-doctor --help": ["--help"],
    'smtp-doctor explain "…"': ["explain", EXPLAIN_LINE],
    f"smtp-doctor lint {LINT_FILE}": ["lint", LINT_FILE],
}
TARGETS = ("smtp-doctor --help", 'smtp-doctor explain "…"')


def _env() -> dict[str, str]:
    env = dict(os.environ, LANG="C.UTF-8", COLUMNS="100")
    for var in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE"):  # an installed package has its .pyc files
        env.pop(var, None)
    return env


def _argv(args: list[str] | None) -> list[str]:
    return [sys.executable, "-c", "pass"] if args is None else [SMTP_DOCTOR, *args]


def measure(rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU (user + system) time of each case, in seconds; each round runs every case once, starting
    one further along. CPU time is what the process itself did: on a busy machine wall time also holds the
    waits for a core."""
    names = list(CASES)
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    env = _env()
    for n in names:  # warm the page cache, the .pyc files and the data cache: not counted
        subprocess.run(_argv(CASES[n]), capture_output=True, env=env, cwd=ROOT, timeout=60, check=False)
    for r in range(rounds):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(_argv(CASES[name]), capture_output=True, env=env, cwd=ROOT, timeout=60, check=False)
            times[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times, cpu


def importtime(args: list[str] | None) -> dict[str, object]:
    """Modules loaded and the heaviest imports (cumulative µs) by `python -X importtime`."""
    argv = [sys.executable, "-X", "importtime"] + (["-c", "pass"] if args is None else ["-m", "smtp_doctor", *args])
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60, check=False)
    rows: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        rows.append((int(cumulative), name.strip()))
    names = {n for _, n in rows}
    top = sorted((r for r in rows if "." not in r[1] or r[1].startswith("smtp_doctor")), reverse=True)[:6]
    return {"modules": len(rows), "heavy": [h for h in HEAVY if h in names],
            "top": [{"module": n, "ms": round(us / 1000, 1)} for us, n in top]}


def markdown(times: dict[str, list[float]], cpu: dict[str, list[float]], imports: dict[str, dict[str, object]],
             rounds: int) -> str:
    base = statistics.median(times["python -c pass"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    out = [BEGIN, "## 5. CLI start-up", "",
           f"`python bench/startup.py` on {platform.python_implementation()} {platform.python_version()}, "
           f"{os.cpu_count()} CPUs (load average at the end {load}): {rounds} interleaved rounds (each round "
           "runs every row once, the order rotating), wall time of the whole process; medians, with the ratio to "
           "`python -c pass` measured in "
           f"the same run. Target for `--help` and `explain`: ≤ {LIMIT_MS:.0f} ms and ≤ {LIMIT_RATIO:.0f}×. "
           "CPU is user + system time of the process (median): what it did, whatever else ran on the machine. "
           "Modules and heavy stacks are from one `python -X importtime -m smtp_doctor …` run per row.", "",
           "| command | median | min – max | × `python -c pass` | CPU | modules | heavy stacks loaded | target |",
           "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, ts in times.items():
        med = statistics.median(ts)
        info = imports[name]
        heavy = ", ".join(str(h) for h in info["heavy"]) or "none"  # type: ignore[attr-defined]
        target = ("met" if med * 1000 <= LIMIT_MS and med / base <= LIMIT_RATIO else "**missed**") \
            if name in TARGETS else ""
        out.append(f"| `{name}` | {med * 1000:.0f} ms | {min(ts) * 1000:.0f} – {max(ts) * 1000:.0f} ms | "
                   f"{med / base:.1f}× | {statistics.median(cpu[name]) * 1000:.0f} ms | {info['modules']} | {heavy} | "
                   f"{target} |")
    out += ["", "Heaviest imports (cumulative, one `-X importtime` run; timings under `-X importtime` are "
            "inflated):", ""]
    for name, info in imports.items():
        if CASES[name] is None:
            continue
        top = ", ".join(f"{t['module']} {t['ms']} ms" for t in info["top"])  # type: ignore[attr-defined]
        out.append(f"- `{name}`: {top}")
    out += ["", END]
    return "\n".join(out)


def write_section(doc: Path, section: str) -> None:
    """Replace the section between the markers, or append it (the rest of the file is bench.py's)."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--no-write", action="store_true", help="print the section, leave docs/benchmarks.md alone")
    ap.add_argument("--check", action="store_true", help="exit 1 when --help or explain misses its target")
    args = ap.parse_args()
    times, cpu = measure(args.rounds)
    imports = {name: importtime(argv) for name, argv in CASES.items()}
    section = markdown(times, cpu, imports, args.rounds)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "startup.json").write_text(json.dumps({"times": times, "cpu": cpu, "imports": imports},
                                                                        indent=2))
    print(section)
    if not args.no_write:
        write_section(Path(args.out), section)
    base = statistics.median(times["python -c pass"])
    missed = [n for n in TARGETS if statistics.median(times[n]) * 1000 > LIMIT_MS
              or statistics.median(times[n]) / base > LIMIT_RATIO]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
