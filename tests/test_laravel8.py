"""Laravel 8 (SwiftMailer 6) as it really behaves: check predicts it, fix --write makes it deliver (issue 12).

Laravel ≤ 8 sends through SwiftMailer 6, not Symfony Mailer: ``encryption`` 'ssl' is TLS from the first byte,
'tls' is STARTTLS (sent whether offered or not), null/'' is plaintext with no STARTTLS even when offered, and
config/mail.php's ``'stream' => ['ssl' => [...]]`` is the TLS context. These configurations are new (not the
matrices'); each one goes through ``smtp-doctor check``, through the REAL Laravel 8.83 of Debian's
php-laravel-framework (tests/fixtures/matrix3/laravel_send.php boots it as Laravel does) against the lab, and,
when the real app failed, through ``fix --write`` and the real app again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.frameworks.model import to_settings
from smtp_doctor.lab import LabInfo
from smtp_doctor.readers import read_file
from smtp_doctor.settings import TLSMode
from test_check_matrix import TIMEOUT, _agree, _env_file, _reading, other_ca
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

RUNNER = Path(__file__).parent / "fixtures" / "matrix3" / "laravel_send.php"
ILLUMINATE = Path("/usr/share/php/Illuminate")
SWIFT = Path("/usr/share/php/Swift/classes/Swift/Transport")
TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")

pytestmark = pytest.mark.skipif(
    shutil.which("php") is None or not (ILLUMINATE / "Mail" / "MailManager.php").is_file(),
    reason="php-laravel-framework is not installed (scripts/install-system-deps.sh)")

LOCK = '{"packages": [{"name": "laravel/framework", "version": "v8.83.26"}, ' \
       '{"name": "swiftmailer/swiftmailer", "version": "v6.3.0"}]}\n'
APP_PHP = "<?php\nreturn ['name' => env('APP_NAME', 'Laravel'), 'env' => env('APP_ENV', 'production')];\n"


def _mail_php(encryption: str = "env('MAIL_ENCRYPTION', 'tls')", stream: str = "") -> str:
    """A config/mail.php as `laravel new` wrote it for 8.x, with the parts a case changes."""
    return f"""<?php

