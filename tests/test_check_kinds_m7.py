"""Kinds matrix 7's dev halves showed check getting wrong (issue 12), each against a real lab server: a
verify mode the mail gem cannot name, a password file or TLS file the app needs and lacks, msmtp without a
sender, PHP's peer_name, an env file other than .env, Node's maxVersion pin and JavaMail's disabled mechanisms.
What is asserted is the outcome and the failure mode (the real apps' own runs are in the matrix 7 tests)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import smtplib
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smtp_doctor.lab import LabInfo
from smtp_doctor.readers import read_file
from smtp_doctor.writers.patch import secret_lines, secret_tokens


def _check(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "MAIL_", "NODE_EXTRA"))}
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "check", str(config), "--json",
                           "--timeout", "10", *args], capture_output=True, text=True, timeout=120, env=env)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)["configs"][0]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _mastodon(tmp_path: Path, lab: LabInfo, mode: str) -> Path:
    _write(tmp_path, {".env.production": (
        f"LOCAL_DOMAIN=social.example.net\nSMTP_SERVER=127.0.0.1\nSMTP_PORT={lab.servers['starttls'].port}\n"
        f"SMTP_LOGIN={lab.user}\nSMTP_PASSWORD={lab.password}\nSMTP_OPENSSL_VERIFY_MODE={mode}\n"
        f"SMTP_CA_FILE={lab.ca_file}\nSMTP_FROM_ADDRESS=notifications@social.example.net\n")})
    return tmp_path / ".env.production"


def test_a_verify_mode_the_mail_gem_cannot_name_stops_the_app(lab: LabInfo, tmp_path: Path) -> None:
    code, doc = _check(_mastodon(tmp_path / "typo", lab, "verify_peer"))
    assert doc["prediction"]["failure"] == "config_bad_verify_value" and code == 1
    assert "VERIFY_VERIFY_PEER" in (doc["prediction"]["error_text"] or "")
    code, doc = _check(_mastodon(tmp_path / "right", lab, "peer"))
    assert doc["prediction"]["verdict"] == "delivered" and code == 0


def _msmtprc(tmp_path: Path, lab: LabInfo, extra: str, from_line: str = "from app@example.com\n") -> Path:
    rc = tmp_path / "msmtprc"
    rc.write_text(f"defaults\n{from_line}account default\nhost 127.0.0.1\nport {lab.servers['starttls'].port}\n"
                  f"tls on\ntls_trust_file {lab.ca_file}\n{extra}")
    rc.chmod(0o600)
    return rc


def test_a_password_file_that_is_not_there_stops_the_app(lab: LabInfo, tmp_path: Path) -> None:
    rc = _msmtprc(tmp_path, lab, f'auth on\nuser {lab.user}\npasswordeval "cat {tmp_path}/missing/password"\n')
    code, doc = _check(rc)
    assert doc["prediction"]["failure"] == "config_unresolved" and code == 1
    secret = tmp_path / "password"
    secret.write_text(lab.password + "\n")
    rc = _msmtprc(tmp_path, lab, f'auth on\nuser {lab.user}\npasswordeval "cat {secret}"\n')
    code, doc = _check(rc)
    assert doc["prediction"]["verdict"] == "delivered" and doc["asked"]["login"] == "ok" and code == 0


def test_rails_reading_its_password_from_a_missing_file_stops_at_start(lab: LabInfo, tmp_path: Path) -> None:
    _write(tmp_path, {"config/environments/production.rb": (
        "Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
        f"    address: '127.0.0.1', port: {lab.servers['starttls'].port}, enable_starttls: true,\n"
        f"    user_name: '{lab.user}', password: File.read('{tmp_path}/run/secrets/smtp').strip,\n"
        f"    ca_file: '{lab.ca_file}',\n  }}\nend\n")})
    code, doc = _check(tmp_path / "config/environments/production.rb")
    assert doc["prediction"]["failure"] == "config_unresolved" and code == 1
    assert "Errno::ENOENT" in (doc["prediction"]["error_text"] or "")


@pytest.mark.parametrize(("from_line", "failure"), [("", "config_missing_sender"),
                                                    ("from app@example.com\n", None)])
def test_msmtp_needs_a_sender_from_the_account_or_its_defaults(lab: LabInfo, tmp_path: Path, from_line: str,
                                                               failure: str | None) -> None:
    code, doc = _check(_msmtprc(tmp_path, lab, "", from_line))
    assert doc["prediction"]["failure"] == failure and code == (1 if failure else 0)


def test_a_crl_file_that_is_not_there_fails_when_tls_starts(lab: LabInfo, tmp_path: Path) -> None:
    code, doc = _check(_msmtprc(tmp_path, lab, f"tls_crl_file {tmp_path}/crl/company.crl\n"))
    assert doc["prediction"]["failure"] == "cert_verify_failed" and doc["prediction"]["stage"] == "tls"
    assert code == 1


def test_laravel8_checks_the_certificate_against_the_streams_peer_name(lab: LabInfo, tmp_path: Path) -> None:
    _write(tmp_path, {
        ".env": f"MAIL_MAILER=smtp\nMAIL_HOST=127.0.0.1\nMAIL_PORT={lab.servers['starttls'].port}\n"
                f"MAIL_ENCRYPTION=tls\nMAIL_USERNAME={lab.user}\nMAIL_PASSWORD={lab.password}\n",
        "composer.lock": '{"packages": [{"name": "laravel/framework", "version": "v8.83.26"}]}',
        "config/mail.php": ("<?php\nreturn [\n  'default' => env('MAIL_MAILER', 'smtp'),\n  'mailers' => [\n"
                            "    'smtp' => [\n      'transport' => 'smtp', 'host' => env('MAIL_HOST'),\n"
                            "      'port' => env('MAIL_PORT', 587), 'encryption' => env('MAIL_ENCRYPTION', 'tls'),\n"
                            "      'username' => env('MAIL_USERNAME'), 'password' => env('MAIL_PASSWORD'),\n"
                            f"      'stream' => ['ssl' => ['peer_name' => '{{name}}', 'cafile' => '{lab.ca_file}']],\n"
                            "    ],\n  ],\n];\n")})
    mail_php = (tmp_path / "config/mail.php").read_text()
    for name, failure in (("mail.example.com", "cert_hostname_mismatch"), ("localhost", None)):
        (tmp_path / "config/mail.php").write_text(mail_php.replace("{name}", name))
        code, doc = _check(tmp_path / ".env")
        assert doc["prediction"]["failure"] == failure, name
        if failure:  # the why names the name it checks, not the host it connects to, which the certificate has
            assert "mail.example.com" in doc["prediction"]["why"], doc["prediction"]["why"]


def test_flask_reads_the_env_file_its_code_names_not_dot_env(lab: LabInfo, tmp_path: Path) -> None:
    _write(tmp_path, {
        "config.py": ("import os\nfrom dotenv import load_dotenv\n\nload_dotenv('.flaskenv')\n\n"
                      "MAIL_SERVER = os.environ.get('MAIL_SERVER', 'localhost')\n"
                      "MAIL_PORT = int(os.environ.get('MAIL_PORT', 25))\n"),
        ".flaskenv": "FLASK_APP=digest\n",
        ".env": f"MAIL_SERVER=127.0.0.1\nMAIL_PORT={lab.servers['implicit'].port}\n", "app.env": ""})
    code, doc = _check(tmp_path / "config.py", "--env", str(tmp_path / "app.env"))  # the app's own: empty
    assert doc["plan"]["host"] == "localhost" and doc["plan"]["port"] == 25


def test_nodes_max_version_below_the_servers_versions_fails_the_handshake(lab: LabInfo, tmp_path: Path) -> None:
    for pin, failure in (("TLSv1.2", "tls_version_mismatch"), ("TLSv1.3", None)):
        _write(tmp_path, {"mailer.js": (
            "const nodemailer = require('nodemailer');\nmodule.exports = nodemailer.createTransport({\n"
            f"  host: '127.0.0.1', port: {lab.servers['tls13-only'].port}, secure: true,\n"
            f"  tls: {{ maxVersion: '{pin}', ca: [require('fs').readFileSync('{lab.ca_file}')] }},\n}});\n")})
        code, doc = _check(tmp_path / "mailer.js")
        assert doc["prediction"]["failure"] == failure, pin


def test_javamail_leaves_out_the_mechanisms_it_is_told_to_disable(lab: LabInfo, tmp_path: Path) -> None:
    store = tmp_path / "trust.p12"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "lab", "-file", str(lab.ca_file), "-keystore",
                    str(store), "-storetype", "PKCS12", "-storepass", "changeit"], check=True, capture_output=True)
    env = tmp_path / "app.env"
    env.write_text(f"JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore={store} "
                   "-Djavax.net.ssl.trustStorePassword=changeit\n")
    for disabled, failure in (("plain", "auth_mechanism"), ("login", None)):
        _write(tmp_path, {"src/main/resources/application.yml": (
            f"spring:\n  mail:\n    host: localhost\n    port: {lab.servers['auth-plain-only'].port}\n"
            f"    username: {lab.user}\n    password: {lab.password}\n    properties:\n      mail:\n        smtp:\n"
            f"          auth: true\n          auth.{disabled}.disable: true\n          ssl.enable: true\n")})
        code, doc = _check(tmp_path / "src/main/resources/application.yml", "--env", str(env))
        assert doc["prediction"]["failure"] == failure, disabled


def test_a_masked_password_keeps_the_rest_of_its_line(tmp_path: Path) -> None:
    js = tmp_path / "mailer.js"
    js.write_text("const nodemailer = require('nodemailer');\nmodule.exports = nodemailer.createTransport({\n"
                  "  host: 'mail.example.com', auth: { user: 'u', pass: 'canary-Pw-7' },\n});\n")
    shown = secret_lines(js.read_text(), read_file(js)[0])
    (line, masked), = shown.items()
    assert "canary-Pw-7" in line and "canary-Pw-7" not in masked and masked.endswith("pass: ******** },")


@pytest.mark.parametrize(("name", "text"), [
    ("settings.py", 'EMAIL_HOST = "mail.example.com"\n'
                    'EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "{pw}")\n'),
    ("config/environments/production.rb", "Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
     "    address: 'mail.example.com',\n    password: ENV.fetch('SMTP_PASSWORD', '{pw}')\n  }\nend\n"),
    ("mailer.js", "module.exports = require('nodemailer').createTransport({\n  host: 'mail.example.com',\n"
     "  auth: { user: 'u', pass: process.env.SMTP_PASS || '{pw}' },\n});\n"),
])
def test_a_password_written_as_a_lookups_default_is_masked(tmp_path: Path, name: str, text: str) -> None:
    """os.getenv("X", "pw"): the default is the password wherever the variable is unset (matrix 8b dev showed
    fix printing it in its diff)."""
    config = tmp_path / name
    _write(tmp_path, {name: text.replace("{pw}", "canary-Pw-8")})
    raw = read_file(config)[0]
    shown = secret_lines(config.read_text(), raw)
    assert shown and all("canary-Pw-8" not in masked for masked in shown.values())
    assert "'canary-Pw-8'" in secret_tokens(config.read_text(), raw) or '"canary-Pw-8"' in secret_tokens(
        config.read_text(), raw)


def _leaf_sha256(lab: LabInfo) -> str:
    """The STARTTLS server's certificate fingerprint, as `openssl x509 -fingerprint -sha256` writes it."""
    with smtplib.SMTP("127.0.0.1", lab.servers["starttls"].port, timeout=10) as smtp:
        smtp.starttls(context=ssl._create_unverified_context())  # only to read the certificate it sends
        der = smtp.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def test_msmtp_pinning_a_fingerprint_trusts_that_certificate_alone(lab: LabInfo, tmp_path: Path) -> None:
    """msmtp(1): tls_fingerprint trusts that one certificate whatever its issuer (it overrides tls_trust_file)."""
    if shutil.which("msmtp") is None:
        pytest.skip("msmtp is not installed (scripts/install-system-deps.sh installs it)")
    port = lab.servers["starttls"].port
    pinned = tmp_path / "pinned" / "msmtprc"  # no CA file at all: the lab's CA is in no store
    _write(pinned.parent, {"msmtprc": f"account default\nhost 127.0.0.1\nport {port}\nfrom app@example.com\n"
                                      f"tls on\ntls_starttls on\ntls_fingerprint {_leaf_sha256(lab)}\n"})
    pinned.chmod(0o600)
    code, doc = _check(pinned)
    assert doc["prediction"]["verdict"] == "delivered" and code == 0
    done = subprocess.run(["msmtp", "-C", str(pinned), "rcpt@example.com"], capture_output=True, text=True,
                          input="Subject: pinned\n\nx\n", timeout=60)
    assert done.returncode == 0, done.stderr  # and the real msmtp agrees

    stale = tmp_path / "stale" / "msmtprc"  # a pin left from the certificate before, and the right CA file
    _write(stale.parent, {"msmtprc": pinned.read_text().replace(_leaf_sha256(lab)[:5], "00:00")
                          + f"tls_trust_file {lab.ca_file}\n"})
    stale.chmod(0o600)
    code, doc = _check(stale)
    assert (doc["prediction"]["failure"], code) == ("cert_verify_failed", 1)
    assert "fingerprint" in (doc["prediction"]["error_text"] or "")
    done = subprocess.run(["msmtp", "-C", str(stale), "rcpt@example.com"], capture_output=True, text=True,
                          input="Subject: stale\n\nx\n", timeout=60)
    assert done.returncode != 0 and "fingerprint" in done.stderr


