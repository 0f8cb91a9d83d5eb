"""`fix --write` on a Spring Boot application.yml (issue 12), proven with Spring's real sender.

Boot nests application.yml's keys; writers/spring_yaml.py edits them where they stand and adds a missing one
under the deepest mapping the file has. The sender is matrix 6c's: Spring's JavaMailSenderImpl over
javax.mail 1.6.5, with Boot's property binding replicated (tests/fixtures/matrix6/spring/SpringSend.java),
against the lab's real STARTTLS server, trusting the lab CA through a keytool trust store in JAVA_TOOL_OPTIONS.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import test_check_matrix6c as m6c
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix6c import spring
from test_check_real import _delivered

__all__ = ["other_ca", "spring"]  # the fixtures, imported so pytest finds them


def _app(tmp_path: Path, yml: str, store: str) -> tuple[Path, Path, dict[str, str]]:
    app = tmp_path / "app"
    config = app / "src" / "main" / "resources" / "application.yml"
    config.parent.mkdir(parents=True)
    config.write_text(yml)
    env = {"JAVA_TOOL_OPTIONS": f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword=changeit"}
    (tmp_path / "app.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return app, config, env


def _fix_and_send(tmp_path: Path, yml: str, lab: LabInfo, store: str) -> tuple[str, str]:
    app, config, env = _app(tmp_path, yml, store)
    subject = f"spring-{uuid.uuid4()}"
    assert m6c._real(app, config, env, subject) != "DELIVERED"
    done = CliRunner().invoke(cli, ["--lang", "en", "fix", str(config), "--write", "--timeout", "15",
                                    "--env", str(tmp_path / "app.env")])
    assert done.exit_code == 0, done.output
    assert lab.password not in done.output
    sent = m6c._real(app, config, env, subject)
    assert sent == "DELIVERED" and _delivered(lab, subject), sent
    return config.read_text(), done.output


def test_smtps_protocol_on_a_starttls_port_is_fixed_in_the_nested_yaml(lab: LabInfo, tmp_path: Path,
                                                                     spring: dict[str, str]) -> None:
    """protocol: smtps above the password: the line goes, the STARTTLS keys nest under `mail:`; the re-check's
    login reads the password where it stands in the unchanged file (matrix 7c dev)."""
    yml = (f"spring:\n  mail:\n    protocol: smtps\n    host: 127.0.0.1\n    port: {lab.servers['starttls'].port}\n"
           f"    username: {lab.user}\n    password: {lab.password}\n    properties:\n      mail:\n        smtp:\n"
           "          auth: true\n          timeout: 5000\n")
    text, out = _fix_and_send(tmp_path, yml, lab, spring["@TRUSTSTORE@"])
    assert "protocol" not in text and "starttls.enable: true" in text and "will deliver" in out


def test_a_port_in_the_host_is_moved_to_the_port_key(lab: LabInfo, tmp_path: Path, spring: dict[str, str]) -> None:
    yml = (f"spring:\n  mail:\n    host: 127.0.0.1:{lab.servers['starttls'].port}\n    username: {lab.user}\n"
           f"    password: {lab.password}\n    properties.mail.smtp.auth: true\n"
           "    properties.mail.smtp.starttls.enable: true\n")
    text, _ = _fix_and_send(tmp_path, yml, lab, spring["@TRUSTSTORE@"])
    assert "host: 127.0.0.1\n" in text and f"port: {lab.servers['starttls'].port}" in text



@pytest.mark.parametrize("restriction", ["auth.plain.disable: true", "auth.mechanisms: LOGIN"])
def test_a_mechanism_the_app_turned_off_is_turned_back_on(restriction: str, lab: LabInfo, tmp_path: Path,
                                                          spring: dict[str, str]) -> None:
    """A PLAIN-only relay and an app that disabled PLAIN (or named only LOGIN): the key goes, and Jakarta Mail's
    default order finds PLAIN. The disabling key sits beside `auth: true`, a key its name starts with
    (matrix 7c dev)."""
    yml = (f"spring:\n  mail:\n    host: localhost\n    port: {lab.servers['auth-plain-only'].port}\n"
           f"    username: {lab.user}\n    password: {lab.password}\n    properties:\n      mail:\n        smtp:\n"
           f"          auth: true\n          {restriction}\n          ssl.enable: true\n")
    text, out = _fix_and_send(tmp_path, yml, lab, spring["@TRUSTSTORE@"])
    assert restriction not in text and "auth: true" in text and "will deliver" in out


def test_a_jndi_name_no_server_binds_is_removed(lab: LabInfo, tmp_path: Path, spring: dict[str, str]) -> None:
    """spring.mail.jndi-name left from an application server: Boot looks the Session up there and stops; without
    the key it builds the sender from the host and port written beside it (matrix 7c dev)."""
    yml = (f"spring:\n  mail:\n    jndi-name: java:jboss/mail/Default\n    host: localhost\n"
           f"    port: {lab.servers['starttls'].port}\n    username: {lab.user}\n    password: {lab.password}\n"
           "    properties:\n      mail.smtp.auth: true\n      mail.smtp.starttls.enable: true\n"
           "      mail.smtp.starttls.required: true\n")
    text, out = _fix_and_send(tmp_path, yml, lab, spring["@TRUSTSTORE@"])
    assert "jndi-name" not in text and "will deliver" in out


def test_a_self_signed_server_fails_in_java_as_an_unknown_issuer(lab: LabInfo, tmp_path: Path,
                                                                  spring: dict[str, str]) -> None:
    """JSSE words a self-signed leaf as any chain it cannot build ("PKIX path building failed"): check predicts
    that failure, and keeps self-signed as the cause it explains (matrix 7c dev spring7-self-signed-lab-truststore)."""
    import json

    from test_check_matrix import _agree
    from test_check_matrix3 import _read

    yml = (f"spring:\n  mail:\n    host: localhost\n    port: {lab.servers['self-signed'].port}\n    properties:\n"
           "      mail:\n        smtp:\n          starttls.enable: true\n          starttls.required: true\n")
    app, config, env = _app(tmp_path, yml, spring["@TRUSTSTORE@"])
    real = _read(m6c._real(app, config, env, f"spring-{uuid.uuid4()}"))
    done = CliRunner().invoke(cli, ["check", str(config), "--json", "--timeout", "15", "--env",
                                    str(tmp_path / "app.env")])
    prediction = json.loads(done.output)["configs"][0]["prediction"]
    assert real == "cert_unknown_issuer" and _agree(prediction["failure"], real), (prediction, real)
    assert prediction["cause"] == "cert_self_signed" and done.exit_code == 1, prediction
