"""The environment lines of a fix (SSL_CERT_FILE=…, NODE_EXTRA_CA_CERTS=…) are re-checked as the app would read
them before delivery is claimed (issue 12: never a claim it did not verify)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import test_check_matrix3 as m3
from app_case import write_case
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_laravel8 import _mail_php
from test_password_as_token import LARAVEL_ENV

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it


def test_an_environment_line_that_cannot_help_is_not_claimed(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """config/mail.php reads a stream cafile from the app's environment that names no file: PHP loads it instead of
    the default paths, so SSL_CERT_FILE changes nothing. fix may show that line, but re-checks with it and claims
    no delivery (it used to claim every environment line delivered; matrix 7a dev). (A cafile written in
    config/mail.php itself is replaced there: tests/test_laravel_stream_cafile.py.)"""
    stream = _mail_php(stream="\n            'stream' => ['ssl' => ['cafile' => env('SMTP_CA_BUNDLE')]],")
    cell = {"id": "stream_cafile_missing", "half": "dev", "runner": "laravel", "server": "implicit",
            "config": ".env", "env": {"SMTP_CA_BUNDLE": "@MISSING@"},
            "files": {".env": LARAVEL_ENV.replace("@SECRET@", "@PASSWORD@"), "config/mail.php": stream}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--json", "--timeout", "10",
                                    "--ca-file", str(lab.ca_file), "--env", str(envfile)])
    assert lab.password not in done.output
    doc = json.loads(done.output)["configs"][0]
    assert not doc["delivers"] and done.exit_code == 1, done.output
    lines = dict(line.split("=", 1) for line in doc["env"])
    real = m3._real("laravel", app, config, env | lines, f"stream-{uuid.uuid4()}")
    assert real != "DELIVERED", real

