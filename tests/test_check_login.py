"""`check` asks the server what only it can say (issue 12): the app's own login (kind 3), the envelope with
--envelope (kind 4), and a greeting that refuses the session (the 554 bug). Real lab servers over real
sockets and real TLS; the CLI runs as a real process where stdout and stderr are asserted separately."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtp_doctor.lab import LabInfo
from smtp_doctor.lab.forge import running
from smtp_doctor.lab.hostile import scripted_in_thread
from smtp_doctor.login import Envelope, app_password
from smtp_doctor.readers import read_file

#: not the lab's password: the lab refuses it with 535; it must never be printed anywhere
CANARY = "canary-Pw-5c1e-never-printed"


def _rails(tmp_path: Path, port: int, settings: str, name: str = "app") -> Path:
    d = tmp_path / name / "config" / "environments"
    d.mkdir(parents=True)
    (d / "production.rb").write_text(
        "Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
        f"    address: '127.0.0.1', port: {port}, {settings}\n  }}\nend\n")
    return d / "production.rb"


def _login(lab: LabInfo, password: str = "ENV['SMTP_PASSWORD']") -> str:
    return f"user_name: '{lab.user}', password: {password}, authentication: :plain, ca_file: '{lab.ca_file}',"


def _env(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "app.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _run(*args: str) -> tuple[int, str, str]:
    """The real CLI in its own process (stdout and stderr apart), the app's variable not in its environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("SMTP_PASSWORD", "EMAIL_PASSWORD")}
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "check", *args],
                          capture_output=True, text=True, timeout=120, env=env)
    return done.returncode, done.stdout, done.stderr


