"""The README's first command: the demo runs offline and tells the whole story."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smtp_doctor", "demo"], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "LANG": "C.UTF-8"}, check=False)


def test_demo_probes_every_lab_server(demo: subprocess.CompletedProcess[str]) -> None:
    r = demo
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    summary = r.stdout.split("Summary", 1)[1]
    rows = {line.split()[0]: line for line in summary.splitlines() if line.strip() and not line.startswith(" server")}
    assert "implicit TLS (SMTPS)" in rows["implicit"] and "LOGIN PLAIN" in rows["implicit"]
    assert "critical" in rows["plain"] and "not sent (unsafe)" in rows["plain"]
    assert "error" in rows["expired"] and "CRAM-MD5" in rows["auth-cram-md5"]


def test_demo_ends_with_the_seed_config_fixed(demo: subprocess.CompletedProcess[str]) -> None:
    story = demo.stdout.split("ActionMailer trap", 1)[1]
    assert "1. It will fail: The client started TLS immediately" in story
    assert "-    tls: 587" in story and "+    enable_starttls: true," in story
    assert "it will deliver" in story
