"""Kinds matrix 8's dev halves showed check getting wrong (issue 12), each against a real lab server and the
real framework: a password the app reads from a file (a Docker secret) with the file's trailing newline.
What is asserted is the outcome and the failure mode, never a client's exact words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from smtp_doctor.explain import explain
from smtp_doctor.lab import LabInfo
from test_check_matrix import _real
from test_check_matrix5 import dead_ports

__all__ = ["dead_ports"]  # the fixture, imported so pytest finds it


def _check(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "MAIL_", "EMAIL_", "NODE_EXTRA"))}
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "check", str(config), "--json",
                           "--timeout", "10", *args], capture_output=True, text=True, timeout=120, env=env)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)["configs"][0]


@pytest.mark.parametrize(("read", "delivers"), [("secret.read()", False), ("secret.read().strip()", True),
                                                ("Path(os.environ['PW_FILE']).read_text().strip()", True)])
def test_a_docker_secret_read_with_its_newline_is_another_password(lab: LabInfo, tmp_path: Path, read: str,
                                                                    delivers: bool) -> None:
    """Django sends what open().read() returns, the line break `echo pw > secret` wrote included: the server
    refuses it. check logs in with the same bytes, so it tells, and says which file and what to change."""
    secret = tmp_path / "run" / "smtp_password"
    secret.parent.mkdir()
    secret.write_text(lab.password + "\n")
    assign = (f"EMAIL_HOST_PASSWORD = {read}" if read.startswith("Path") else
              f"with open(os.environ['PW_FILE']) as secret:\n    EMAIL_HOST_PASSWORD = {read}")
    app = tmp_path / "app"
    app.mkdir()
    config = app / "settings.py"
    config.write_text(f"import os\nfrom pathlib import Path\nSECRET_KEY = 'k'\nEMAIL_HOST = '127.0.0.1'\n"
                      f"EMAIL_PORT = {lab.servers['starttls'].port}\nEMAIL_USE_TLS = True\n"
                      f"EMAIL_HOST_USER = '{lab.user}'\n{assign}\n")
    env = {"PW_FILE": str(secret), "SSL_CERT_FILE": str(lab.ca_file)}
    envfile = tmp_path / "app.env"
    envfile.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    code, doc = _check(config, "--env", str(envfile))
    real = _real({"runner": "django"}, app, config, env, f"m8-{uuid.uuid4()}")
    assert (real == "DELIVERED") is delivers, real
    assert lab.password not in json.dumps(doc)
    if delivers:
        assert doc["prediction"]["verdict"] == "delivered" and doc["asked"]["login"] == "ok" and code == 0
    else:
        assert doc["prediction"]["failure"] == "auth_bad_credentials" and code == 1
        assert doc["asked"]["padded_file"] == str(secret)
        assert any("line break" in line for line in doc["asked"]["lines"])
    secret.unlink()  # the file gone: the app stops at start, before it connects
    code, doc = _check(config, "--env", str(envfile))
    assert doc["prediction"]["failure"] == "config_unresolved" and code == 1


TOO_LATE = """const nodemailer = require('nodemailer');
{before}
const options = {{
  host: process.env.SMTP_HOST || '127.0.0.1',
  port: Number(process.env.SMTP_PORT || {closed}),
  auth: {{ user: process.env.SMTP_USER, pass: process.env.SMTP_PASS }},
  tls: {{ ca: require('fs').readFileSync('{ca}') }},
}};
{after}
module.exports = nodemailer.createTransport(options);
"""
#: the same options built in a function the module calls after loading the file: read when it is called
IN_A_FUNCTION = """const nodemailer = require('nodemailer');
function transport() {{
  return nodemailer.createTransport({{
    host: '127.0.0.1', port: Number(process.env.SMTP_PORT || {closed}),
    auth: {{ user: process.env.SMTP_USER, pass: process.env.SMTP_PASS }},
    tls: {{ ca: require('fs').readFileSync('{ca}') }},
  }});
}}
require('dotenv').config();
module.exports = transport();
"""


@pytest.mark.parametrize(("template", "before", "after", "delivers"), [
    (TOO_LATE, "", "require('dotenv').config();", False), (TOO_LATE, "require('dotenv').config();", "", True),
    (IN_A_FUNCTION, "", "", True)])
def test_an_env_file_loaded_below_the_reads_comes_too_late(lab: LabInfo, tmp_path: Path, dead_ports: dict[str, str],
                                                           template: str, before: str, after: str,
                                                           delivers: bool) -> None:
    """dotenv fills process.env when config() runs: the options object built above it saw the process's own
    environment, so Nodemailer connects to the default port, whatever the .env says."""
    app = tmp_path / "app"
    app.mkdir()
    config = app / "mailer.js"
    config.write_text(template.format(before=before, after=after, ca=lab.ca_file, closed=dead_ports["@CLOSED_PORT@"]))
    (app / ".env").write_text(f"SMTP_PORT={lab.servers['starttls'].port}\nSMTP_USER={lab.user}\n"
                              f"SMTP_PASS={lab.password}\n")
    (tmp_path / "app.env").write_text("")  # the app's environment: nothing but what its code loads
    code, doc = _check(config, "--env", str(tmp_path / "app.env"))
    real = _real({"runner": "nodemailer10"}, app, config, {}, f"m8-{uuid.uuid4()}")
    assert (real == "DELIVERED") is delivers, real
    if delivers:
        assert doc["prediction"]["verdict"] == "delivered" and code == 0, doc["prediction"]
    else:
        assert doc["prediction"]["verdict"] == "unreachable" and code == 3
        assert "SD121" in {f["id"] for f in doc["lint"]}


def _django_at(tmp_path: Path, port: str, use_tls: bool, timeout: int) -> tuple[int, dict[str, Any], str]:
    """A Django app pointed at one of the lab's hostile ports: check's (exit code, entry) and the real run."""
    app = tmp_path / "app"
    app.mkdir()
    config = app / "settings.py"
    config.write_text(f"SECRET_KEY = 'k'\nEMAIL_HOST = '127.0.0.1'\nEMAIL_PORT = {port}\n"
                      f"EMAIL_USE_TLS = {use_tls}\nEMAIL_TIMEOUT = {timeout}\n")
    code, doc = _check(config)
    return code, doc, _real({"runner": "django"}, app, config, {}, f"m8-{uuid.uuid4()}")


@pytest.mark.parametrize("server", ["@HOSTILE_CLOSE_AFTER_GREETING@", "@HOSTILE_CLOSE_AFTER_EHLO@"])
@pytest.mark.parametrize("use_tls", [True, False])
def test_a_server_that_hangs_up_before_answering_ehlo(lab: LabInfo, tmp_path: Path, dead_ports: dict[str, str],
                                                      server: str, use_tls: bool) -> None:
    """Greeted, then closed before EHLO is answered: real Django fails on the closed connection whatever its
    STARTTLS setting, so check says the server hangs up, not that STARTTLS is missing (matrix 7b/8b dev)."""
    code, doc, real = _django_at(tmp_path, dead_ports[server], use_tls, 10)
    assert explain(real.removeprefix("ERROR ")).best.mode.id == "conn_closed", real  # type: ignore[union-attr]
    assert doc["prediction"]["failure"] == "conn_closed" and code == 1, doc["prediction"]


@pytest.mark.parametrize("use_tls", [True, False])
def test_a_web_server_port_leaves_a_plaintext_first_app_waiting(lab: LabInfo, tmp_path: Path,
                                                                dead_ports: dict[str, str], use_tls: bool) -> None:
    """The port is a web server: it answers the probe's TLS ClientHello with an HTTP 400, but HTTP is the
    client's to open, so real Django, which waits for a greeting first, times out; check says so and that the
    fix is the port, not a longer wait (matrix 7b dev: Nodemailer, the same)."""
    code, doc, real = _django_at(tmp_path, dead_ports["@HOSTILE_HTTP@"], use_tls, 3)
    assert real != "DELIVERED"
    assert explain(real.removeprefix("ERROR ")).best.mode.id in ("greeting_timeout", "conn_timeout"), real  # type: ignore[union-attr]
    assert doc["prediction"]["failure"] == "greeting_timeout" and code == 1, doc["prediction"]
    assert doc["prediction"]["cause"] == "conn_refused", doc["prediction"]