def test_laravel_path_helpers_name_a_file_under_the_app_root(lab: LabInfo, tmp_path: Path) -> None:
    """'cafile' => base_path('…') / storage_path('…'): Laravel joins it to the app root (Application::basePath)."""
    _write(tmp_path, {
        ".env": f"MAIL_MAILER=smtp\nMAIL_HOST=localhost\nMAIL_PORT={lab.servers['implicit'].port}\n"
                f"MAIL_ENCRYPTION=ssl\nMAIL_USERNAME={lab.user}\nMAIL_PASSWORD={lab.password}\n",
        "composer.lock": '{"packages": [{"name": "laravel/framework", "version": "v8.83.26"}]}',
        "storage/certs/relay-ca.pem": lab.ca_file.read_text(),
        "config/mail.php": ("<?php\nreturn [\n  'mailers' => [\n    'smtp' => [\n      'transport' => 'smtp',\n"
                            "      'host' => env('MAIL_HOST'), 'port' => env('MAIL_PORT', 587),\n"
                            "      'encryption' => env('MAIL_ENCRYPTION', 'tls'),\n"
                            "      'username' => env('MAIL_USERNAME'), 'password' => env('MAIL_PASSWORD'),\n"
                            "      'stream' => ['ssl' => ['cafile' => {call}]],\n    ],\n  ],\n];\n")})
    mail_php = (tmp_path / "config/mail.php").read_text()
    for call, failure in (("storage_path('certs/relay-ca.pem')", None),
                          ("base_path('storage/certs/relay-ca.pem')", None),
                          ("base_path('certs/relay-ca.pem')", "cert_verify_failed")):  # not there: no handshake
        (tmp_path / "config/mail.php").write_text(mail_php.replace("{call}", call))
        code, doc = _check(tmp_path / ".env")
        assert (doc["prediction"]["failure"], code) == (failure, 1 if failure else 0), call


