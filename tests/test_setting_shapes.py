"""Settings that hold more than their value (issue 12, matrices 7c and 8c dev), each against the lab and the
real framework (Spring's sender over javax.mail, Nodemailer). A host written as a URL ("smtp://localhost") or
with a blank the reader kept ("localhost "): check says why it cannot reach the server, explain reads the real
app's words the same way, and ``fix --write`` leaves the name alone so the real app delivers. A password with a
trailing blank: check logs in with the same bytes, is refused as the app is, and says where the blank is. What
is asserted is the outcome and the failure mode, never a client's exact words. (A port written into the host
is test_fix_real's and, for PHP, which connects there anyway, test_laravel8's.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import test_check_matrix6c as m6c
from smtp_doctor.cli import cli
from smtp_doctor.explain import explain
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix6c import spring
from test_check_real import _delivered
from test_fix_real import NODE_APP, NODE_MODULES

__all__ = ["other_ca", "spring"]  # the fixtures, imported so pytest finds them

SHAPES = [("smtp://localhost", "host_with_scheme"), ("localhost ", "host_with_blanks")]


def _invoke(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(cli, ["--lang", "en", *args])
    return done.exit_code, done.output


def _spring_app(tmp_path: Path, lab: LabInfo, spring: dict[str, str], host: str,
                password: str) -> tuple[Path, Path, dict[str, str], Path]:
    """An application.properties asking for STARTTLS with AUTH against the lab, the lab CA in a keytool trust
    store (JAVA_TOOL_OPTIONS, also written as the --env file): (app, config, its environment, the --env file)."""
    app = tmp_path / "app"
    config = app / "src" / "main" / "resources" / "application.properties"
    config.parent.mkdir(parents=True)
    config.write_text(f"spring.mail.host={host}\nspring.mail.port={lab.servers['starttls'].port}\n"
                      f"spring.mail.username={lab.user}\nspring.mail.password={password}\n"
                      "spring.mail.properties.mail.smtp.auth=true\n"
                      "spring.mail.properties.mail.smtp.starttls.enable=true\n"
                      "spring.mail.properties.mail.smtp.starttls.required=true\n")
    env = {"JAVA_TOOL_OPTIONS": f"-Djavax.net.ssl.trustStore={spring['@TRUSTSTORE@']} "
                                "-Djavax.net.ssl.trustStorePassword=changeit"}
    envfile = tmp_path / "app.env"
    envfile.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return app, config, env, envfile


@pytest.mark.parametrize(("host", "cause"), SHAPES)
def test_spring_host_with_more_than_a_name(host: str, cause: str, lab: LabInfo, tmp_path: Path,
                                           spring: dict[str, str]) -> None:
    """application.properties keeps a value's trailing blank (java.util.Properties.load) and passes a URL on as
    the name: javax.mail resolves either whole and fails; the fix writes the bare name."""
    app, config, env, envfile = _spring_app(tmp_path, lab, spring, host, lab.password)
    code, out = _invoke("check", str(config), "--json", "--timeout", "10", "--env", str(envfile))
    pred = json.loads(out)["configs"][0]["prediction"]
    assert code == 3 and pred["verdict"] == "unreachable" and pred["cause"] == cause, out
    before = m6c._real(app, config, env, f"shape-{uuid.uuid4()}")
    found = explain(before.removeprefix("ERROR ")).best
    assert found is not None and found.mode.id == cause, before
    code, out = _invoke("fix", str(config), "--write", "--timeout", "10", "--env", str(envfile))
    assert code == 0 and lab.password not in out, out
    assert "spring.mail.host=localhost\n" in config.read_text()
    subject = f"shape-fixed-{uuid.uuid4()}"
    after = m6c._real(app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


@pytest.mark.parametrize(("host", "cause"), [("smtp://127.0.0.1", "host_with_scheme"),
                                             (" 127.0.0.1", "host_with_blanks")])
def test_nodemailer_host_with_more_than_a_name(host: str, cause: str, lab: LabInfo, tmp_path: Path) -> None:
    """Nodemailer looks the host up as written (a leading blank included): check says so, and the fix's bare
    name delivers with the real Nodemailer."""
    if shutil.which("node") is None or not (NODE_MODULES / "nodemailer").is_dir():
        pytest.skip("node or nodemailer is not installed (scripts/install-system-deps.sh installs them)")
    js = tmp_path / "mailer.js"
    js.write_text('const nodemailer = require("nodemailer");\nmodule.exports = nodemailer.createTransport({\n'
                  f'  host: "{host}",\n  port: {lab.servers["starttls"].port},\n  requireTLS: true,\n'
                  f'  tls: {{ ca: require("fs").readFileSync("{lab.ca_file}") }},\n'
                  f'  auth: {{ user: "{lab.user}", pass: process.env.SMTP_PASSWORD }},\n}});\n')
    (tmp_path / "app.js").write_text(NODE_APP)
    envfile = tmp_path / "app.env"
    envfile.write_text(f"SMTP_PASSWORD={lab.password}\n")
    nenv = dict(os.environ, SMTP_PASSWORD=lab.password, NODE_PATH=str(NODE_MODULES))

    def send(subject: str) -> str:
        return subprocess.run(["node", str(tmp_path / "app.js"), str(js), subject], capture_output=True, text=True,
                              timeout=60, env=nenv).stdout.strip()

    code, out = _invoke("check", str(js), "--json", "--timeout", "10", "--env", str(envfile))
    pred = json.loads(out)["configs"][0]["prediction"]
    assert code == 3 and pred["verdict"] == "unreachable" and pred["cause"] == cause, out
    before = send(f"shape-{uuid.uuid4()}")
    found = explain(before.removeprefix("ERROR ")).best
    assert found is not None and found.mode.id == cause, before
    code, out = _invoke("fix", str(js), "--write", "--timeout", "10", "--env", str(envfile))
    assert code == 0 and lab.password not in out, out
    subject = f"shape-fixed-{uuid.uuid4()}"
    assert send(subject) == "DELIVERED" and _delivered(lab, subject), js.read_text()


def test_spring_password_with_a_trailing_blank(lab: LabInfo, tmp_path: Path, spring: dict[str, str]) -> None:
    """java.util.Properties.load keeps a value's trailing blanks: the real sender is refused (535), and so is
    check's own login with the app's bytes; it names the line, and never prints the password."""
    app, config, env, envfile = _spring_app(tmp_path, lab, spring, "localhost", lab.password + "  ")
    code, out = _invoke("check", str(config), "--json", "--timeout", "10", "--env", str(envfile))
    doc = json.loads(out)["configs"][0]
    assert lab.password not in out
    real = m6c._real(app, config, env, f"padded-{uuid.uuid4()}")
    found = explain(real.removeprefix("ERROR ")).best
    assert found is not None and found.mode.id == "auth_bad_credentials", real
    assert code == 1 and doc["prediction"]["failure"] == "auth_bad_credentials", doc["prediction"]
    assert doc["asked"]["login"] == "refused" and doc["asked"]["padded_value"] == f"{config}:4:22", doc["asked"]
    config.write_text(config.read_text().replace(f"{lab.password}  \n", f"{lab.password}\n"))
    code, out = _invoke("check", str(config), "--json", "--timeout", "10", "--env", str(envfile))
    assert code == 0 and json.loads(out)["configs"][0]["asked"]["padded_value"] is None, out