def _json(*args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = _run(*args, "--json")
    return code, json.loads(out)["configs"][0], out + err


@pytest.mark.parametrize(("server", "tls"), [("starttls", "enable_starttls: true,"), ("implicit", "tls: true,")])
def test_a_wrong_password_is_predicted_as_the_apps_535_failure(lab: LabInfo, tmp_path: Path, server: str,
                                                               tls: str) -> None:
    config = _rails(tmp_path, lab.servers[server].port, tls + " " + _login(lab))
    env = _env(tmp_path, SMTP_PASSWORD=CANARY)
    code, doc, raw = _json(str(config), "--env", str(env))
    assert code == 1
    pred = doc["prediction"]
    assert (pred["verdict"], pred["failure"], pred["stage"]) == ("fails", "auth_bad_credentials", "auth")
    assert pred["error_text"].startswith("Net::SMTPAuthenticationError: 535")  # net-smtp's class for 53x
    assert doc["asked"]["login"] == "refused" and doc["asked"]["mechanism"] == "PLAIN"
    code, out, err = _run(str(config), "--env", str(env))
    assert code == 1 and "Login tried as the app does" in out and "535" in out
    assert CANARY not in raw and CANARY not in out + err


def test_the_right_password_is_predicted_as_delivery(lab: LabInfo, tmp_path: Path) -> None:
    config = _rails(tmp_path, lab.servers["starttls"].port, "enable_starttls: true, " + _login(lab))
    code, doc, raw = _json(str(config), "--env", str(_env(tmp_path, SMTP_PASSWORD=lab.password)))
    assert code == 0 and doc["prediction"]["verdict"] == "delivered"
    assert doc["asked"]["login"] == "ok" and "accepted the app's own login" in doc["prediction"]["why"]
    assert lab.password not in raw


def test_a_literal_or_a_file_the_config_reads_is_the_password(lab: LabInfo, tmp_path: Path) -> None:
    """Readers drop secrets; login.app_password reads them back from where the app reads them."""
    secret = tmp_path / "smtp_password"
    secret.write_text(lab.password + "\n")
    literal = _rails(tmp_path, lab.servers["implicit"].port, "tls: true, " + _login(lab, f"'{CANARY}'"), "lit")
    from_file = _rails(tmp_path, lab.servers["implicit"].port,
                       "tls: true, " + _login(lab, f'File.read("{secret}").strip'), "file")
    assert app_password(read_file(literal)[0], None) == CANARY
    assert app_password(read_file(from_file)[0], None) == lab.password
    code, doc, raw = _json(str(literal))
    assert code == 1 and doc["prediction"]["failure"] == "auth_bad_credentials" and CANARY not in raw
    code, doc, raw = _json(str(from_file))
    assert code == 0 and doc["asked"]["login"] == "ok" and lab.password not in raw


def test_a_plaintext_server_is_not_tried_would_be_in_clear(lab: LabInfo, tmp_path: Path) -> None:
    config = _rails(tmp_path, lab.servers["plain"].port, _login(lab))
    env = _env(tmp_path, SMTP_PASSWORD=CANARY)
    code, doc, raw = _json(str(config), "--env", str(env))
    assert doc["asked"]["login"] == "not_tried" and doc["asked"]["login_reason"] == "in_clear"
    assert "credentials_in_clear" in doc["prediction"]["risks"]
    code, out, err = _run(str(config), "--env", str(env))
    assert "Login not tried: the password would travel in clear" in out
    assert CANARY not in raw and CANARY not in out + err


@pytest.mark.parametrize(("server", "extra", "args", "reason"), [
    ("starttls", "", ("--no-login",), "opted_out"),
    # the app's own credentials store: the app has the password, check cannot read it (an ENV['SMTP_PASSWORD']
    # set nowhere is nil to the app: net-smtp's ArgumentError, test_check_creds.py)
    ("starttls", "", (), "no_password"),
    ("self-signed", "openssl_verify_mode: 'none',", (), "unverified"),
])
def test_when_it_did_not_try_it_says_why(lab: LabInfo, tmp_path: Path, server: str, extra: str,
                                         args: tuple[str, ...], reason: str) -> None:
    login = _login(lab, "Rails.application.credentials.smtp_password") if reason == "no_password" else _login(lab)
    config = _rails(tmp_path, lab.servers[server].port, f"enable_starttls: true, {extra} " + login)
    env_args = ("--env", str(_env(tmp_path, SMTP_PASSWORD=CANARY))) if reason != "no_password" else ()
    code, doc, raw = _json(str(config), *env_args, *args)
    assert doc["asked"]["login"] == "not_tried" and doc["asked"]["login_reason"] == reason
    assert doc["prediction"]["verdict"] == "delivered" and "was not tested" in doc["prediction"]["why"]
    assert CANARY not in raw


def test_a_server_quoting_the_password_back_never_gets_it_printed(tmp_path: Path) -> None:
    with running(tmp_path / "forge", echo_secrets=True) as forge:
        config = _rails(tmp_path, forge.port, f"user_name: 'u', password: '{CANARY}', authentication: :plain, "
                                              f"ca_file: '{forge.ca_file}',")
        code, doc, raw = _json(str(config))
        code_text, out, err = _run(str(config))
    assert doc["asked"]["login"] == "refused" and "535" in doc["prediction"]["error_text"]
    assert code == code_text == 1
    assert CANARY not in raw and CANARY not in out + err and "\x1b" not in out


def test_django_wrong_password_is_smtplibs_authentication_error(lab: LabInfo, tmp_path: Path) -> None:
    settings = tmp_path / "settings.py"
    settings.write_text("import os\nEMAIL_BACKEND = 'django.core.mail.backends.smtp.EmailBackend'\n"
                        f"EMAIL_HOST = '127.0.0.1'\nEMAIL_PORT = {lab.servers['starttls'].port}\nEMAIL_USE_TLS = True\n"
                        f"EMAIL_HOST_USER = '{lab.user}'\nEMAIL_HOST_PASSWORD = os.environ['EMAIL_PASSWORD']\n")
    env = _env(tmp_path, EMAIL_PASSWORD=CANARY, SSL_CERT_FILE=str(lab.ca_file))
    code, doc, raw = _json(str(settings), "--env", str(env))
    assert code == 1 and doc["prediction"]["failure"] == "auth_bad_credentials"
    assert doc["prediction"]["error_text"].startswith("smtplib.SMTPAuthenticationError: (535, b'")
    assert CANARY not in raw


def test_envelope_accepted_is_asked_without_data(lab: LabInfo, tmp_path: Path) -> None:
    config = _rails(tmp_path, lab.servers["starttls"].port, "enable_starttls: true, " + _login(lab))
    env = _env(tmp_path, SMTP_PASSWORD=lab.password)
    before = lab.mailbox.received
    code, doc, raw = _json(str(config), "--env", str(env), "--envelope", "app@example.com,someone@example.org")
    assert code == 0 and doc["asked"]["login"] == "ok"
    assert doc["asked"]["envelope"]["answer"] == "accepted"
    assert sorted(doc["asked"]["envelope"]["replies"]) == ["mail", "rcpt"]
    assert lab.mailbox.received == before  # MAIL, RCPT, RSET: never DATA


def test_envelope_refused_is_the_apps_failure_with_the_servers_words_inert(tmp_path: Path) -> None:
    with running(tmp_path / "forge", reject=True) as forge:
        config = _rails(tmp_path, forge.port, f"ca_file: '{forge.ca_file}',")
        code, doc, _ = _json(str(config), "--envelope-from", "app@example.com", "--envelope-to", "x@example.org")
        code_text, out, _ = _run(str(config), "--envelope", "app@example.com,x@example.org")
    pred = doc["prediction"]
    assert code == code_text == 1 and (pred["failure"], pred["stage"]) == ("sender_rejected", "mail")
    assert pred["error_text"].startswith("Net::SMTPFatalError: 550")
    assert doc["asked"]["envelope"]["failed_phase"] == "mail"
    assert "\x1b" not in out and "\u202e" not in out and "Asked the server MAIL FROM:<app@example.com>" in out


@pytest.mark.parametrize("args", [("--envelope", "only@example.com"), ("--envelope", "a b@example.com,c@x.org"),
                                  ("--envelope-to", "c@example.org")])
def test_a_bad_envelope_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    config = _rails(tmp_path, 1, "")
    code, out, err = _run(str(config), *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(("greeting", "failure", "words"), [
    (554, "policy_rejected", "Net::SMTPFatalError: 554"), (421, "temp_failure", "Net::SMTPServerBusy: 421")])
def test_a_refusing_greeting_predicts_failure_in_the_servers_words(tmp_path: Path, greeting: int, failure: str,
                                                                   words: str) -> None:
    with running(tmp_path / "forge", greeting=greeting) as forge:
        config = _rails(tmp_path, forge.port, "")
        code, doc, _ = _json(str(config))
        code_text, out, _ = _run(str(config))
    pred = doc["prediction"]
    assert code == code_text == 1 and (pred["verdict"], pred["failure"], pred["stage"]) == ("fails", failure,
                                                                                            "greeting")
    assert pred["error_text"].startswith(words) and "forge.lab ESMTP" in pred["error_text"]
    assert "It will deliver" not in out and "\x1b" not in out and "\u202e" not in out


def test_envelope_dataclass_is_what_the_cli_passes() -> None:
    from smtp_doctor.login import envelope_of, envelope_pair

    assert envelope_of(envelope_pair("a@example.com, b@example.org", None, None)) == Envelope("a@example.com",
                                                                                              "b@example.org")
    assert envelope_pair(None, None, None) is None


def test_nodemailer_wrong_password_is_its_invalid_login(lab: LabInfo, tmp_path: Path) -> None:
    js = tmp_path / "mailer.js"
    js.write_text("const fs = require('fs');\nconst nodemailer = require('nodemailer');\n"
                  "module.exports = nodemailer.createTransport({ host: '127.0.0.1',"
                  f" port: {lab.servers['implicit'].port}, secure: true,"
                  f" auth: {{ user: '{lab.user}', pass: process.env.SMTP_PASS }},"
                  f" tls: {{ ca: [fs.readFileSync('{lab.ca_file}')] }} }});\n")
    code, doc, raw = _json(str(js), "--env", str(_env(tmp_path, SMTP_PASS=CANARY)))
    assert code == 1 and doc["prediction"]["failure"] == "auth_bad_credentials"
    said = doc["prediction"]["error_text"]
    assert said.startswith("Error: Invalid login: 535") and "EAUTH" in said
    assert CANARY not in raw


def test_japanese_says_why_it_did_not_log_in(lab: LabInfo, tmp_path: Path) -> None:
    config = _rails(tmp_path, lab.servers["plain"].port, _login(lab))
    env = {k: v for k, v in os.environ.items() if k != "SMTP_PASSWORD"}
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "ja", "check", str(config), "--env",
                           str(_env(tmp_path, SMTP_PASSWORD=CANARY))], capture_output=True, text=True, timeout=120,
                          env=env)
    assert "ログインは試していません" in done.stdout and "平文" in done.stdout
    assert CANARY not in done.stdout + done.stderr


