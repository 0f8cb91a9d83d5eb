"""``scan --mx`` against a real DNS server on 127.0.0.1 (answers built with dnspython, over UDP).

A domain's MX hosts become the targets in preference order; no MX record means the domain itself (RFC 5321
§5.1); a null MX (RFC 7505) and a name that does not exist each get one record and are not probed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

dns_message = pytest.importorskip("dns.message")
import dns.rcode  # noqa: E402
import dns.rrset  # noqa: E402

from smtp_doctor.scan.mx import _lookup, resolver  # noqa: E402

ZONE = {"example.test.": ["20 mx2.example.test.", "10 mx1.example.test."], "null.test.": ["0 ."],
        "noanswer.test.": []}


@pytest.fixture(scope="module")
def nameserver() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()
    queries: list[str] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns_message.from_wire(data)
            name = query.question[0].name.to_text()
            queries.append(name)
            reply = dns_message.make_response(query)
            if name not in ZONE:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif ZONE[name]:
                reply.answer.append(dns.rrset.from_text(name, 300, "IN", "MX", *ZONE[name]))
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(5)
    sock.close()
    assert queries, "the resolver never asked our server"


def test_mx_lines_become_their_mail_hosts(nameserver: str, tmp_path: Path) -> None:
    targets, out = tmp_path / "domains.txt", tmp_path / "scan.jsonl"
    targets.write_text("example.test\nnull.test\nnx.test\nnoanswer.test\n127.0.0.1:1\n")
    argv = [sys.executable, "-m", "smtp_doctor", "scan", str(targets), "-o", str(out), "--mx", "--quick", "-q",
            "--nameserver", nameserver, "--timeout", "3"]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert run.returncode in (1, 3) and "Traceback" not in run.stderr, run.stderr
    records = {r["target"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"mx1.example.test:25", "mx2.example.test:25", "null.test", "nx.test",
                            "noanswer.test:25", "127.0.0.1:1"}
    assert records["mx1.example.test:25"]["input"] == "example.test"
    assert records["null.test"]["error"]["class"] == "null_mx" and records["null.test"]["facts"] is None
    assert records["nx.test"]["error"]["class"] == "no_mx"
    assert records["127.0.0.1:1"]["error"]["class"] == "refused"  # a line with a port is a host, not a domain
    for mx in ("mx1.example.test:25", "mx2.example.test:25"):  # probed; their names do not resolve here
        assert records[mx]["status"] == "unreachable" and records[mx]["error"]["class"].startswith("dns_")
    res = resolver(nameserver)
    assert _lookup(res, "example.test") == (["mx1.example.test", "mx2.example.test"], None)  # preference order
    assert _lookup(res, "noanswer.test") == (["noanswer.test"], None)
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)  # resumed: nothing new
    assert len(out.read_text().splitlines()) == len(records), again.stderr
