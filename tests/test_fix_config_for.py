"""`fix` with the app's environment and on settings that live in config/<name>.yml (issue 12).

Real lab servers over real sockets and real TLS. The re-check after each change runs with the same --env as
the first check (so the app's login is tried again, with the app's password), and a Rails app whose
smtp_settings come from ``config_for(:smtp)`` gets its YAML patched in the section the app runs in — proven
with Debian's real ActionMailer where it is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from smtp_doctor.api import fix
from smtp_doctor.lab import LabInfo

CANARY = "canary-Pw-77ab-never-printed"


def _rails(root: Path, port: int, settings: str) -> Path:
    d = root / "config" / "environments"
    d.mkdir(parents=True)
    (d / "production.rb").write_text(
        "Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
        f"    address: '127.0.0.1',\n    port: {port},\n{settings}  }}\nend\n")
    return d / "production.rb"


def _login(lab: LabInfo) -> str:
    return (f"    user_name: '{lab.user}',\n    password: ENV['SMTP_PASSWORD'],\n    authentication: :plain,\n"
            f"    ca_file: '{lab.ca_file}',\n")


def _env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SMTP_PASSWORD", "RAILS_ENV")}
    return subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "fix", *args],
                          capture_output=True, text=True, timeout=180, env=env)


# -- the re-check runs with --env ----------------------------------------------------------------------------


def test_the_recheck_after_a_fix_logs_in_with_the_env_password(lab: LabInfo, tmp_path: Path) -> None:
    """tls: true on the STARTTLS port is fixed; the re-check must then log in with --env's password: a wrong
    one is the app's 535 (not "will deliver"), the right one is a delivery whose login the server accepted."""
    port = lab.servers["starttls"].port
    wrong = _rails(tmp_path / "wrong", port, "    tls: true,\n" + _login(lab))
    r = fix(wrong, env_file=_env(tmp_path / "wrong.env", SMTP_PASSWORD=CANARY), timeout=20).repairs[0]
    assert r.steps and r.steps[0].prediction.failure == "implicit_tls_on_plain_port"
    assert r.final.asked is not None and r.final.asked.login == "refused"
    assert r.final.prediction is not None and r.final.prediction.failure == "auth_bad_credentials"
    assert not r.delivers
    done = _cli(str(wrong), "--env", str(tmp_path / "wrong.env"), "--write")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "    tls: true," in wrong.read_text()  # nothing written: the fixed file would not deliver either
    assert CANARY not in done.stdout + done.stderr

    right = _rails(tmp_path / "right", port, "    tls: true,\n" + _login(lab))
    env = _env(tmp_path / "right.env", SMTP_PASSWORD=lab.password)
    r = fix(right, env_file=env, timeout=20).repairs[0]
    assert r.delivers and r.final.asked is not None and r.final.asked.login == "ok"
    done = _cli(str(right), "--env", str(env), "--write")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "    tls: true," not in right.read_text() and "enable_starttls: true" in right.read_text()
