"""Run the lab's well-behaved servers on one address (inside a network namespace) for the RTT run.

``smtp-doctor lab`` binds 127.0.0.1 only; the latency run needs the servers on the namespace's own
address, so this starts the same ``Lab`` there, prints its ports as one JSON line, and stops after
``--duration`` seconds or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
from pathlib import Path

from smtp_doctor.lab import Lab


async def serve(host: str, duration: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with Lab(Path(tempfile.mkdtemp(prefix="smtp-doctor-bench-lab-")), host, with_hostile=False) as info:
        print(json.dumps({"host": info.host, "ca_file": str(info.ca_file),
                          "servers": {n: s.port for n, s in info.servers.items()}}), flush=True)
        try:
            async with asyncio.timeout(duration):
                await stop.wait()
        except TimeoutError:
            pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", required=True)
    ap.add_argument("--duration", type=float, default=120.0)
    args = ap.parse_args()
    asyncio.run(serve(args.host, args.duration))
    return 0


if __name__ == "__main__":
    sys.exit(main())
