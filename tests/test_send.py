"""`smtp-doctor send` end to end against the lab: the message lands in the lab's mailbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from smtp_doctor.lab import LabInfo


def send(lab: LabInfo, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LANG": "C.UTF-8"}
    if password is not None:
        env["SD_TEST_PW"] = password
    return subprocess.run([sys.executable, "-m", "smtp_doctor", "send", *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)


def test_send_delivers_after_login(lab: LabInfo) -> None:
    before = lab.mailbox.received
    srv = lab.servers["starttls"]
    r = send(lab, srv.address, "--from", "app@example.com", "--to", "ops@example.net", "--ca-file",
             str(lab.ca_file), "--user", lab.user, "--password-env", "SD_TEST_PW", "--json", password=lab.password)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["delivery"]["queued"] and doc["delivery"]["replies"]["data_end"]["code"] == 250
    assert lab.mailbox.received == before + 1
    envelope = lab.mailbox.messages[-1]
    assert envelope.mail_from == "app@example.com" and envelope.rcpt_tos == ["ops@example.net"]
    body = envelope.content.decode() if isinstance(envelope.content, bytes) else str(envelope.content)
    assert "Message-ID:" in body and "sent by smtp-doctor" in body


def test_dry_run_stops_before_data(lab: LabInfo) -> None:
    before = lab.mailbox.received
    srv = lab.servers["implicit"]
    r = send(lab, srv.address, "--from", "app@example.com", "--to", "a@example.net", "--to", "b@example.net",
             "--ca-file", str(lab.ca_file), "--user", lab.user, "--password-env", "SD_TEST_PW", "--dry-run",
             password=lab.password)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dry run" in r.stdout and lab.mailbox.received == before


def test_send_refuses_a_bad_address(lab: LabInfo) -> None:
    r = send(lab, lab.servers["starttls"].address, "--from", "not-an-address", "--to", "x@example.net")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_wrong_password_stops_with_a_verdict(lab: LabInfo) -> None:
    r = send(lab, lab.servers["implicit"].address, "--from", "a@example.com", "--to", "b@example.net",
             "--ca-file", str(lab.ca_file), "--user", lab.user, "--password-env", "SD_TEST_PW", password="nope")
    assert r.returncode == 1
    assert "wrong user name or password" in r.stdout


def test_unreachable_host_exits_3(lab: LabInfo) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = send(lab, f"127.0.0.1:{port}", "--from", "a@example.com", "--to", "b@example.net", "--timeout", "5")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "connection refused" in r.stdout
