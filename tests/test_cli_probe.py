"""The probe command as a user runs it: a real subprocess, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from smtp_doctor.lab import LabInfo

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "probe.schema.json").read_text())


def run(*args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LANG": "ja_JP.UTF-8" if lang == "ja" else "C.UTF-8", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "smtp_doctor", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_good_server_exits_0_and_says_how_to_configure(lab: LabInfo) -> None:
    srv = lab.servers["implicit"]
    r = run("probe", srv.address, "--ca-file", str(lab.ca_file))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "implicit TLS (SMTPS)" in r.stdout
    assert f"Use implicit TLS on port {srv.port}" in r.stdout
    assert f"openssl s_client -connect {srv.address}" in r.stdout


def test_problem_server_exits_1(lab: LabInfo) -> None:
    r = run("probe", lab.servers["expired"].address, "--ca-file", str(lab.ca_file))
    assert r.returncode == 1
    assert "Certificate expired on 2021-01-01" in r.stdout


def test_unreachable_exits_3() -> None:
    r = run("probe", f"127.0.0.1:{free_port()}", "--timeout", "5")
    assert r.returncode == 3
    assert "connection refused" in r.stdout


@pytest.mark.parametrize("args", [
    ("probe", "127.0.0.1:99999"), ("probe", "127.0.0.1:abc"), ("probe", "a b"), ("probe", ":25"),
    ("probe", "127.0.0.1", "--ports", "25,x"), ("probe", "127.0.0.1", "--ca-file", "/nonexistent/ca.pem"),
    ("probe",), ("probe", "127.0.0.1", "--timeout", "0"),
])
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...]) -> None:
    r = run(*args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert len([line for line in r.stderr.splitlines() if line.strip()]) <= 4


def test_json_validates_against_the_documented_schema(lab: LabInfo) -> None:
    ports = ",".join(str(lab.servers[n].port) for n in ("starttls", "implicit", "plain"))
    r = run("probe", "127.0.0.1", "--ports", ports, "--ca-file", str(lab.ca_file), "--json", "--transcript")
    assert r.returncode == 1  # the plaintext server offers AUTH in clear
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, SCHEMA)
    modes = {p["port"]: p["mode"] for p in doc["ports"]}
    assert modes == {lab.servers["starttls"].port: "starttls", lab.servers["implicit"].port: "implicit_tls",
                     lab.servers["plain"].port: "plaintext"}


def test_several_hosts_give_json_lines(lab: LabInfo) -> None:
    r = run("probe", lab.servers["starttls"].address, f"localhost:{lab.servers['implicit'].port}", "--json",
            "--ca-file", str(lab.ca_file))
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["host"] for o in objs] == ["127.0.0.1", "localhost"]
    for o in objs:
        jsonschema.validate(o, SCHEMA)


def test_japanese_output(lab: LabInfo) -> None:
    r = run("probe", lab.servers["starttls"].address, "--ca-file", str(lab.ca_file), lang="ja")
    assert "平文 SMTP で STARTTLS を提供しています" in r.stdout
    r = run("--lang", "ja", "probe", "127.0.0.1:99999")
    assert "ポート" in r.stderr and r.returncode == 2


def test_transcript_marks_directions(lab: LabInfo) -> None:
    r = run("probe", lab.servers["starttls"].address, "--transcript")
    assert "C: EHLO" in r.stdout and "S: 220 " in r.stdout and "C: STARTTLS" in r.stdout


def test_lab_command_runs_and_stops(tmp_path: Path) -> None:
    r = run("lab", "--json", "--duration", "0.5", "--dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert Path(info["ca_file"]).is_file() and info["servers"]["starttls"] > 0
