"""Settings that the app's own code loads from a YAML, TOML or JSON file beside it (issue 12, matrix 8b dev: Django
``EMAIL_HOST = MAIL["host"]`` after ``MAIL = yaml.safe_load(open(BASE_DIR / "mail.yaml"))``). check reads the
file with the parser the app names, as the app indexes it (YAML 1.1: ``on`` is true, a quoted port a string),
logs in with the password the file holds, and ``fix --write`` re-checks its change with the file still found
from where the settings stand. Each case is a new configuration, run through the REAL framework before and after
the fix; asserted: the outcome and failure mode, never a client's exact words."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

#: YAML 1.1 booleans and a quoted port, found through os.path from __file__; the password is the file's
DJANGO_YAML = """import os

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "smtp.yml"), encoding="utf-8") as fh:
    SMTP = yaml.safe_load(fh)

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = SMTP["relay"]["host"]
EMAIL_PORT = int(SMTP["relay"]["port"])
EMAIL_USE_TLS = SMTP["relay"].get("use_tls", False)
EMAIL_HOST_USER = SMTP["relay"]["login"]
EMAIL_HOST_PASSWORD = SMTP["relay"]["secret"]
"""
SMTP_YML = """relay:
  host: 127.0.0.1
  port: "@PORT@"
  use_tls: on
  login: @USER@
  secret: "@SECRET@"
"""
#: JSON read through pathlib, whose "starttls" key the settings never read: no STARTTLS, so no AUTH offered
FLASK_JSON = """import json
from pathlib import Path

CONF = json.loads((Path(__file__).resolve().parent / "conf" / "mail.json").read_text())

MAIL_SERVER = CONF["mail"]["server"]
MAIL_PORT = CONF["mail"]["port"]
MAIL_USE_TLS = CONF["mail"].get("tls", False)
MAIL_USERNAME = CONF["mail"]["username"]
MAIL_PASSWORD = CONF["mail"]["password"]
"""
MAIL_JSON = """{"mail": {"server": "127.0.0.1", "port": @PORT@, "starttls": true,
          "username": "@USER@", "password": "@SECRET@"}}
"""
#: TOML opened in binary, as tomllib wants: STARTTLS asked of an implicit-TLS port
DJANGO_TOML = """import tomllib
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
with open(BASE_DIR / "deploy" / "mail.toml", "rb") as fh:
    MAIL = tomllib.load(fh)["smtp"]

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = MAIL["host"]
EMAIL_PORT = MAIL["port"]
EMAIL_USE_TLS = MAIL["starttls"]
EMAIL_HOST_USER = MAIL["user"]
EMAIL_HOST_PASSWORD = MAIL["password"]
EMAIL_TIMEOUT = MAIL.get("timeout", 5)
"""
MAIL_TOML = """[smtp]
host = "127.0.0.1"
port = @PORT@
starttls = true
user = "@USER@"
password = "@SECRET@"
"""
#: name → (runner, lab server, config, its text, data file, its text, its password, the real app's failure before)
CASES = {
    "yaml_right_password": ("django", "starttls", "settings.py", DJANGO_YAML, "smtp.yml", SMTP_YML, "@PASSWORD@",
                            None),
    "yaml_wrong_password": ("django", "starttls", "settings.py", DJANGO_YAML, "smtp.yml", SMTP_YML, "@WRONGPW@",
                            "auth_bad_credentials"),
    "json_unread_starttls": ("flask_mail", "starttls", "config.py", FLASK_JSON, "conf/mail.json", MAIL_JSON,
                             "@PASSWORD@", "starttls_required"),
    "toml_starttls_on_implicit": ("django", "implicit", "settings.py", DJANGO_TOML, "deploy/mail.toml", MAIL_TOML,
                                  "@PASSWORD@", "greeting_timeout"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_settings_the_app_loads_from_a_data_file_are_read_as_it_loads_them(name: str, lab: LabInfo, tmp_path: Path,
                                                                           other_ca: str,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    runner, server, config_name, text, data_name, data, secret, failure = CASES[name]
    cell = {"id": name, "half": "dev", "runner": runner, "server": server, "config": config_name,
            "env": {"SSL_CERT_FILE": "@CA@"}, "lock": False,
            "files": {config_name: text, data_name: data.replace("@SECRET@", secret)}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch)
    code, entry, output = check_entry(config, envfile, lab)
    before = m3._real(runner, app, config, env, f"data-{uuid.uuid4()}")
    pred = entry["prediction"]
    if failure is None:
        assert before == "DELIVERED", before
        assert code == 0 and pred["verdict"] == "delivered" and entry["asked"]["login"] == "ok", output
        return
    assert m3._read(before) == failure, before
    assert code == 1 and _agree(pred["failure"], failure), output
    if failure == "auth_bad_credentials":  # the login check used the file's password: nothing to write
        assert entry["asked"]["login"] == "refused", output
        return
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and "will deliver" in output, output
    subject = f"data-fixed-{uuid.uuid4()}"
    after = m3._real(runner, app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after


@pytest.mark.parametrize("data", [
    "smtp: !!python/object/apply:os.system ['touch PWNED']\n",  # a tag only the unsafe loader runs: never run here
    "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\nsmtp: [*d, *d]\n",  # aliases: shared, not copied
    "smtp: [unclosed\n", "\xff\xfe", ""])
def test_a_data_file_that_is_hostile_or_broken_leaves_the_value_untold(data: str, tmp_path: Path) -> None:
    from smtp_doctor.readers import read_file

    (tmp_path / "mail.yml").write_bytes(data.encode("latin-1") if data == "\xff\xfe" else data.encode())
    (tmp_path / "settings.py").write_text('import yaml\nfrom pathlib import Path\n'
                                          'M = yaml.safe_load((Path(__file__).parent / "mail.yml").read_text())\n'
                                          'EMAIL_HOST = M["smtp"]\nEMAIL_PORT = 587\n')
    [config] = read_file(tmp_path / "settings.py", framework="django")
    assert config.values["EMAIL_HOST"].kind.value == "expression" and config.values["EMAIL_PORT"].value == 587
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
