"""Readers for configs written as code: Ruby (ActionMailer, gitlab.rb), Python (Django, Flask-Mail),
JS/TS (Nodemailer), PHP (Nextcloud). Values, kinds, positions and ENV resolution on real-world shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtp_doctor.readers import read_file
from test_readers_helpers import FIX, at, only

ENV = FIX / "actionmailer" / "config"


def test_seed_starttls_example() -> None:
    (c,) = read_file(ENV / "environments" / "production.rb")
    assert c.framework == "actionmailer"
    assert at(c, "address") == ("smtp.gmail.com", "string", 8, 14)
    assert at(c, "port") == (587, "int", 9, 11)
    assert at(c, "authentication") == ("login", "symbol", 13, 21)
    assert at(c, "openssl_verify_mode") == ("peer", "string", 15, 26)
    assert at(c, "user_name")[0] == "ユーザー名"
    assert "enable_starttls_auto" not in c.values  # commented out in the seed
    assert at(c, "delivery_method") == ("smtp", "symbol", 6, 42)


def test_seed_implicit_tls_example() -> None:
    (c,) = read_file(ENV / "environments" / "staging.rb")
    assert at(c, "tls") == (True, "bool", 11, 10)
    assert at(c, "port") == (465, "int", 5, 11)


def test_port_numbers_as_tls_flags_are_kept_as_integers() -> None:
    # both branches of an if are reported: each assignment replaces the hash, the linter judges each
    first, second = read_file(ENV / "environments" / "development.rb")
    assert at(first, "ssl") == (465, "int", 7, 15)
    assert first.values["ssl"].origin.key == ":ssl"  # type: ignore[union-attr]
    assert at(second, "tls") == (587, "int", 13, 15)
    assert at(second, "enable_starttls_auto") == (True, "bool", 14, 32)


def test_string_keys_env_fetch_to_i_and_index_assignment() -> None:
    path = FIX / "actionmailer_initializer" / "config" / "initializers" / "smtp.rb"
    (c,) = read_file(path)
    assert at(c, "address") == (None, "env", 7, 16)
    assert c.values["address"].env == "SMTP_SERVER"
    # SMTP_PORT is set nowhere here (no --env, not in this process): ENV.fetch gives its default, as Ruby would
    assert (c.values["port"].value, c.values["port"].kind, c.values["port"].env) == (587, "int", "SMTP_PORT")
    assert at(c, "read_timeout") == (5.5, "float", 14, 21)
    assert at(c, "ca_file") == ("/etc/ssl/certs/ca-certificates.crt", "string", 16, 46)

    env = {"SMTP_SERVER": "mail.example.org", "SMTP_PORT": "465", "SMTP_LOGIN": "  ", "SMTP_TLS": "true",
           "SMTP_PASSWORD": "hunter2"}
    (r,) = read_file(path, env=env)
    assert at(r, "address") == ("mail.example.org", "string", 7, 16)
    assert (r.values["port"].value, r.values["port"].kind, r.values["port"].env) == (465, "int", "SMTP_PORT")
    assert r.values["user_name"].kind == "nil"  # "  ".presence is nil
    assert r.values["tls"].value is True  # ENV['SMTP_TLS'] == 'true' through a local variable
    assert (r.values["enable_starttls"].value, r.values["enable_starttls"].env) == ("auto", "SMTP_ENABLE_STARTTLS")
    assert "readers.note.env_unresolved" not in r.notes

    (d,) = read_file(path, env={"SMTP_PORT": "587x"})
    assert d.values["port"].value == 587  # Ruby's String#to_i stops at the first non-digit
    assert d.values["tls"].value is False


def test_mastodon_production_rb_maps_env_and_keeps_expand_path_as_expression() -> None:
    path = FIX / "mastodon" / "config" / "environments" / "production.rb"
    (c,) = read_file(path)
    assert c.framework == "actionmailer"
    assert at(c, "ca_file") == (None, "expression", 18, 17)
    assert c.values["ca_file"].text.startswith("File.expand_path(File.dirname(__FILE__))")
    assert c.values["tls"].env == "SMTP_TLS"
    env = {"SMTP_SERVER": "smtp.sendgrid.net", "SMTP_PORT": "587", "SMTP_TLS": "false", "LOCAL_DOMAIN": "ex.org",
           "SMTP_AUTH_METHOD": "none"}
    (r,) = read_file(path, framework="mastodon", env=env)
    assert r.values["tls"].value == "false"  # .presence keeps the string: implicit TLS in old Mastodon
    assert r.values["port"].value == "587"
    assert (r.values["domain"].value, r.values["domain"].env) == ("ex.org", "LOCAL_DOMAIN")
    assert r.values["authentication"].kind == "nil"
    assert r.values["enable_starttls_auto"].value is True  # ENV[...] || true with the variable unset
    assert (r.values["delivery_method"].value, r.values["delivery_method"].kind) == ("smtp", "symbol")


def test_gitlab_rb() -> None:
    (c,) = read_file(FIX / "gitlab" / "gitlab.rb")
    assert c.framework == "gitlab"
    assert at(c, "smtp_port") == (465, "int", 10, 29)
    assert at(c, "smtp_tls") == (False, "bool", 16, 28)
    assert at(c, "smtp_enable_starttls_auto") == (True, "bool", 15, 45)
    assert at(c, "smtp_openssl_verify_mode") == ("none", "string", 21, 44)
    assert c.values["smtp_tls"].origin.key == "gitlab_rails['smtp_tls']"  # type: ignore[union-attr]
    assert "smtp_ca_path" not in c.values  # commented out


def test_ruby_case_when_and_ternary(tmp_path: Path) -> None:
    rb = tmp_path / "production.rb"
    rb.write_text(
        "mode = case ENV['SMTP_MODE']\n"
        "       when 'ssl' then true\n"
        "       else false\n"
        "       end\n"
        "case ENV['SMTP_MODE']\n"
        "when 'ssl'\n  implicit = true\n"
        "else\n  implicit = false\nend\n"
        "config.action_mailer.smtp_settings = {\n"
        "  :tls => implicit, :port => implicit ? 465 : 587, :authentication => 'plain'.to_sym,\n"
        "  :address => \"smtp.#{ENV['DOMAIN']}\"\n"
        "}\n", encoding="utf-8")
    (c,) = read_file(rb, env={"SMTP_MODE": "ssl", "DOMAIN": "example.org"})
    assert c.values["tls"].value is True
    assert c.values["port"].value == 465
    assert (c.values["authentication"].value, c.values["authentication"].kind) == ("plain", "symbol")
    assert c.values["address"].value == "smtp.example.org"
    (u,) = read_file(rb)
    assert (u.values["tls"].kind, u.values["tls"].env) == ("env", "SMTP_MODE")
    assert u.values["port"].kind == "env"


def test_django_settings() -> None:
    path = FIX / "django" / "mysite" / "settings.py"
    (c,) = read_file(path)
    assert c.framework == "django"
    assert at(c, "EMAIL_TIMEOUT") == (10, "int", 20, 17)
    assert at(c, "EMAIL_USE_TLS") == (None, "env", 17, 17)
    assert at(c, "EMAIL_SSL_CERTFILE") == ("/etc/ssl/certs/ca-certificates.crt", "string", 19, 22)
    assert "DEBUG" not in c.values
    env = {"EMAIL_USE_TLS": "False", "EMAIL_USE_SSL": "yes", "EMAIL_HOST_PASSWORD": "pw"}
    (r,) = read_file(path, env=env)
    assert (r.values["EMAIL_USE_TLS"].value, r.values["EMAIL_USE_TLS"].kind) == ("False", "string")  # truthy!
    assert (r.values["EMAIL_USE_SSL"].value, r.values["EMAIL_USE_SSL"].kind) == (True, "bool")  # Env cast
    assert (r.values["EMAIL_PORT"].value, r.values["EMAIL_PORT"].env) == (587, "EMAIL_PORT")  # default, int()
    assert r.values["EMAIL_HOST"].value == "smtp.example.com"
    assert r.values["EMAIL_HOST_USER"].value == ""


def test_flask_config_classes() -> None:
    base, testing = read_file(FIX / "flask_mail" / "config.py")
    assert base.framework == testing.framework == "flask_mail"
    assert "SECRET_KEY" not in base.values
    assert at(testing, "MAIL_USE_SSL") == (True, "bool", 17, 20)
    (b, _) = read_file(FIX / "flask_mail" / "config.py", env={"MAIL_USE_TLS": "On", "MAIL_PORT": "465"})
    assert b.values["MAIL_USE_TLS"].value is True  # .lower() in [...]
    assert b.values["MAIL_PORT"].value == 465


def test_python_bool_of_env_string_is_truthy(tmp_path: Path) -> None:
    py = tmp_path / "settings.py"
    py.write_text("import os\nEMAIL_USE_SSL = bool(os.environ.get('SSL', 'False'))\n"
                  "app.config.update(MAIL_SERVER='x', MAIL_PORT=25)\n", encoding="utf-8")
    configs = read_file(py, env={})
    assert only(configs, "django").values["EMAIL_USE_SSL"].value is True  # bool("False")
    assert at(only(configs, "flask_mail"), "MAIL_PORT") == (25, "int", 3, 46)


def test_nodemailer_js_env_strings_stay_strings() -> None:
    path = FIX / "nodemailer" / "mailer.js"
    (c,) = read_file(path)
    assert at(c, "secure") == (None, "env", 7, 11)
    assert at(c, "tls.rejectUnauthorized") == (False, "bool", 12, 30)
    (r,) = read_file(path, env={"SMTP_SECURE": "false", "SMTP_PORT": "465", "SMTP_PASS": "pw"})
    assert (r.values["secure"].value, r.values["secure"].kind) == ("false", "string")
    assert (r.values["port"].value, r.values["port"].kind) == (465, "int")
    assert r.values["host"].value == "smtp.ethereal.email"  # unset || default


def test_nodemailer_ts_const_object_and_url() -> None:
    obj, url = read_file(FIX / "nodemailer" / "mail.ts")
    assert at(obj, "port") == (465, "int", 5, 9)
    assert at(obj, "auth.user") == ("apikey", "string", 8, 17)
    assert at(url, "scheme") == ("smtps", "string", 12, 51)
    assert at(url, "port") == (465, "int", 12, 84)


def test_nextcloud_config_php() -> None:
    (c,) = read_file(FIX / "nextcloud" / "config" / "config.php")
    assert c.framework == "nextcloud"
    assert at(c, "mail_smtpsecure") == ("ssl", "string", 8, 24)
    assert at(c, "mail_smtpport") == ("587", "string", 7, 22)
    assert at(c, "mail_smtpstreamoptions.ssl.verify_peer") == (False, "bool", 15, 24)
    assert "instanceid" not in c.values
    (r,) = read_file(FIX / "nextcloud" / "config" / "config.php", env={})
    assert r.values["mail_smtppassword"].secret and r.values["mail_smtppassword"].value is None


@pytest.mark.parametrize("name", ["production.rb", "settings.py", "config.php"])
def test_readers_never_execute_code(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "executed"
    touch = f"touch {marker}"
    body = {
        "production.rb": f"system('{touch}')\nconfig.action_mailer.smtp_settings = {{ port: `{touch}` }}\n",
        "settings.py": f"import os\nos.system('{touch}')\nEMAIL_PORT = __import__('os').system('{touch}')\n",
        "config.php": f"<?php\nsystem('{touch}');\n$CONFIG = array('mail_smtpport' => shell_exec('{touch}'));\n",
    }[name]
    (tmp_path / name).write_text(body, encoding="utf-8")
    configs = read_file(tmp_path / name)
    assert not marker.exists()
    key = {"production.rb": "port", "settings.py": "EMAIL_PORT", "config.php": "mail_smtpport"}[name]
    assert configs[0].values[key].kind == "expression"


def test_a_node_ca_held_in_a_variable_names_its_file_and_no_secret_leaks(tmp_path: Path) -> None:
    """``const ca = [fs.readFileSync('…')]; … tls: { ca }``: the file Node reads is the CA file; a variable
    that holds the password stays masked."""
    from smtp_doctor.frameworks import to_settings
    from smtp_doctor.readers import read_file

    js = tmp_path / "mailer.js"
    js.write_text('const fs = require("fs");\nconst nodemailer = require("nodemailer");\n'
                  'const ca = [fs.readFileSync("/etc/ssl/private-ca.pem", "utf8")];\nconst pw = "s3cret-value";\n'
                  'module.exports = nodemailer.createTransport({ host: "h", port: 465, secure: true, '
                  "auth: { user: 'u', pass: pw }, tls: { ca } });\n")
    [raw] = read_file(js, framework="nodemailer")
    assert to_settings(raw).ca_file.value == "/etc/ssl/private-ca.pem"  # type: ignore[union-attr]
    assert "s3cret-value" not in repr(raw.values["auth.pass"].text)


def test_a_settings_module_s_own_helper_is_run_on_its_arguments(tmp_path: Path) -> None:
    """``EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")`` with the module's own ``def env_bool``: the value the app
    gets, not "cannot be told"; a helper doing more than assignments, ``if`` and ``return`` stays unknown."""
    py = tmp_path / "settings.py"
    py.write_text(
        "import os\n\ndef env_bool(name, default=False):\n    value = os.environ.get(name)\n"
        "    if value is None:\n        return default\n    return value.strip().lower() in ('1', 'true', 'yes')\n\n"
        "def env_int(name, default):\n    return int(os.getenv(name, default))\n\n"
        "def first(*names):\n    return os.environ.get(names[0])\n\n"
        "def looping(name):\n    for _ in range(2):\n        pass\n    return True\n\n"
        "EMAIL_PORT = env_int('EMAIL_PORT', 25)\nEMAIL_USE_TLS = env_bool('EMAIL_USE_TLS')\n"
        "EMAIL_USE_SSL = env_bool('EMAIL_USE_SSL', default=True)\nEMAIL_HOST = first('EMAIL_HOST')\n"
        "EMAIL_TIMEOUT = looping('x')\n", encoding="utf-8")
    [c] = read_file(py, framework="django", env={"EMAIL_USE_TLS": " Yes", "EMAIL_PORT": "587"})
    assert at(c, "EMAIL_USE_TLS")[:2] == (True, "bool")
    assert at(c, "EMAIL_USE_SSL")[:2] == (True, "bool")  # the keyword default
    assert at(c, "EMAIL_PORT")[:2] == (587, "int")
    assert c.values["EMAIL_HOST"].kind == "expression"  # *names: not followed
    assert c.values["EMAIL_TIMEOUT"].kind == "expression"  # a loop: not followed
    [d] = read_file(py, framework="django", env={"EMAIL_USE_TLS": "no"})
    assert at(d, "EMAIL_USE_TLS")[:2] == (False, "bool") and at(d, "EMAIL_PORT")[:2] == (25, "int")


def test_a_helper_calling_itself_ends(tmp_path: Path) -> None:
    py = tmp_path / "settings.py"
    py.write_text("def f(x):\n    return f(x)\n\nEMAIL_PORT = f(1)\n", encoding="utf-8")
    [c] = read_file(py, framework="django", env={})
    assert c.values["EMAIL_PORT"].kind == "expression"


# -- env files the app's own code loads ------------------------------------------------------------------------
_FLASK = ('import os\nfrom dotenv import load_dotenv\n\nload_dotenv(os.path.join(os.path.dirname(__file__), ".env"))\n'
          'MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")\nMAIL_PORT = int(os.environ.get("MAIL_PORT", 25))\n'
          'MAIL_USERNAME = os.environ.get("MAIL_USERNAME")\n')
_NODE = ('const path = require("path");\nconst nodemailer = require("nodemailer");\n'
         'process.loadEnvFile(path.join(__dirname, ".env"));\n'
         'module.exports = nodemailer.createTransport({ host: process.env.SMTP_HOST, '
         'port: Number(process.env.SMTP_PORT), secure: process.env.SMTP_SECURE === "true" });\n')


def test_python_dotenv_loaded_by_the_settings_module_is_read_under_the_apps_environment(tmp_path: Path) -> None:
    """load_dotenv() fills os.environ before the settings read it; a variable already set wins (override=False);
    without --env a variable the file lacks is still unknown, not unset; SSL_CERT_FILE set that way reaches
    Python's OpenSSL (read when the context is made), so it is the app's trust."""
    (tmp_path / "config.py").write_text(_FLASK)
    (tmp_path / ".env").write_text("MAIL_SERVER=smtp.example.net\nMAIL_PORT=465\nSSL_CERT_FILE=/srv/ca.pem\n")
    (c,) = read_file(tmp_path / "config.py", framework="flask_mail")
    assert c.values["MAIL_SERVER"].value == "smtp.example.net" and c.values["MAIL_PORT"].value == 465
    assert c.values["MAIL_USERNAME"].kind.value == "env"  # not in the file: may be set where the app runs
    assert "readers.note.env_file_loaded" in c.notes
    (c,) = read_file(tmp_path / "config.py", framework="flask_mail", env={"MAIL_PORT": "587"})
    assert c.values["MAIL_PORT"].value == 587 and c.values["MAIL_USERNAME"].kind.value == "nil"
    assert c.app_env == {"SSL_CERT_FILE": "/srv/ca.pem"}
    (tmp_path / ".env").unlink()
    (c,) = read_file(tmp_path / "config.py", framework="flask_mail")
    assert c.values["MAIL_SERVER"].kind.value == "env" and "readers.note.env_file_loaded" not in c.notes


def test_node_load_env_file_sets_the_transport_but_not_node_extra_ca_certs(tmp_path: Path) -> None:
    """process.loadEnvFile runs after Node started: NODE_EXTRA_CA_CERTS in that file is never read."""
    (tmp_path / "mailer.js").write_text(_NODE)
    (tmp_path / ".env").write_text("SMTP_HOST=127.0.0.1\nSMTP_PORT=587\nSMTP_SECURE=true\n"
                                   "NODE_EXTRA_CA_CERTS=/ca.pem\n")
    (c,) = read_file(tmp_path / "mailer.js", env={})
    assert c.values["host"].value == "127.0.0.1" and c.values["secure"].value is True
    assert c.app_env == {}
    (c,) = read_file(tmp_path / "mailer.js", env={"SMTP_SECURE": "false"})
    assert c.values["secure"].value is False


def test_split_settings_star_import_brings_the_base_module_in_where_the_line_stands(tmp_path: Path) -> None:
    """`from settings_common import *` then overrides; an absent local_settings in try/except ImportError is
    nothing; a relative `from .base import *` inside a package (matrix 7 dev: split Django/Flask settings)."""
    (tmp_path / "settings_common.py").write_text(
        'EMAIL_HOST = "mx.example.net"\nEMAIL_PORT = 25\nEMAIL_USE_TLS = True\n')
    (tmp_path / "settings.py").write_text(
        "from settings_common import *  # noqa\nEMAIL_PORT = 587\n"
        "try:\n    from local_settings import *  # noqa\nexcept ImportError:\n    pass\n")
    (c,) = read_file(tmp_path / "settings.py", framework="django")
    assert c.values["EMAIL_HOST"].value == "mx.example.net" and c.values["EMAIL_PORT"].value == 587
    origin = c.values["EMAIL_HOST"].origin
    assert origin is not None and origin.file.endswith("settings_common.py")
    pkg = tmp_path / "conf"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text('EMAIL_HOST = "relay.example.net"\nEMAIL_USE_SSL = True\n')
    (pkg / "production.py").write_text("from .base import *  # noqa\nEMAIL_PORT = 465\n")
    (c,) = read_file(pkg / "production.py", framework="django")
    assert c.values["EMAIL_HOST"].value == "relay.example.net" and c.values["EMAIL_USE_SSL"].value is True


def test_python_decouple_reads_the_env_file_beside_the_settings(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text('from decouple import config\nEMAIL_HOST = config("EMAIL_HOST", '
                                          'default="localhost")\nEMAIL_PORT = config("EMAIL_PORT", cast=int)\n')
    (tmp_path / ".env").write_text("EMAIL_HOST=smtp.example.net\nEMAIL_PORT=2525\n")
    (c,) = read_file(tmp_path / "settings.py", framework="django", env={"EMAIL_PORT": "587"})
    assert c.values["EMAIL_HOST"].value == "smtp.example.net" and c.values["EMAIL_PORT"].value == 587