@pytest.mark.parametrize(("scheme", "server", "failure"), [
    ("smtp+ssl", "implicit", None),
    ("smtps", "starttls", None),  # django-environ: smtps:// is EMAIL_USE_TLS, i.e. STARTTLS
    ("smtps", "implicit", "plain_on_implicit_port"),  # … so on an implicit-TLS port it waits for a greeting
])
@pytest.mark.parametrize("shape", ["update", "items"])
def test_django_environ_email_url_becomes_the_email_settings(lab: LabInfo, tmp_path: Path, scheme: str,
                                                             server: str, failure: str | None, shape: str) -> None:
    """env.email_url() (django-environ's email_url_config): the URL's scheme picks the TLS mode, its user info
    the login; read from the .env the settings load, as ``vars().update(...)`` or key by key."""
    body = ("vars().update(EMAIL_CONFIG)\n" if shape == "update" else
            "EMAIL_HOST = EMAIL_CONFIG['EMAIL_HOST']\nEMAIL_PORT = EMAIL_CONFIG['EMAIL_PORT']\n"
            "EMAIL_HOST_USER = EMAIL_CONFIG['EMAIL_HOST_USER']\n"
            "EMAIL_HOST_PASSWORD = EMAIL_CONFIG['EMAIL_HOST_PASSWORD']\n"
            "EMAIL_USE_TLS = EMAIL_CONFIG.get('EMAIL_USE_TLS', False)\n"
            "EMAIL_USE_SSL = EMAIL_CONFIG.get('EMAIL_USE_SSL', False)\n")
    _write(tmp_path, {
        "settings.py": ("import environ\n\nenv = environ.Env()\nenviron.Env.read_env('.env')\n\n"
                        "EMAIL_CONFIG = env.email_url('EMAIL_URL', default='smtp://localhost:25')\n" + body
                        + "EMAIL_TIMEOUT = 5\n"),
        ".env": f"EMAIL_URL={scheme}://{lab.user}:{lab.password}@127.0.0.1:{lab.servers[server].port}\n"})
    code, doc = _check(tmp_path / "settings.py", "--env", str(_env_file(tmp_path, lab)))
    assert doc["prediction"]["failure"] == failure and code == (1 if failure else 0)
    assert not doc["lint"], doc["lint"]  # EMAIL_CONFIG is the app's dict, not a setting Django reads
    if failure is None:
        assert doc["asked"]["login"] == "ok", doc["asked"]  # the password inside the URL, from the .env


