"""How long `smtp-doctor demo`'s domain part adds: start the two-case domain lab, check both domains, stop it.

Run: ``.venv/bin/python bench/demo_domain.py [ROUNDS]``. Prints Markdown (median, min, max, load average) to
stdout. Each round is the library call the demo makes (lab/demo_domain.py run_domain_demo), one after another.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from smtp_doctor.findings import Severity
from smtp_doctor.lab.demo_domain import run_domain_demo
from smtp_doctor.lab.dns import binaries_missing


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    if missing := binaries_missing():
        print(f"not measured: the domain lab needs {', '.join(missing)}")
        return 0
    walls: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="smtp-doctor-bench-") as tmp:
            started = time.monotonic()
            result = asyncio.run(run_domain_demo(Path(tmp)))
            walls.append(time.monotonic() - started)
            codes = {d: sorted(f.id for f in r.findings if f.severity.rank > Severity.OK.rank)
                     for d, r in result.reports.items()}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"demo domain part, {rounds} rounds on {os.cpu_count()} CPUs (load average at the end {load}): "
          f"median {statistics.median(walls):.2f} s, min {min(walls):.2f} s, max {max(walls):.2f} s; "
          f"last findings {codes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
