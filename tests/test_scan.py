"""smtp-doctor scan against the lab farm: real listeners, real TLS on 127.0.0.1, known kinds per port.

Every verdict is checked against what the farm port really is; records validate against
docs/scan.schema.json; a scan interrupted with SIGINT resumes without probing a target twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from smtp_doctor.lab.farm import SLOW, FarmInfo, farm, nginx_available, nginx_farm
from smtp_doctor.probe import ProbeOptions, many
from smtp_doctor.probe.many import Politeness, Target, probe_many
from smtp_doctor.scan import Output, ScanConfig, scan
from smtp_doctor.scan.record import VOLATILE
from smtp_doctor.scan.targets import Exclusions, parse_line

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "scan.schema.json").read_text())
CLI = [sys.executable, "-m", "smtp_doctor"]
OPEN = ["--per-ip", "0", "--per-provider", "0", "--ip-rate", "0"]  # the farm is one address: no politeness caps
#: What each farm kind must be reported as: (mode, a finding id that must be there).
EXPECTED = {"starttls": ("starttls", "cert.trusted"), "starttls-expired": ("starttls", "cert.expired"),
            "plain": ("plaintext", "mode.plaintext"), "implicit": ("implicit_tls", "cert.trusted")}


@pytest.fixture(scope="module")
def lab_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FarmInfo]:
    with farm(tmp_path_factory.mktemp("farm"), 40) as info:
        yield info


def _lines(info: FarmInfo, names: int = 1) -> list[str]:
    return [f"t{n}-{i}.farm.test@127.0.0.1:{port}" for n in range(names) for i, (port, _) in enumerate(info.listeners)]


def _config(info: FarmInfo, quick: bool, **kw: object) -> ScanConfig:
    return ScanConfig(options=ProbeOptions(ca_file=str(info.ca_file), timeout=20.0), quick=quick,
                      politeness=Politeness(per_ip=0, per_provider=0, ip_rate=0),
                      implicit_ports=frozenset(info.ports("implicit")), **kw)  # type: ignore[arg-type]


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _kind(info: FarmInfo, rec: dict[str, object]) -> str:
    return dict(info.listeners)[int(str(rec["port"]))]


def test_target_lines() -> None:
    assert parse_line("mx.example.com", 25).target == Target("mx.example.com", 25)
    assert parse_line("MX.Example.com:587", 25).target == Target("mx.example.com", 587)
    assert parse_line("[::1]:2525", 25).target == Target("::1", 2525)
    assert parse_line("mx.example.com@192.0.2.7:465", 25).target == Target("mx.example.com", 465, "192.0.2.7")
    assert parse_line("mx.example.com@192.0.2.7:465", 25).target.key == "mx.example.com@192.0.2.7:465"  # type: ignore[union-attr]
    for bad, problem in (("mx.example.com:0", "bad_port"), ("a b", "bad_host"), ("x@notanip", "bad_host"),
                         ("host:99999", "bad_port"), ("-bad-.com", "bad_host")):
        assert parse_line(bad, 25).problem == problem, bad
    ex = Exclusions(["# opt-outs", ".example.org", "mx.example.net", "192.0.2.0/24"])
    assert ex.excluded(Target("mx1.example.org", 25)) and ex.excluded(Target("example.org", 25))
    assert ex.excluded(Target("mx.example.net", 25)) and ex.excluded(Target("x.test", 25, "192.0.2.9"))
    assert not ex.excluded(Target("mx.example.com", 25)) and not ex.excluded(Target("x.test", 25, "198.51.100.1"))


def test_probe_many_pulls_targets_only_as_workers_free_up(lab_farm: FarmInfo) -> None:
    """An endless target generator: consuming 30 results must pull about 30 + concurrency, not all."""
    pulled = 0
    port = lab_farm.ports("plain")[0]

    def endless() -> Iterator[Target]:
        nonlocal pulled
        while True:
            pulled += 1
            yield Target(f"t{pulled}.farm.test", port, "127.0.0.1")

    async def take(n: int) -> int:
        got = 0
        gen = probe_many(endless(), concurrency=5, politeness=Politeness(per_ip=0, ip_rate=0), quick=True)
        async for result in gen:
            assert result.facts is not None and result.facts.mode.value == "plaintext"
            got += 1
            if got == n:
                break
        await gen.aclose()
        return got

    assert asyncio.run(take(30)) == 30
    assert 30 <= pulled <= 30 + 5 + 5 + 1  # in flight + the bounded result queue


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_every_verdict_matches_the_farm_port(lab_farm: FarmInfo, tmp_path: Path, quick: bool) -> None:
    out = tmp_path / "scan.jsonl"
    lines = _lines(lab_farm, 3) + ["not a target!", "excluded.farm.test@127.0.0.1:1"]
    summary = scan(lines, Output(out), _config(lab_farm, quick, exclude=Exclusions(["excluded.farm.test"])))
    records = _records(out)
    assert summary.targets == len(records) == len(lines)
    by_status = {s: [r for r in records if r["status"] == s] for s in ("ok", "invalid", "excluded")}
    assert len(by_status["ok"]) == 120 and len(by_status["invalid"]) == 1 and len(by_status["excluded"]) == 1
    for rec in records:
        jsonschema.validate(rec, SCHEMA)
        if rec["status"] != "ok":
            continue
        mode, finding = EXPECTED[_kind(lab_farm, rec)]
        facts = rec["facts"]
        assert isinstance(facts, dict) and facts["mode"] == mode, rec
        assert finding in {f["id"] for f in rec["findings"]}, rec  # type: ignore[attr-defined]
        if mode != "plaintext":
            assert facts["tls"]["trusted"]["ca-file"] is (finding == "cert.trusted")
            assert facts["tls"]["hostname_ok"] is True
            assert (facts["tls"]["days_left"] < 0) is (finding == "cert.expired")
    assert summary.modes == {"starttls": 60, "plaintext": 30, "implicit_tls": 30}
    assert summary.cert_problems["cert.expired"] == 30 and summary.status["invalid"] == 1


def test_cli_interrupted_scan_resumes_without_repeating_work(lab_farm: FarmInfo, tmp_path: Path) -> None:
    targets, out = tmp_path / "targets.txt", tmp_path / "scan.jsonl"
    lines = ["not a target!"] + _lines(lab_farm, 60)  # 2400 targets and a bad line, recorded once too
    targets.write_text("\n".join(lines) + "\n")
    argv = CLI + ["scan", str(targets), "-o", str(out), "--quick", "--concurrency", "8", "--ca-file",
                  str(lab_farm.ca_file), "--implicit-ports", ",".join(map(str, lab_farm.ports("implicit"))), *OPEN]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,  # SIGINT as at a
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # terminal (see bench)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 300):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    first = out.read_text().count("\n")
    assert proc.returncode == 130 and "resume" in err and "Traceback" not in err, err
    assert 300 <= first < len(lines), "the interruption came too late to test resuming"
    with open(out, "a") as fh:  # a torn last line, as a power cut would leave
        fh.write('{"$schema":"https://smtp-doctor.invalid/sch')
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # the expired certificates are errors
    records = _records(out)
    keys = [str(r["target"]) for r in records]
    assert len(keys) == len(set(keys)) == len(lines)  # every target once: none lost, none repeated
    assert f"{len(lines)} targets ({len(lines) - first} new)" in done.stderr
    for rec in records[:: 97]:
        jsonschema.validate(rec, SCHEMA)


def test_cli_exit_codes_and_bad_input(lab_farm: FarmInfo, tmp_path: Path) -> None:
    good = [f"a{i}.farm.test@127.0.0.1:{p}" for i, p in enumerate(lab_farm.ports("starttls"))]
    args = ["--ca-file", str(lab_farm.ca_file), *OPEN, "--quick", "-q"]
    ok = subprocess.run(CLI + ["scan", "-", *args], input="\n".join(good), capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert [json.loads(x)["status"] for x in ok.stdout.splitlines()] == ["ok"] * len(good)
    expired = f"b.farm.test@127.0.0.1:{lab_farm.ports('starttls-expired')[0]}"
    bad = subprocess.run(CLI + ["scan", "-", *args], input=expired, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    closed = subprocess.run(CLI + ["scan", "-", *args], input="c.farm.test@127.0.0.1:1\n", capture_output=True,
                            text=True, timeout=60)
    assert closed.returncode == 3 and json.loads(closed.stdout)["error"]["class"] == "refused"
    for argv, needle in ((["scan", str(tmp_path / "missing.txt")], "missing.txt"),
                         (["scan", "-", "--ports", "25,x"], "25,x"),
                         (["scan", "-", "--scheduler", "tcp://127.0.0.1:1"], "--engine dask")):
        r = subprocess.run(CLI + argv, input="", capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def _normal(path: Path) -> list[dict[str, object]]:
    """Records without what legitimately differs between runs (time, duration, tries), in target order."""
    recs = [{k: v for k, v in r.items() if k not in VOLATILE} for r in _records(path)]
    for r in recs:
        for f in r["findings"]:  # type: ignore[attr-defined]
            f["params"].pop("seconds", None)
    return sorted(recs, key=lambda r: str(r["target"]))


@pytest.mark.timeout(300)
def test_local_processes_and_dask_give_the_same_records(lab_farm: FarmInfo, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")  # the scan-dask extra; in the test extra too
    lines = _lines(lab_farm, 10) + ["bad target!"]
    config = _config(lab_farm, quick=True)
    runs = {}
    runs["one"] = tmp_path / "one.jsonl"
    scan(lines, Output(runs["one"]), config)
    runs["local"] = tmp_path / "local.jsonl"
    scan(lines, Output(runs["local"]), config, workers=2, shard_size=50)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        runs["dask"] = tmp_path / "dask.jsonl"
        summary = scan(lines, Output(runs["dask"]), config, engine="dask", scheduler=cluster.scheduler_address,
                       shard_size=50)
    assert summary.targets == len(lines)
    reference = _normal(runs["one"])
    assert len(reference) == len(lines)
    assert _normal(runs["local"]) == reference
    assert _normal(runs["dask"]) == reference
    assert os.path.getsize(runs["dask"]) > 0


def _on_a_terminal(argv: list[str]) -> str:
    """Run with stderr on a pseudo-terminal (progress shows only there); everything it drew, as text."""
    from ptyrun import run_on_pty

    _, raw = run_on_pty(argv, stdout_on_pty=False, timeout=60)
    return raw.decode(errors="replace")


def test_progress_on_a_terminal_in_the_chosen_language(lab_farm: FarmInfo, tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text("\n".join(_lines(lab_farm, 20)) + "\n")
    base = CLI + ["--lang", "ja", "scan", str(targets), "--quick", "--implicit-ports",
                       ",".join(map(str, lab_farm.ports("implicit"))), "--ca-file", str(lab_farm.ca_file), *OPEN]
    shown = _on_a_terminal(base + ["-o", str(tmp_path / "a.jsonl")])
    assert "スキャン中" in shown and "件/秒" in shown and "800/800" in shown, shown[-500:]
    assert "targets/s" not in shown and "スキャン結果" in shown and "証明書の問題: cert.expired" in shown
    quiet = _on_a_terminal(base + ["-o", str(tmp_path / "b.jsonl"), "--quiet"])
    assert "スキャン中" not in quiet and "スキャン結果" not in quiet


def test_handshakes_queue_for_a_slot_without_a_wrong_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """900 probes in flight whose greetings (a greet-pause farm) all arrive together, one TLS slot for all
    of them: every probe still ends in a verified STARTTLS, none timed out."""
    monkeypatch.setattr(many, "TLS_SLOTS", 1)
    with farm(tmp_path / "slow", 10, kinds=(SLOW,), greet_delay=0.3) as info:
        targets = [Target(f"t{i}.farm.test", port, "127.0.0.1") for i in range(90) for port in info.ports(SLOW)]
        options = ProbeOptions(ca_file=str(info.ca_file), timeout=5.0)

        async def run() -> list[many.ProbeResult]:
            return [r async for r in probe_many(targets, concurrency=900, quick=True, options=options,
                                                politeness=Politeness(per_ip=0, per_provider=0, ip_rate=0))]

        started = time.monotonic()
        results = asyncio.run(run())
    assert time.monotonic() - started >= 0.3  # the greetings really were late
    assert len(results) == 900
    for r in results:
        assert r.error is None and r.facts is not None and r.facts.timed_out is None, r
        assert r.facts.mode.value == "starttls" and r.facts.tls is not None
        assert [v.ok for v in r.facts.tls.verifications][-1] is True  # the farm CA, given as --ca-file


def test_waiting_for_a_tls_slot_is_not_charged_to_the_probe() -> None:
    """A probe with a 0.2 s deadline that waits 0.4 s for a slot held elsewhere still has its 0.2 s after."""

    async def run() -> float:
        slots = asyncio.Semaphore(1)
        await slots.acquire()  # another probe's handshake
        asyncio.get_running_loop().call_later(0.4, slots.release)
        started = time.monotonic()
        async with asyncio.timeout(0.2) as deadline:
            async with many._Slot(slots, deadline):
                await asyncio.sleep(0.1)  # the handshake itself, within what is left of the deadline
        assert slots.locked() is False
        return time.monotonic() - started

    assert asyncio.run(run()) >= 0.5


def test_a_low_file_limit_delays_probes_instead_of_blaming_servers(lab_farm: FarmInfo, tmp_path: Path) -> None:
    """At 400 in flight under a 200-descriptor limit, our own EMFILE must not become "unreachable" servers:
    the scan keeps what fits in flight and every target still gets its real verdict."""
    import resource

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))

    targets, out = tmp_path / "targets.txt", tmp_path / "scan.jsonl"
    lines = [f"f{i}.farm.test@127.0.0.1:{port}" for i in range(40) for port in lab_farm.ports("starttls")]
    targets.write_text("\n".join(lines) + "\n")
    done = subprocess.run(CLI + ["scan", str(targets), "-o", str(out), "--quick", "-q", "--concurrency", "400",
                                 "--ca-file", str(lab_farm.ca_file), *OPEN],
                          capture_output=True, text=True, timeout=120, preexec_fn=low_limit)
    assert "Traceback" not in done.stderr, done.stderr
    records = _records(out)
    assert len(records) == len(lines) == 400
    assert {str(r["status"]) for r in records} == {"ok"}
    assert all(r["facts"]["tls"]["trusted"]["ca-file"] for r in records)  # type: ignore[index]


@pytest.mark.skipif(not nginx_available(), reason="nginx with its mail module is not installed "
                    "(scripts/install-system-deps.sh installs it)")
def test_the_nginx_farm_gives_the_same_verdicts(tmp_path: Path) -> None:
    """The benchmark's farm served by nginx's mail module: every port reported as what it is."""
    with nginx_farm(tmp_path / "nginx", 8, kinds=tuple(EXPECTED)) as info:
        out = tmp_path / "scan.jsonl"
        scan(_lines(info, 2), Output(out), _config(info, True))
        records = _records(out)
    assert len(records) == 16
    for rec in records:
        jsonschema.validate(rec, SCHEMA)
        mode, finding = EXPECTED[_kind(info, rec)]
        assert rec["status"] == "ok" and rec["facts"]["mode"] == mode, rec  # type: ignore[index]
        assert finding in {f["id"] for f in rec["findings"]}, rec  # type: ignore[attr-defined]
