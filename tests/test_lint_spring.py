"""Spring Boot lint findings that come from the app's layout, version and protocol, not one key (issue 12):
SD122 — mail settings in application-<profile>.* while no profile is active (Boot never reads them); SD123 — a
Boot before 3.1 (Jakarta Mail before Angus 2) does not check the certificate's name by default, which is not the
same as a config that switches verification off (SD107, which used to be reported at 1:1 for it); and an SSL
bundle's keys (spring.ssl.bundle.<type>.<name>.*, names the app picks) are read, not "unknown" (SD116); SD124 —
under spring.mail.protocol=smtps Jakarta Mail reads mail.smtps.*, so a mail.smtp.* property is ignored."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from smtp_doctor.cli import cli

POM = """<project><parent><groupId>org.springframework.boot</groupId>
<artifactId>spring-boot-starter-parent</artifactId><version>{boot}</version></parent></project>
"""
BASE = """spring:
  mail:
    host: 127.0.0.1
    port: 2525
"""
PROD = """spring:
  mail:
    host: smtp.example.com
    port: 587
    properties:
      mail.smtp.starttls.enable: true
      mail.smtp.starttls.required: true
"""
BUNDLE = """spring:
  ssl:
    bundle:
      pem:
        relay:
          truststore:
            certificate: "file:/etc/ssl/certs/ca-certificates.crt"
  mail:
    host: smtp.example.com
    port: 465
    ssl:
      bundle: relay
    properties:
      mail.smtp.ssl.enable: true
"""


def _ids(tmp_path: Path, boot: str, files: dict[str, str], env: str = "") -> set[str]:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "pom.xml").write_text(POM.format(boot=boot))
    res = tmp_path / "src" / "main" / "resources"
    res.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (res / name).write_text(text)
    args = ["lint", str(res / "application.yml"), "--format", "json"]
    if env:
        (tmp_path / "app.env").write_text(env)
        args += ["--env", str(tmp_path / "app.env")]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    return {f["id"] for c in json.loads(done.output)["configs"] for f in c["findings"]}


def test_a_profile_file_no_profile_activates(tmp_path: Path) -> None:
    ids = _ids(tmp_path, "3.2.5", {"application.yml": BASE, "application-prod.yml": PROD})
    assert "SD122" in ids


def test_an_active_profile_reads_its_file(tmp_path: Path) -> None:
    ids = _ids(tmp_path, "3.2.5", {"application.yml": BASE, "application-prod.yml": PROD},
               env="SPRING_PROFILES_ACTIVE=prod\n")
    assert "SD122" not in ids


def test_boot_2_checks_no_name_by_default_and_switches_nothing_off(tmp_path: Path) -> None:
    ids = _ids(tmp_path, "2.7.18", {"application.yml": PROD})
    assert "SD123" in ids and "SD107" not in ids
    assert not {"SD122", "SD123"} & _ids(tmp_path / "new", "3.2.5", {"application.yml": PROD})


def test_written_verification_off_is_still_sd107(tmp_path: Path) -> None:
    off = PROD + "      mail.smtp.ssl.checkserveridentity: false\n"
    ids = _ids(tmp_path, "3.2.5", {"application.yml": off})
    assert "SD107" in ids and "SD123" not in ids


def test_an_ssl_bundles_keys_are_read(tmp_path: Path) -> None:
    assert "SD116" not in _ids(tmp_path, "3.3.4", {"application.yml": BUNDLE})


def test_a_mail_smtp_property_under_smtps_is_ignored(tmp_path: Path) -> None:
    smtps = "spring:\n  mail:\n    host: smtp.example.com\n    protocol: smtps\n    properties:\n"
    assert "SD124" in _ids(tmp_path, "3.2.5", {"application.yml": smtps + "      mail.smtp.ssl.trust: '*'\n"})
    own = _ids(tmp_path / "own", "3.2.5", {"application.yml": smtps + "      mail.smtps.ssl.trust: '*'\n"})
    assert not {"SD124", "SD116"} & own  # the smtps transport's own key: read
