"""The version that decides behaviour comes from the app's own lock file, found from the config upwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtp_doctor.frameworks import to_settings
from smtp_doctor.readers import read_file
from smtp_doctor.settings import TLSMode

RAILS = ("Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
         "    address: 'smtp.example.com', port: 587, enable_starttls_auto: false\n  }\nend\n")


def _rails(root: Path, lock: str | None) -> Path:
    rb = root / "config" / "environments" / "production.rb"
    rb.parent.mkdir(parents=True)
    rb.write_text(RAILS)
    if lock is not None:
        (root / "Gemfile.lock").write_text(lock)
    return rb


def test_gemfile_lock_decides_the_mail_gem_and_so_the_mode(tmp_path: Path) -> None:
    """mail 2.7 with enable_starttls_auto: false still gets net-smtp's own STARTTLS-when-offered; 2.8 sends none."""
    lock = "GEM\n  remote: https://rubygems.org/\n  specs:\n    mail (2.7.1)\n      mini_mime (>= 0.1.1)\n"
    [raw] = read_file(_rails(tmp_path / "a", lock))
    assert (raw.framework_version, Path(raw.version_from or "").name) == ("2.7.1", "Gemfile.lock")
    assert to_settings(raw).tls_mode.value is TLSMode.STARTTLS_AUTO  # type: ignore[union-attr]
    [raw] = read_file(_rails(tmp_path / "b", lock.replace("2.7.1", "2.8.1")))
    assert raw.framework_version == "2.8.1"
    assert to_settings(raw).tls_mode.value is TLSMode.NONE  # type: ignore[union-attr]
    [raw] = read_file(_rails(tmp_path / "c", None))
    assert raw.framework_version is None and raw.version_from is None  # no lock: the model's assumption


@pytest.mark.parametrize(("name", "text", "want"), [
    ("poetry.lock", '[[package]]\nname = "Django"\nversion = "4.2.7"\n', "4.2.7"),
    ("requirements.txt", "requests==2.31\ndjango[argon2]==4.1.13  # pinned\n", "4.1.13"),
    ("Pipfile.lock", json.dumps({"default": {"django": {"version": "==5.0.1"}}}), "5.0.1"),
])
def test_python_lock_files(tmp_path: Path, name: str, text: str, want: str) -> None:
    (tmp_path / name).write_text(text)
    settings = tmp_path / "proj" / "settings.py"
    settings.parent.mkdir()
    settings.write_text("EMAIL_HOST = 'smtp.example.com'\nEMAIL_PORT = 587\nEMAIL_USE_TLS = True\n")
    [raw] = read_file(settings, framework="django")
    assert raw.framework_version == want and raw.version_from == str(tmp_path / name)


def test_package_lock_for_nodemailer(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text(json.dumps(
        {"lockfileVersion": 3, "packages": {"node_modules/nodemailer": {"version": "6.9.16"}}}))
    js = tmp_path / "mail.js"
    js.write_text("const t = nodemailer.createTransport({ host: 'smtp.example.com', port: 587 });\n")
    [raw] = read_file(js)
    assert (raw.framework, raw.framework_version) == ("nodemailer", "6.9.16")


def test_a_broken_lock_file_is_no_version(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text("{not json")
    js = tmp_path / "mail.js"
    js.write_text("nodemailer.createTransport({ host: 'smtp.example.com', port: 587 });\n")
    [raw] = read_file(js)
    assert raw.framework_version is None


@pytest.mark.parametrize(("name", "text", "want", "checks_name"), [
    ("pom.xml", "<project>\n  <parent>\n    <groupId>org.springframework.boot</groupId>\n"
     "    <artifactId>spring-boot-starter-parent</artifactId>\n    <version>2.7.18</version>\n  </parent>\n"
     "  <version>9.9.9</version>\n</project>\n", "2.7.18", False),
    ("build.gradle", "plugins {\n  id 'java'\n  id 'org.springframework.boot' version '3.3.5'\n}\n", "3.3.5", True),
    ("build.gradle.kts", 'plugins {\n    id("org.springframework.boot") version "3.0.13"\n}\n', "3.0.13", False),
])
def test_spring_boot_version_decides_javamail_s_name_check(tmp_path: Path, name: str, text: str, want: str,
                                                          checks_name: bool) -> None:
    """Boot 2.x / 3.0 send with javax.mail or com.sun.mail, which do not check the server's name unless
    mail.smtp.ssl.checkserveridentity is set; 3.1+ sends with Angus Mail, which does; a user name and a
    password make JavaMail log in whatever mail.smtp.auth says."""
    (tmp_path / name).write_text(text)
    props = tmp_path / "src" / "main" / "resources" / "application.properties"
    props.parent.mkdir(parents=True)
    props.write_text("spring.mail.host=smtp.example.com\nspring.mail.port=587\nspring.mail.username=app\n"
                     "spring.mail.password=not-a-real-one\n")
    [raw] = read_file(props)
    assert (raw.framework, raw.framework_version) == ("spring", want)
    s = to_settings(raw)
    assert s.verify_hostname is not None and s.verify_hostname.value is checks_name
    assert s.auth_mechanism is not None and s.auth_mechanism.value == "auto"
