"""Spring Boot 3.1+'s SSL bundle as the mail sender's trust (issue 12, matrix 7c dev): ``spring.mail.ssl.bundle``
names a bundle, and Boot hands the sender that bundle's socket factory (MailSenderPropertiesConfiguration:
``mail.<protocol>.ssl.socketFactory``), for implicit TLS and STARTTLS alike; a PEM bundle trusts its certificates
alone. check reads the bundle's CA as the app's (and a wrong one as the app's failure); ``fix --write`` on a
Boot 3.1+ app the JVM does not trust the server for writes a PEM bundle holding ``--ca-file`` — never
verification off — and Spring's sender (matrix 6c's, the bundle replicated from Boot's source) then delivers.
Boot 2.x has no such key: there fix writes nothing. Asserted: outcome and failure mode, not a client's words."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
import test_check_matrix6c as m6c
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix6c import spring
from test_check_real import _delivered

__all__ = ["other_ca", "spring"]  # the fixtures, imported so pytest finds them here

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>@BOOT@</version>
  </parent>
  <artifactId>notify</artifactId>
</project>
"""
PROPERTIES = """spring.mail.host=localhost
spring.mail.port=@PORT@
spring.mail.username=@USER@
spring.mail.password=@PASSWORD@
spring.mail.properties.mail.smtp.auth=true
spring.mail.properties.mail.smtp.starttls.enable=true
spring.mail.properties.mail.smtp.starttls.required=true
"""
YAML = """spring:
  mail:
    host: localhost
    port: @PORT@
    username: @USER@
    password: @PASSWORD@
    properties:
      mail.smtp.auth: true
      mail.smtp.ssl.enable: true
"""
BUNDLED = """spring:
  ssl:
    bundle:
      pem:
        relay:
          truststore:
            certificate: "file:@OTHER_CA@"
  mail:
    host: localhost
    port: @PORT@
    username: @USER@
    password: @PASSWORD@
    ssl:
      bundle: relay
    properties:
      mail.smtp.auth: true
      mail.smtp.starttls.enable: true
      mail.smtp.starttls.required: true
"""


def _cell(boot: str, server: str, name: str, text: str) -> dict[str, Any]:
    return {"id": f"bundle-{boot}-{server}", "half": "dev", "runner": "spring", "server": server, "lock": False,
            "config": f"src/main/resources/{name}", "env": {},
            "files": {"pom.xml": POM.replace("@BOOT@", boot), f"src/main/resources/{name}": text}}


def _run(cell: dict[str, Any], lab: LabInfo, tmp_path: Path, other: str,
         monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict[str, str], dict[str, Any], str]:
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)
    app = tmp_path / "app"
    cell["files"] = {k: v.replace("@OTHER_CA@", other) for k, v in cell["files"].items()}
    config, env, envfile = write_case(cell, lab, app, other, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    real = m3._real("spring", app, config, env, f"bundle-{uuid.uuid4()}")
    assert m3._read(real) == "cert_unknown_issuer", real
    assert code == 1 and entry["prediction"]["failure"] == "cert_unknown_issuer", output
    return app, config, env, entry, str(envfile)


@pytest.mark.parametrize(("server", "name", "text"), [("starttls", "application.properties", PROPERTIES),
                                                      ("implicit", "application.yml", YAML)])
def test_fix_writes_a_pem_bundle_on_boot_31_and_the_sender_delivers(server: str, name: str, text: str,
                                                                     lab: LabInfo, tmp_path: Path, other_ca: str,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     spring: dict[str, str]) -> None:
    app, config, env, entry, envfile = _run(_cell("3.2.5", server, name, text), lab, tmp_path, other_ca,
                                            monkeypatch)
    code, output = fix_write(config, Path(envfile), lab, "--ca-file", str(lab.ca_file))
    written = config.read_text()
    assert code == 0 and "will deliver" in output, output
    assert str(lab.ca_file) in written and "bundle" in written and "ssl.trust" not in written
    subject = f"bundle-fixed-{uuid.uuid4()}"
    after = m3._real("spring", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


def test_boot_2_has_no_bundle_so_fix_writes_none(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                monkeypatch: pytest.MonkeyPatch, spring: dict[str, str]) -> None:
    app, config, env, entry, envfile = _run(_cell("2.7.18", "starttls", "application.properties", PROPERTIES),
                                            lab, tmp_path, other_ca, monkeypatch)
    before = config.read_text()
    code, output = fix_write(config, Path(envfile), lab, "--ca-file", str(lab.ca_file))
    assert code == 1 and config.read_text() == before, output


def test_a_bundle_the_app_names_is_its_trust(lab: LabInfo, tmp_path: Path, other_ca: str,
                                            monkeypatch: pytest.MonkeyPatch, spring: dict[str, str]) -> None:
    """A bundle holding the lab's CA, and no JVM trust store: the app delivers, and check says so from the
    bundle's file (without it, the JVM's store knows no such CA)."""
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)
    cell = _cell("3.3.4", "starttls", "application.yml", BUNDLED.replace("@OTHER_CA@", "@CA@"))
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    subject = f"bundle-{uuid.uuid4()}"
    real = m3._real("spring", app, config, env, subject)
    assert real == "DELIVERED" and _delivered(lab, subject), real
    assert code == 0 and entry["prediction"]["verdict"] == "delivered", output
    assert entry["plan"]["ca_file"] == str(lab.ca_file) and entry["plan"]["trust"] == ["ca-file"], entry["plan"]