return [
    'default' => env('MAIL_MAILER', 'smtp'),
    'mailers' => [
        'smtp' => [
            'transport' => 'smtp',
            'host' => env('MAIL_HOST', 'smtp.mailgun.org'),
            'port' => env('MAIL_PORT', 587),
            'encryption' => {encryption},
            'username' => env('MAIL_USERNAME'),
            'password' => env('MAIL_PASSWORD'),
            'timeout' => 5,
            'auth_mode' => null,{stream}
        ],
    ],
    'from' => ['address' => env('MAIL_FROM_ADDRESS', 'app@example.com'), 'name' => 'Laravel 8 test'],
];
"""


STREAM_CA = """
            'stream' => [
                'ssl' => [
                    'cafile' => env('SMTP_CA_BUNDLE'),
                    'verify_peer' => true,
                    'verify_peer_name' => true,
                ],
            ],"""

#: id → server, .env lines (besides host/port/user/password; ``host`` when not 127.0.0.1), config/mail.php, the
#: app's environment, and what
#: the real app must do: "delivered" or the failure mode's family (its meaning, not its bytes)
CASES: dict[str, dict[str, Any]] = {
    "ssl_upper_on_starttls_port": dict(
        server="starttls", env_lines="MAIL_ENCRYPTION=SSL\n", mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="implicit_tls_on_plain_port"),
    "paren_null_with_login_on_starttls_port": dict(
        server="starttls", env_lines="MAIL_ENCRYPTION=(null)\n", mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="starttls_required"),
    "default_tls_on_implicit_port": dict(
        server="implicit", env_lines="", mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="TIMEOUT"),
    "stream_cafile_starttls_delivers": dict(
        server="starttls", env_lines="MAIL_ENCRYPTION=tls\nSMTP_CA_BUNDLE=@CA@\n", mail_php=_mail_php(stream=STREAM_CA),
        app_env={}, real="delivered"),
    "stream_cafile_wrong_ca_beats_ssl_cert_file": dict(
        server="implicit", env_lines="MAIL_ENCRYPTION=ssl\nSMTP_CA_BUNDLE=@OTHER_CA@\n",
        mail_php=_mail_php(stream=STREAM_CA), app_env={"SSL_CERT_FILE": "@CA@"}, real="cert"),
    "ssl_cert_file_wrong_ca_starttls": dict(
        server="starttls", env_lines="MAIL_ENCRYPTION=tls\n", mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@OTHER_CA@"}, real="cert"),
    "starttls_is_no_php_transport": dict(
        server="starttls", env_lines="MAIL_ENCRYPTION=starttls\n", mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="config_bad_tls_value"),
    # phpdotenv keeps the blank inside quotes and SwiftMailer does not trim it: "ssl ://host" is no PHP transport
    # (a scheme has no blank), so PHP connects over tcp to the name before the first colon, "ssl "
    "quoted_encryption_with_a_blank": dict(
        server="implicit", env_lines='MAIL_ENCRYPTION="ssl "\n', mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="dns_failure"),
    "tlsv1_2_is_implicit_tls": dict(
        server="implicit", env_lines="MAIL_ENCRYPTION=tlsv1.2\n", mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="delivered"),
    # PHP cuts the host at its first colon: it connects to localhost at that port, then checks the certificate
    # against "localhost:<port>" (matrix 8c dev)
    "port_written_into_the_host": dict(
        server="starttls", host="localhost:@PORT@", env_lines="MAIL_ENCRYPTION=tls\n", mail_php=_mail_php(),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="cert"),
    "mail_php_hardcodes_tls_over_env_ssl": dict(
        server="starttls", env_lines="MAIL_ENCRYPTION=ssl\n", mail_php=_mail_php(encryption="'tls'"),
        app_env={"SSL_CERT_FILE": "@CA@"}, real="delivered"),
}

#: a written fix must never turn verification or TLS off, nor write the Laravel 9+ key Laravel 8 never reads
UNSAFE = re.compile(r"verify_peer(?:_name)?'\s*=>\s*false|allow_self_signed|^MAIL_ENCRYPTION=(?:null|\(null\))?\s*$"
                    r"|^MAIL_SCHEME=", re.IGNORECASE | re.MULTILINE)


def _fill(text: str, lab: LabInfo, server: str, other: str) -> str:
    return (text.replace("@CA@", str(lab.ca_file)).replace("@OTHER_CA@", other)
            .replace("@PORT@", str(lab.servers[server].port)))


def _app(root: Path, case: dict[str, Any], lab: LabInfo, other: str) -> tuple[Path, dict[str, str]]:
    (root / "config").mkdir(parents=True)
    (root / "composer.lock").write_text(LOCK)
    (root / "config" / "app.php").write_text(APP_PHP)
    (root / "config" / "mail.php").write_text(case["mail_php"])
    env = (f"APP_NAME=Laravel\nMAIL_MAILER=smtp\nMAIL_HOST={case.get('host', '127.0.0.1')}\nMAIL_PORT=@PORT@\n"
           f"MAIL_USERNAME={lab.user}\nMAIL_PASSWORD={lab.password}\n" + case["env_lines"]
           + "MAIL_FROM_ADDRESS=app@example.com\n")
    (root / ".env").write_text(_fill(env, lab, case["server"], other))
    return root / ".env", {k: _fill(v, lab, case["server"], other) for k, v in case["app_env"].items()}


def _real(app: Path, env: dict[str, str], subject: str) -> str:
    """What the real Laravel 8 did: DELIVERED, ERROR <class>: <message>, or TIMEOUT."""
    base = {k: v for k, v in os.environ.items() if k not in TRUST_ENV}
    try:
        done = subprocess.run(["php", str(RUNNER), str(app), subject], capture_output=True, text=True,
                              timeout=TIMEOUT, env=base | env, cwd=app)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
    if not lines:
        return "ERROR " + (done.stderr.strip()[-300:] or "no output")
    # SwiftMailer's STARTTLS failure says only "Unable to connect with TLS encryption"; PHP's warning before it
    # holds OpenSSL's reason, and is in the app's log (Laravel's HandleExceptions raises it as ErrorException)
    warning = " ".join(done.stderr.split()) if "stream_socket_enable_crypto" in done.stderr else ""
    return lines[-1] + (" " + warning if lines[-1].startswith("ERROR") and warning else "")


def _read(real: str) -> str:
    reading = _reading(real)
    return "TIMEOUT" if reading == "unrecognised" and re.search(r"timed? ?out", real, re.IGNORECASE) else reading


def _said(doc: dict[str, Any]) -> str:
    pred = (doc.get("configs") or [{}])[0].get("prediction") or {}
    if pred.get("verdict") == "delivered":
        return "delivered"
    return str(pred.get("failure") or pred.get("verdict") or "none")


@pytest.mark.parametrize("name", list(CASES))
def test_laravel8_check_and_fix_match_the_real_app(name: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for var in TRUST_ENV:
        monkeypatch.delenv(var, raising=False)  # the app's environment is the case's, given with --env
    case = CASES[name]
    config, env = _app(tmp_path / "app", case, lab, other_ca)
    result = CliRunner().invoke(cli, ["check", str(config), "--json", "--timeout", "15",
                                      *_env_file(tmp_path / "app", env)])
    assert lab.password not in result.output
    doc = json.loads(result.output)
    assert doc["configs"][0]["version_used"]["version"].lstrip("v").startswith("8.83"), doc["configs"][0]
    said = _said(doc)
    subject = f"laravel8-{uuid.uuid4()}"
    real_text = _real(tmp_path / "app", env, subject)
    real = _read(real_text)
    # the real app did what the case is about (so the agreement below is not vacuous) …
    if case["real"] == "delivered":
        assert real == "delivered" and _delivered(lab, subject), real_text
    elif case["real"] == "cert":
        assert real.startswith("cert"), real_text
    else:
        assert real == case["real"], real_text
    # … and check predicted it, with the exit code docs/exit-codes.md gives
    assert _agree(said, real), (said, real_text)
    assert result.exit_code == (0 if said == "delivered" else 1), result.output
    if real == "delivered":
        return
    fixed = tmp_path / "fixed"
    fconfig, fenv = _app(fixed, case, lab, other_ca)
    result = CliRunner().invoke(cli, ["fix", str(fconfig), "--write", "--json", "--timeout", "15", "--ca-file",
                                      str(lab.ca_file), *_env_file(fixed, fenv)])
    assert lab.password not in result.output
    fdoc = json.loads(result.output)["configs"][0]
    env_lines = [str(line) for line in fdoc.get("env", [])]
    written = (fixed / ".env").read_text() + (fixed / "config" / "mail.php").read_text() + "\n".join(env_lines)
    assert not UNSAFE.search(written), written.replace(lab.password, "***")
    assert fdoc.get("delivers") is True, result.output
    assert result.exit_code in ((0, 1) if env_lines else (0,)), result.output
    subject2 = f"laravel8-fix-{uuid.uuid4()}"
    after = _real(fixed, fenv | dict(line.split("=", 1) for line in env_lines), subject2)
    assert after == "DELIVERED" and _delivered(lab, subject2), after


def _settings(tmp_path: Path, version: str, encryption: str) -> Any:
    (tmp_path / "config").mkdir(parents=True)
    (tmp_path / "composer.lock").write_text(LOCK.replace("v8.83.26", version))
    (tmp_path / "config" / "mail.php").write_text(_mail_php())
    (tmp_path / ".env").write_text(f"MAIL_HOST=127.0.0.1\nMAIL_PORT=587\nMAIL_ENCRYPTION={encryption}\n")
    [raw] = read_file(tmp_path / ".env")
    return to_settings(raw)


@pytest.mark.parametrize(("encryption", "eight", "later"), [
    ("null", TLSMode.NONE, TLSMode.STARTTLS_AUTO),  # 8: no STARTTLS at all; 9+: Symfony's STARTTLS when offered
    ("ssl", TLSMode.IMPLICIT, TLSMode.STARTTLS_AUTO),  # 8: ssl:// on any port
    ("tls", TLSMode.STARTTLS, TLSMode.STARTTLS_AUTO),  # 8: STARTTLS sent whether offered or not
])
def test_the_lock_files_version_selects_the_mailer(tmp_path: Path, encryption: str, eight: TLSMode,
                                                   later: TLSMode) -> None:
    s8 = _settings(tmp_path / "eight", "v8.83.26", encryption)
    s10 = _settings(tmp_path / "ten", "v10.48.4", encryption)
    assert s8.tls_mode.value is eight and s10.tls_mode.value is later


def test_a_value_hard_coded_in_mail_php_wins_over_the_env(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "composer.lock").write_text(LOCK)
    (tmp_path / "config" / "mail.php").write_text(_mail_php(encryption="'ssl'").replace(
        "env('MAIL_PORT', 587)", "465"))
    (tmp_path / ".env").write_text("MAIL_HOST=127.0.0.1\nMAIL_PORT=587\nMAIL_ENCRYPTION=tls\n")
    [raw] = read_file(tmp_path / ".env")
    s = to_settings(raw)
    assert s.port is not None and s.tls_mode is not None
    assert (s.port.value, s.tls_mode.value) == (465, TLSMode.IMPLICIT)
    assert s.port.origin is not None and s.port.origin.file.endswith("mail.php")


def test_the_cited_lines_say_what_the_knowledge_claims() -> None:
    """frameworks.toml / predict.toml cite these lines of the code on disk; they must hold what is claimed."""
    def lines(path: Path, first: int, last: int) -> str:
        return "".join(path.read_text().splitlines(keepends=True)[first - 1:last])

    assert "setEncryption($config['encryption'])" in lines(ILLUMINATE / "Mail" / "MailManager.php", 187, 224)
    assert "setStreamOptions($config['stream'])" in lines(ILLUMINATE / "Mail" / "MailManager.php", 222, 224)
    enc = lines(SWIFT / "EsmtpTransport.php", 142, 151)
    assert "'tls' == $encryption" in enc and "$this->params['protocol'] = $encryption" in enc
    assert 'STARTTLS\\r\\n' in lines(SWIFT / "EsmtpTransport.php", 344, 349)
    assert "$this->params['protocol'].'://'" in lines(SWIFT / "StreamBuffer.php", 243, 245)
    assert "stream_context_options" in lines(SWIFT / "StreamBuffer.php", 255, 258)
    assert "case 'null':" in lines(ILLUMINATE / "Support" / "Env.php", 79, 90)