def _env_file(tmp_path: Path, lab: LabInfo) -> Path:
    env = tmp_path / "app.env"
    env.write_text(f"SSL_CERT_FILE={lab.ca_file}\n")
    return env


@pytest.mark.parametrize(("line", "failure"), [
    ("spring.mail.host=127.0.0.1 ", "dns_failure"),  # "127.0.0.1 " resolves to nothing
    ("spring.mail.properties.mail.smtp.starttls.enable=true ", "starttls_required"),  # "true " is not true
    ("spring.mail.properties.mail.smtp.starttls.enable=true", "cert_unknown_issuer"),  # TLS: the JVM lacks the CA
])
def test_java_properties_keep_trailing_blanks_in_values(lab: LabInfo, tmp_path: Path, line: str,
                                                        failure: str) -> None:
    """java.util.Properties.load keeps a value's trailing blanks, and Spring and JavaMail do not trim them."""
    props = tmp_path / "src/main/resources/application.properties"
    base = {"spring.mail.host": "127.0.0.1", "spring.mail.port": str(lab.servers["starttls"].port),
            "spring.mail.username": lab.user, "spring.mail.password": lab.password,
            "spring.mail.properties.mail.smtp.auth": "true",
            "spring.mail.properties.mail.smtp.starttls.enable": "false"}
    key = line.split("=", 1)[0]
    _write(tmp_path, {str(props.relative_to(tmp_path)): "".join(f"{k}={v}\n" for k, v in base.items() if k != key)
                      + line + "\n"})
    code, doc = _check(props)
    assert doc["prediction"]["failure"] == failure, doc["prediction"]


