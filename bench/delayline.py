"""A userspace delay line between two network namespaces, for kernels without ``sch_netem``.

Two TUN devices, one moved into each namespace as a point-to-point link, are joined by this
process, which holds every IP packet ``--delay-ms`` before passing it on. The latency therefore
sits on the packet path exactly as netem's would (the TCP handshake, TLS records and SMTP lines
all pay it), with no jitter, loss or rate limit. Run as root; stops on SIGTERM/SIGINT, and the
TUN devices disappear with the process.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MTU = 1500


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def forward(src: int, dst: int, delay: float, stop: threading.Event, counter: list[int]) -> None:
    """Read packets from ``src``; write each to ``dst`` once it is ``delay`` seconds old (FIFO)."""
    queue: deque[tuple[float, bytes]] = deque()
    while not stop.is_set():
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            os.write(dst, queue.popleft()[1])
            counter[0] += 1
        wait = 0.2 if not queue else max(0.0, queue[0][0] - now)
        ready, _, _ = select.select([src], [], [], wait)
        if ready:
            try:
                packet = os.read(src, 65535)
            except OSError:
                return
            queue.append((time.monotonic() + delay, packet))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--delay-ms", type=float, required=True, help="one-way delay, each direction")
    ap.add_argument("--ns-a", required=True)
    ap.add_argument("--ns-b", required=True)
    ap.add_argument("--addr-a", required=True)
    ap.add_argument("--addr-b", required=True)
    args = ap.parse_args()
    names = ("sdbench-a", "sdbench-b")
    fds = [open_tun(n) for n in names]
    for name, ns, mine, peer in ((names[0], args.ns_a, args.addr_a, args.addr_b),
                                 (names[1], args.ns_b, args.addr_b, args.addr_a)):
        ip("link", "set", name, "netns", ns)
        ip("-n", ns, "link", "set", name, "mtu", str(MTU), "up")
        ip("-n", ns, "addr", "add", mine, "peer", peer, "dev", name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    counts = [[0], [0]]
    delay = args.delay_ms / 1000
    threads = [threading.Thread(target=forward, args=(fds[0], fds[1], delay, stop, counts[0]), daemon=True),
               threading.Thread(target=forward, args=(fds[1], fds[0], delay, stop, counts[1]), daemon=True)]
    for th in threads:
        th.start()
    print("ready", flush=True)
    while not stop.is_set():
        stop.wait(0.5)
    for th in threads:
        th.join(2)
    print(f"forwarded a->b {counts[0][0]} b->a {counts[1][0]} packets", file=sys.stderr, flush=True)
    for fd in fds:
        os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
