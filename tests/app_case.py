"""One new app configuration against the lab, through matrix 3's machinery: written with its --env file, then
``check --json`` and ``fix --write`` on it, with no password in any output. Shared by the tests that prove a
kind of fix with the real framework (test_refused_values, test_env_load_first, test_trim_secret)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import test_check_matrix3 as m3
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo


def write_case(cell: dict[str, Any], lab: LabInfo, app: Path, other: str, monkeypatch: pytest.MonkeyPatch,
               locks: dict[str, Any] | None = None, stores: dict[str, str] | None = None
               ) -> tuple[Path, dict[str, str], Path]:
    """The app folder (skipped when its runner is not installed), its environment (``stores``' placeholders
    filled in: Spring's trust stores) and that environment as a --env file: (config, environment, env file)."""
    if (why := m3._available(cell["runner"])) is not None:
        pytest.skip(why)
    for var in m3.TRUST_ENV:
        monkeypatch.delenv(var, raising=False)  # the app's environment is the case's, given with --env
    config, env = m3._write_app(cell, cell["runner"], lab, app, other, locks)
    for placeholder, value in (stores or {}).items():
        env = {k: v.replace(placeholder, value) for k, v in env.items()}
    envfile = app.parent / f"{app.name}.env"
    envfile.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return config, env, envfile


def check_entry(config: Path, envfile: Path, lab: LabInfo) -> tuple[int, dict[str, Any], str]:
    """``check --json``: (exit code, the config's entry, the output)."""
    done = CliRunner().invoke(cli, ["--lang", "en", "check", str(config), "--json", "--timeout", "10",
                                    "--env", str(envfile)])
    assert lab.password not in done.output
    return done.exit_code, json.loads(done.output)["configs"][0], done.output


def fix_write(config: Path, envfile: Path, lab: LabInfo, *extra: str) -> tuple[int, str]:
    """``fix --write``: (exit code, the output); the password is not in the output, and the fix wrote it nowhere
    the file did not already hold it."""
    held = config.read_text().count(lab.password)
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--timeout", "10",
                                    "--env", str(envfile), *extra])
    assert lab.password not in done.output and config.read_text().count(lab.password) == held
    return done.exit_code, done.output


@dataclass
class Run:
    """A case written, checked, and sent by the real framework: what a test asserts on."""

    config: Path
    env: dict[str, str]
    envfile: Path
    code: int  #: check's exit code
    entry: dict[str, Any]  #: check's JSON entry for the config
    output: str
    real: str  #: the runner's DELIVERED / ERROR … / TIMEOUT
    subject: str  #: the subject the real send used (test_check_real._delivered finds it in the lab's mailbox)


def check_and_run(cell: dict[str, Any], lab: LabInfo, app: Path, other: str, monkeypatch: pytest.MonkeyPatch,
                  tag: str) -> Run:
    """write_case, check_entry, then the real framework (``cell["runner"]``) on the app as it is."""
    config, env, envfile = write_case(cell, lab, app, other, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    subject = f"{tag}-{uuid.uuid4()}"
    return Run(config, env, envfile, code, entry, output, m3._real(cell["runner"], app, config, env, subject), subject)