def test_a_refusing_greeting_inside_implicit_tls_comes_after_the_handshake(tmp_path: Path) -> None:
    """Greeted inside TLS: the app verifies the certificate first, then reads the 421."""
    import asyncio
    import ssl
    import threading

    import trustme

    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    loop = asyncio.new_event_loop()

    async def busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.7.0 busy.test too many connections, try again later\r\n")
        await writer.drain()
        with contextlib.suppress(TimeoutError, OSError, ssl.SSLError):
            await asyncio.wait_for(reader.readline(), 5)
        writer.close()

    server = loop.run_until_complete(asyncio.start_server(busy, "127.0.0.1", 0, ssl=ctx))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        port = server.sockets[0].getsockname()[1]
        good = _rails(tmp_path, port, f"tls: true, ca_file: '{ca_file}',", "good")
        code, doc, _ = _json(str(good))
        pred = doc["prediction"]
        assert code == 1 and (pred["failure"], pred["stage"], pred["channel"]) == ("temp_failure", "greeting",
                                                                                  "implicit_tls")
        assert pred["error_text"].startswith("Net::SMTPServerBusy: 421")
        untrusted = _rails(tmp_path, port, "tls: true,", "untrusted")  # the system store: the TLS failure first
        code, doc, _ = _json(str(untrusted))
        assert code == 1 and doc["prediction"]["failure"].startswith("cert_")
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int]]]:
    with scripted_in_thread(tmp_path_factory.mktemp("scripted")) as servers:
        yield servers