def test_php_reads_openssl_cafile_from_the_ini_files_php_ini_scan_dir_names(lab: LabInfo, tmp_path: Path) -> None:
    """Docker PHP images set openssl.cafile in conf.d/*.ini (PHP_INI_SCAN_DIR): PHP verifies against it."""
    port = lab.servers["implicit"].port
    _write(tmp_path, {
        ".env": f"MAIL_MAILER=smtp\nMAIL_HOST=localhost\nMAIL_PORT={port}\nMAIL_ENCRYPTION=ssl\n"
                f"MAIL_USERNAME={lab.user}\nMAIL_PASSWORD={lab.password}\n",
        "composer.lock": '{"packages": [{"name": "laravel/framework", "version": "v8.83.26"}]}',
        "conf.d/10-opcache.ini": "opcache.enable=1\n",
        "conf.d/90-ca.ini": f'; the relay\'s private CA\nopenssl.cafile = "{lab.ca_file}"\n'})
    for scan, failure in ((f":{tmp_path}/conf.d", None), (f"{tmp_path}/elsewhere", "cert_unknown_issuer")):
        (tmp_path / "app.env").write_text(f"PHP_INI_SCAN_DIR={scan}\n")
        code, doc = _check(tmp_path / ".env", "--env", str(tmp_path / "app.env"))
        assert doc["prediction"]["failure"] == failure, scan
    if shutil.which("php") is None:
        return
    done = subprocess.run(["php", "-r", f'$s = stream_socket_client("ssl://localhost:{port}", $e, $m, 10); '
                           'echo $s ? "VERIFIED" : "FAILED";'], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PHP_INI_SCAN_DIR=f":{tmp_path}/conf.d"))
    assert "VERIFIED" in done.stdout, done.stdout + done.stderr  # the real PHP does verify with it
