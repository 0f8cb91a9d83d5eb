"""CLI start-up: `smtp-doctor --help`, `explain "<one line>"` and `lint FILE` against `python -c pass`.

Why: explain and lint are pure computation, often run from pre-commit hooks; most of what a user waits for
is interpreter start and imports. Every command runs once per round in each mode, the order rotating each
round (interleaved, so a busy neighbour slows all rows alike); the table gives medians and the ratio to
`python -c pass` from the same run. Modes: "shared" (an ordinary process: on a busy machine it also waits
for a core) and, where permitted (root), "own core" (SCHED_FIFO via `chrt`: what the command itself costs).
`python -X importtime` then runs each command once: how many modules it loads, the heaviest imports, and
whether the heavy stacks (asyncio, ssl, cryptography, pyOpenSSL, tree-sitter, rich) were loaded at all.

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


Times = dict[str, dict[str, list[float]]]  #: mode → row → seconds


def modes() -> dict[str, list[str]]:
    """How each row is started: as any process ("shared": it waits for a core like everything else on the
    machine), and, where permitted (root), under SCHED_FIFO ("own core": `chrt -f 20`, it never waits
    behind another process), which is what the command itself costs."""
    found: dict[str, list[str]] = {"shared": []}
    try:
        if subprocess.run(["chrt", "-f", "20", "true"], capture_output=True, timeout=10).returncode == 0:
            found["own core"] = ["chrt", "-f", "20"]
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def measure(rounds: int, how: dict[str, list[str]]) -> tuple[Times, Times]:
    """Wall and CPU (user + system) time of each row in each mode; each round runs every (row, mode) once,
    starting one further along (interleaved: a busy neighbour slows all rows alike)."""
    pairs = [(m, n) for n in CASES for m in how]
    wall: Times = {m: {n: [] for n in CASES} for m in how}
    cpu: Times = {m: {n: [] for n in CASES} for m in how}
    env = _env()
    for _, n in pairs:  # warm the page cache, the .pyc files and the data cache: not counted
        subprocess.run(_argv(CASES[n]), capture_output=True, env=env, cwd=ROOT, timeout=60, check=False)
    for r in range(rounds):
        for i in range(len(pairs)):
            mode, name = pairs[(r + i) % len(pairs)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(how[mode] + _argv(CASES[name]), capture_output=True, env=env, cwd=ROOT, timeout=60,
                           check=False)
            wall[mode][name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[mode][name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def verdicts(wall: Times) -> dict[str, dict[str, bool]]:
    """mode → target row → met (median ≤ LIMIT_MS and ≤ LIMIT_RATIO × `python -c pass`)."""
    out: dict[str, dict[str, bool]] = {}
    for mode, rows in wall.items():
        base = statistics.median(rows["python -c pass"])
        out[mode] = {n: statistics.median(rows[n]) * 1000 <= LIMIT_MS
                     and statistics.median(rows[n]) / base <= LIMIT_RATIO for n in TARGETS}
    return out


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


def markdown(wall: Times, cpu: Times, imports: dict[str, dict[str, object]], rounds: int) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    met = verdicts(wall)
    out = [BEGIN, "## 5. CLI start-up", "",
           f"`python bench/startup.py` on {platform.python_implementation()} {platform.python_version()}, "
           f"{os.cpu_count()} CPUs, load average at the end {load}: {rounds} interleaved rounds (each round runs "
           "every row in every mode once, the order rotating); wall time of the whole process, median, and its "
           "ratio to `python -c pass` from the same run. *Shared*: started like any process, so on a busy "
           "machine it also waits for a core; *own core*: started under SCHED_FIFO (`chrt -f 20`), so it never "
           "waits behind another process — what the command itself costs. CPU is user + system time (median). "
           f"Target for `--help` and `explain`: ≤ {LIMIT_MS:.0f} ms and ≤ {LIMIT_RATIO:.0f}×. Modules and heavy "
           "stacks are from one `python -X importtime -m smtp_doctor …` run per row.", ""]
    head = "| command |" + "".join(f" {m}: median | {m}: × `python -c pass` |" for m in wall)
    out += [head + " CPU | modules | heavy stacks loaded | target |",
            "|---|" + "---:|---:|" * len(wall) + "---:|---:|---|---|"]
    for name in CASES:
        info = imports[name]
        heavy = ", ".join(str(h) for h in info["heavy"]) or "none"  # type: ignore[attr-defined]
        cells = ""
        for rows in wall.values():
            med, base = statistics.median(rows[name]), statistics.median(rows["python -c pass"])
            cells += f" {med * 1000:.0f} ms | {med / base:.1f}× |"
        mode0 = list(wall)[-1]  # CPU: from the uncontended mode when there is one
        target = "; ".join(f"{m}: {'met' if met[m][name] else '**missed**'}" for m in wall) if name in TARGETS else ""
        out.append(f"| `{name}` |{cells} {statistics.median(cpu[mode0][name]) * 1000:.0f} ms | {info['modules']} | "
                   f"{heavy} | {target} |")
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
    wall, cpu = measure(args.rounds, modes())
    imports = {name: importtime(argv) for name, argv in CASES.items()}
    section = markdown(wall, cpu, imports, args.rounds)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "startup.json").write_text(json.dumps({"wall": wall, "cpu": cpu, "imports": imports},
                                                                        indent=2))
    print(section)
    if not args.no_write:
        write_section(Path(args.out), section)
    missed = [(m, n) for m, rows in verdicts(wall).items() for n, ok in rows.items() if not ok]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