@pytest.mark.parametrize(("name", "answer", "failure"), [("rcpt-refuse-close", "refused", "relay_denied"),
                                                           ("mail-close", "broken", None),
                                                           ("rcpt-malformed", "broken", None)])
def test_a_hostile_envelope_answer_is_reported_never_a_traceback(scripted: tuple[Path, dict[str, int]],
                                                                  tmp_path: Path, name: str, answer: str,
                                                                  failure: str | None) -> None:
    config = _rails(tmp_path, scripted[1][name], "")
    code, doc, raw = _json(str(config), "--envelope", "app@example.com,x@example.org")
    assert doc["asked"]["envelope"]["answer"] == answer and "Traceback" not in raw
    assert doc["prediction"]["failure"] == failure and code == (1 if failure else 0)


@pytest.mark.parametrize("name", ["auth-close", "auth-reset", "auth-endless-challenges"])
def test_a_login_the_server_breaks_off_says_so(scripted: tuple[Path, dict[str, int]], tmp_path: Path,
                                               name: str) -> None:
    ca_file, ports = scripted
    config = _rails(tmp_path, ports[f"{name}+tls"], f"enable_starttls: true, user_name: 'u', password: '{CANARY}', "
                                                    f"authentication: :plain, ca_file: '{ca_file}',")
    code, doc, raw = _json(str(config))
    assert doc["asked"]["login"] == "broken" and doc["asked"]["login_reason"] and "Traceback" not in raw
    assert CANARY not in raw


# -- msmtp's passwordeval: never run; a command that only prints a variable is read as that variable ----------


def _msmtprc(tmp_path: Path, lab: LabInfo, passwordeval: str) -> Path:
    d = tmp_path / "home"
    d.mkdir(exist_ok=True)
    rc = d / ".msmtprc"
    rc.write_text(f"account a\nhost 127.0.0.1\nport {lab.servers['starttls'].port}\nauth on\nuser {lab.user}\n"
                  f"from app@example.com\ntls on\ntls_starttls on\ntls_trust_file {lab.ca_file}\n"
                  f"passwordeval {passwordeval}\naccount default : a\n")
    rc.chmod(0o600)
    return rc


@pytest.mark.parametrize("command", ['"printenv SMTP_PASSWORD"', 'echo "$SMTP_PASSWORD"'])
def test_msmtp_passwordeval_that_prints_a_variable_is_tried_with_env(lab: LabInfo, tmp_path: Path,
                                                                      command: str) -> None:
    """What `config --for msmtp` writes: check reads the variable from --env (running nothing) and logs in;
    real msmtp agrees on both passwords."""
    rc = _msmtprc(tmp_path, lab, command)
    code, doc, raw = _json(str(rc), "--env", str(_env(tmp_path, SMTP_PASSWORD=CANARY)))
    assert code == 1 and doc["asked"]["login"] == "refused" and CANARY not in raw
    code, doc, raw = _json(str(rc), "--env", str(_env(tmp_path, SMTP_PASSWORD=lab.password)))
    assert code == 0 and doc["asked"]["login"] == "ok"
    if shutil.which("msmtp"):
        for password, ok in ((CANARY, False), (lab.password, True)):
            done = subprocess.run(["msmtp", "-C", str(rc), "rcpt@example.com"], input="Subject: x\n\ncheck\n",
                                  capture_output=True, text=True, timeout=60,
                                  env=dict(os.environ, SMTP_PASSWORD=password))
            assert (done.returncode == 0) is ok, done.stderr


def test_msmtp_passwordeval_command_is_never_run(lab: LabInfo, tmp_path: Path) -> None:
    """Any other command is the user's to run: check does not run it (the marker file stays absent) and
    says it did not try the login."""
    marker = tmp_path / "ran"
    rc = _msmtprc(tmp_path, lab, f'"touch {marker}; printf %s x"')
    code, doc, raw = _json(str(rc))
    assert not marker.exists()
    assert doc["asked"]["login"] == "not_tried" and code == 0
