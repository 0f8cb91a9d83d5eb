"""A recognisable secret goes through every path that handles credentials; no output may contain it
in any form — plain, base64, base64 of the AUTH PLAIN blob — not the text, JSON, transcript, or errors."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_doctor.credentials import Credentials, Redactor, wire_forms
from smtp_doctor.lab import LabInfo

SECRET = "S3cr3t-Canary-4f9e2b7d"


def forms(user: str) -> set[str]:
    raw = SECRET.encode()
    out = {SECRET, base64.b64encode(raw).decode(), base64.b64encode(b"\0" + user.encode() + b"\0" + raw).decode(),
           base64.b64encode(user.encode() + b"\0" + raw).decode()}
    return out | {f.rstrip("=") for f in out}


def run(*args: str, env_extra: dict[str, str] | None = None) -> str:
    env = {**os.environ, "LANG": "C.UTF-8", "SD_SECRET": SECRET, **(env_extra or {})}
    r = subprocess.run([sys.executable, "-m", "smtp_doctor", *args], capture_output=True, text=True, timeout=90,
                       env=env, check=False)
    assert "Traceback" not in r.stderr
    return r.stdout + r.stderr


@pytest.mark.parametrize("server", ["starttls", "plain", "auth-login-only", "auth-cram-md5", "expired"])
@pytest.mark.parametrize("extra", [(), ("--json",), ("--transcript",), ("--json", "--transcript"),
                                   ("--allow-cleartext-credentials", "--allow-unverified-tls-credentials",
                                    "--transcript")])
def test_probe_never_prints_the_password(lab: LabInfo, server: str, extra: tuple[str, ...]) -> None:
    out = run("probe", lab.servers[server].address, "--ca-file", str(lab.ca_file), "--user", lab.user,
              "--password-env", "SD_SECRET", "--details", *extra)
    for form in forms(lab.user):
        assert form not in out, (server, extra, form)
    assert "AUTH" in out


def test_password_file_and_send_paths(lab: LabInfo, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    out = run("send", lab.servers["starttls"].address, "--from", "a@example.com", "--to", "b@example.net",
              "--ca-file", str(lab.ca_file), "--user", lab.user, "--password-file", str(pw), "--transcript")
    out += run("send", lab.servers["implicit"].address, "--from", "a@example.com", "--to", "b@example.net",
               "--ca-file", str(lab.ca_file), "--user", lab.user, "--password-file", str(pw), "--json")
    for form in forms(lab.user):
        assert form not in out


def test_xoauth2_token_is_masked(lab: LabInfo) -> None:
    out = run("probe", lab.servers["auth-xoauth2"].address, "--ca-file", str(lab.ca_file), "--user", lab.user,
              "--oauth-token-env", "SD_TOKEN", "--transcript", "--json", env_extra={"SD_TOKEN": lab.oauth_token})
    assert lab.oauth_token not in out
    blob = base64.b64encode(f"user={lab.user}\x01auth=Bearer {lab.oauth_token}\x01\x01".encode()).decode()
    assert blob not in out and '"ok"' in out


def test_the_password_is_not_a_command_line_argument() -> None:
    out = run("probe", "127.0.0.1:1", "--password", SECRET)
    assert "No such option" in out and SECRET not in out


def test_redactor_masks_every_wire_form() -> None:
    redact = Redactor([Credentials("alice", SECRET)])
    text = " | ".join(sorted(wire_forms("alice", SECRET)))
    assert SECRET not in redact(text)
    for form in forms("alice"):
        assert form not in redact(f"AUTH PLAIN {form}")
