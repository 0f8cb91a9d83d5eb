"""`config --for` for Symfony Mailer, Flask-Mail and Spring Boot (issue 12): probe, write, read back, check.

Real lab servers and real TLS; the written configs are sent through the real framework where it is installed
here: Debian's php-symfony-mailer 5.4 (runners/symfony_send.php, with the ``${SMTP_PASSWORD}`` of the DSN
expanded as symfony/dotenv does — Debian has no php-symfony-dotenv), Flask-Mail 0.10 from the venv, and for
Spring Debian's Jakarta Mail 2.0 fed the properties as Spring Boot's MailSenderPropertiesConfiguration does
(runners/SpringMail.java; no Spring Boot here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from smtp_doctor.lab import LabInfo
from smtp_doctor.readers import read_file
from smtp_doctor.writers.config import writers
from test_check_matrix import FLASK
from test_check_real import _delivered

SYMFONY = Path(__file__).parent / "fixtures" / "check" / "runners" / "symfony_send.php"
TIMEOUT = 30


def _config(framework: str, lab: LabInfo, server: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "SMTP_PASSWORD")}
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "config", "--for", framework,
                           lab.servers[server].address, "--ca-file", str(lab.ca_file), "--user", lab.user,
                           "--json", *extra], capture_output=True, text=True, timeout=120, env=env)
    doc = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    assert lab.password not in done.stdout + done.stderr
    return done.returncode, doc, done.stderr


def test_the_new_frameworks_are_offered() -> None:
    assert {"symfony", "flask_mail", "spring", "nodemailer", "laravel", "msmtp"} <= set(writers())


@pytest.mark.parametrize("server", ["starttls", "implicit"])
def test_config_for_symfony_delivers_with_real_symfony_mailer(server: str, lab: LabInfo, tmp_path: Path) -> None:
    if shutil.which("php") is None or not Path("/usr/share/php/Symfony/Component/Mailer").is_dir():
        pytest.skip("php-symfony-mailer is not installed (scripts/install-system-deps.sh)")
    code, doc, err = _config("symfony", lab, server)
    assert code == 0, err
    scheme = "smtp" if server == "starttls" else "smtps"
    assert doc["text"] == f"MAILER_DSN={scheme}://{lab.user}:${{SMTP_PASSWORD}}@127.0.0.1:{lab.servers[server].port}\n"
    assert doc["env"] == [f"SSL_CERT_FILE={lab.ca_file}"] and doc["needs_env"]
    app = tmp_path / "app"
    app.mkdir()
    (app / ".env").write_text(doc["text"].replace("${SMTP_PASSWORD}", lab.password))  # what symfony/dotenv does
    base = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "MAILER_DSN")}
    subject = f"config-symfony-{uuid.uuid4()}"

    def send(env: dict[str, str]) -> str:
        done = subprocess.run(["php", str(SYMFONY), str(app / ".env"), subject], capture_output=True, text=True,
                              timeout=TIMEOUT, env=env, cwd=app)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
        return lines[-1] if lines else "ERROR " + (done.stdout + done.stderr)[-300:]

    assert send(base).startswith("ERROR")  # without the environment line the lab's CA is unknown to PHP
    name, _, value = doc["env"][0].partition("=")
    real = send(base | {name: value})
    assert real == "DELIVERED" and _delivered(lab, subject), real


@pytest.mark.parametrize("server", ["starttls", "implicit"])
def test_config_for_flask_mail_delivers_with_real_flask_mail(server: str, lab: LabInfo, tmp_path: Path) -> None:
    pytest.importorskip("flask_mail")
    code, doc, err = _config("flask_mail", lab, server)
    assert code == 0 and doc["check"] == "delivered" and doc["env"] == [], err
    assert doc["risks"] == ["verify_off"]  # Flask-Mail passes no SSL context: said, since no line can change it
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "config", "--for", "flask_mail",
                           lab.servers[server].address, "--ca-file", str(lab.ca_file)], capture_output=True,
                          text=True, timeout=120)
    assert "Careful: the certificate is not verified" in done.stderr, done.stderr
    cfg = tmp_path / "config.py"
    cfg.write_text(doc["text"])
    (tmp_path / "_app.py").write_text(FLASK)
    subject = f"config-flask-{uuid.uuid4()}"
    done = subprocess.run([sys.executable, str(tmp_path / "_app.py"), str(cfg), subject], capture_output=True,
                          text=True, timeout=TIMEOUT, env=dict(os.environ, SMTP_PASSWORD=lab.password))
    real = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    assert real == "DELIVERED" and _delivered(lab, subject), real


@pytest.mark.parametrize("server", ["starttls", "implicit"])
def test_config_for_spring_reads_back_and_names_the_jvm_truststore_gap(server: str, lab: LabInfo,
                                                                     tmp_path: Path) -> None:
    """The properties read back as the probed mode with a login; against the lab's private CA check says the
    JVM will not trust it (no CA key exists in Spring's properties), so the exit code is 1, not 0."""
    code, doc, err = _config("spring", lab, server)
    assert (code, doc["check"]) == (1, "fails"), err
    props = tmp_path / "application.properties"
    props.write_text(doc["text"])
    [raw] = [r for r in read_file(props, framework="spring") if r.framework == "spring"]
    from smtp_doctor.frameworks import to_settings

    s = to_settings(raw)
    assert s.tls_mode is not None and s.tls_mode.value.value == ("starttls" if server == "starttls" else "implicit")
    assert s.port is not None and s.port.value == lab.servers[server].port and s.has_password
    assert "spring.mail.password=${SMTP_PASSWORD}\n" in doc["text"]


JAKARTA = ("/usr/share/java/jakarta-mail.jar", "/usr/share/java/jakarta-activation.jar")
SPRING = Path(__file__).parent / "fixtures" / "check" / "runners" / "SpringMail.java"


@pytest.mark.parametrize("server", ["starttls", "implicit"])
def test_config_for_spring_delivers_with_real_jakarta_mail(server: str, lab: LabInfo, tmp_path: Path) -> None:
    """The written properties through real Jakarta Mail 2.0 as Spring Boot hands them over (runners/
    SpringMail.java): delivered once the JVM trusts the lab's CA (a keystore made with keytool, which no
    property can name), and refused as check predicted (the certificate path) without it."""
    if shutil.which("javac") is None or not all(Path(j).exists() for j in JAKARTA):
        pytest.skip("javac / libjakarta-mail-java not installed (scripts/install-system-deps.sh installs them)")
    code, doc, err = _config("spring", lab, server)
    assert (code, doc["check"]) == (1, "fails"), err
    props = tmp_path / "application.properties"
    props.write_text(doc["text"])
    classpath = ":".join(JAKARTA)
    built = subprocess.run(["javac", "-cp", classpath, "-d", str(tmp_path), str(SPRING)], capture_output=True,
                           text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    store = tmp_path / "trust.p12"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "lab", "-file", str(lab.ca_file), "-keystore",
                    str(store), "-storetype", "PKCS12", "-storepass", "changeit"], check=True, capture_output=True,
                   timeout=60)
    env = dict(os.environ, SMTP_PASSWORD=lab.password)

    def send(subject: str, *jvm: str) -> str:
        done = subprocess.run(["java", *jvm, "-cp", f"{classpath}:{tmp_path}", "SpringMail", str(props), subject],
                              capture_output=True, text=True, timeout=TIMEOUT, env=env)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
        return lines[-1] if lines else "ERROR " + done.stderr[-300:]

    without = send("x")
    assert without.startswith("ERROR") and "certification path" in without, without
    subject = f"config-spring-{uuid.uuid4()}"
    real = send(subject, f"-Djavax.net.ssl.trustStore={store}", "-Djavax.net.ssl.trustStorePassword=changeit")
    assert real == "DELIVERED" and _delivered(lab, subject), real


@pytest.mark.parametrize("framework", ["symfony", "spring"])
def test_a_value_the_syntax_cannot_hold_is_refused(framework: str, lab: LabInfo) -> None:
    code, _, err = _config(framework, lab, "starttls", "--user", "a\nMAILER_DSN=smtp://evil")
    assert code == 2 and "evil" not in err and len(err.strip().splitlines()) == 1, err
