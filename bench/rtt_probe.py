"""The client side of the latency run: probe the lab across the delayed link, phase by phase.

Runs inside the client namespace. Measures the round-trip time the link really has (bare TCP
connects: SYN → SYN/ACK is one RTT), then probes the STARTTLS and the implicit-TLS server with the
library and splits each STARTTLS probe into phases using the transcript's own timestamps.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any

import smtp_doctor
from smtp_doctor.probe import ProbeOptions
from smtp_doctor.smtp.dialogue import Direction, TranscriptLine


def tcp_connect_seconds(host: str, port: int) -> float:
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=10):
        return time.monotonic() - start


def _reply_end(lines: list[TranscriptLine], i: int) -> float | None:
    """Time of the last server line in the run of server lines after index ``i``."""
    end = None
    for line in lines[i + 1:]:
        if line.direction is Direction.SERVER:
            end = line.elapsed
        elif end is not None or line.direction is Direction.CLIENT:
            break
    return end


def starttls_phases(lines: list[TranscriptLine]) -> dict[str, float]:
    """Durations of each step of a STARTTLS dialogue, from the transcript's timestamps."""
    out: dict[str, float] = {}
    first_server = next(ln for ln in lines if ln.direction is Direction.SERVER)
    out["greeting"] = first_server.elapsed - lines[0].elapsed
    ehlo_count = 0
    starttls_reply_at = tls_at = None
    for i, ln in enumerate(lines):
        if ln.direction is Direction.CLIENT:
            end = _reply_end(lines, i)
            if end is None:
                continue
            word = ln.text.split(" ", 1)[0].upper()
            if word == "EHLO":
                ehlo_count += 1
                out["ehlo_plain" if ehlo_count == 1 else "ehlo_tls"] = end - ln.elapsed
                if ehlo_count == 2 and tls_at is not None:
                    out["verify_local"] = ln.elapsed - tls_at
            elif word == "STARTTLS":
                out["starttls"] = end - ln.elapsed
                starttls_reply_at = end
            elif word == "QUIT":
                out["quit"] = end - ln.elapsed
        elif (ln.direction is Direction.NOTE and ln.text == "TLS established"
              and starttls_reply_at is not None):
            tls_at = ln.elapsed
            out["tls_handshake"] = tls_at - starttls_reply_at
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", required=True)
    ap.add_argument("--starttls", type=int, required=True)
    ap.add_argument("--implicit", type=int, required=True)
    ap.add_argument("--ca-file", required=True)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    opts = ProbeOptions(timeout=30, ca_file=args.ca_file, servername="localhost",
                        ehlo_name="bench.smtp-doctor.test")
    result: dict[str, Any] = {"tcp_connect": [], "starttls": [], "implicit": []}
    for _ in range(args.runs):
        result["tcp_connect"].append(tcp_connect_seconds(args.host, args.starttls))
    for _ in range(args.runs):
        for name, port in (("starttls", args.starttls), ("implicit", args.implicit)):
            start = time.monotonic()
            report = smtp_doctor.probe(args.host, [port], opts)
            wall = time.monotonic() - start
            f = report.ports[0].facts
            run: dict[str, Any] = {"mode": str(f.mode), "detect": f.detect_seconds, "total": f.total_seconds,
                                   "wall": wall, "tls": f.tls.version if f.tls else None,
                                   "verified": bool(f.tls and any(v.ok for v in f.tls.verifications))}
            if name == "starttls" and f.transcript:
                run["phases"] = starttls_phases(f.transcript)
            result[name].append(run)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
