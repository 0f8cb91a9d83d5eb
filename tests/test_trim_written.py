"""A password written with blanks around it that the app keeps (issue 12, matrix 8c dev): a Java .properties
value keeps its trailing blanks (java.util.Properties.load), a quoted string keeps them all. The app sends them as
part of the password and the server refuses the login. check logs in with the same bytes and names the place;
``fix --write`` removes the blanks on that line — the password is never written anew, and never shown — and the
REAL framework (Spring's sender, ActionMailer, Django) delivers afterwards. The re-check reads the password back
from the patched copy (repair._reread), so a trimmed value is the one it logs in with. New configurations;
asserted: the outcome and failure mode, never a client's exact words."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
import test_check_matrix6c as m6c
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix6c import spring
from test_check_real import _delivered

__all__ = ["other_ca", "spring"]  # the fixtures, imported so pytest finds them here

SPRING = """spring.mail.host=127.0.0.1
spring.mail.port=@PORT@
spring.mail.username=@USER@
spring.mail.password=@PASSWORD@\t\x20
spring.mail.properties.mail.smtp.auth=true
spring.mail.properties.mail.smtp.starttls.enable=true
spring.mail.properties.mail.smtp.starttls.required=true
"""
RAILS = """Rails.application.configure do
  config.action_mailer.delivery_method = :smtp
  config.action_mailer.smtp_settings = {
    address: "127.0.0.1",
    port: @PORT@,
    user_name: "@USER@",
    password: " @PASSWORD@ ",
    authentication: :plain,
    tls: true
  }
end
"""
DJANGO = """EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = @PORT@
EMAIL_USE_TLS = True
EMAIL_HOST_USER = "@USER@"
EMAIL_HOST_PASSWORD = '@PASSWORD@  '
"""
CASES = {
    "spring": ("spring", "starttls", "src/main/resources/application.properties", SPRING,
               {"JAVA_TOOL_OPTIONS": "-Djavax.net.ssl.trustStore=@TRUSTSTORE@ "
                                     "-Djavax.net.ssl.trustStorePassword=changeit"}),
    "actionmailer": ("actionmailer", "implicit", "config/environments/production.rb", RAILS,
                     {"SSL_CERT_FILE": "@CA@"}),
    "django": ("django", "starttls", "settings.py", DJANGO, {"SSL_CERT_FILE": "@CA@"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_blanks_written_around_a_password_are_removed_on_its_line(name: str, lab: LabInfo, tmp_path: Path,
                                                                  other_ca: str, monkeypatch: pytest.MonkeyPatch,
                                                                  request: pytest.FixtureRequest) -> None:
    runner, server, config_name, text, env = CASES[name]
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)
    stores: dict[str, str] = request.getfixturevalue("spring") if runner == "spring" else {}
    cell = {"id": name, "half": "dev", "runner": runner, "server": server, "config": config_name, "env": env,
            "files": {config_name: text}, "lock": False}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch, stores=stores)
    code, entry, output = check_entry(config, envfile, lab)
    before = m3._real(runner, app, config, env, f"trim-{uuid.uuid4()}")
    assert m3._read(before) == "auth_bad_credentials", before
    assert code == 1 and entry["prediction"]["failure"] == "auth_bad_credentials", output
    assert entry["asked"]["padded_value"], output
    assert entry["fix"]["group"] == "trim_value" and entry["fix"]["note"], output
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and "will deliver" in output, output
    assert lab.password in config.read_text()  # the same password, where it was
    subject = f"trim-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
