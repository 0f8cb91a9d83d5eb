"""`check` predicts what the real framework does: Rails ActionMailer, Django and Python smtplib against the lab.

Each cell writes a real config file (a Rails production.rb, a Django settings.py), asks `smtp-doctor check
--json` what the app will do, then runs the real framework on that very file in a subprocess (Ruby loads the
production.rb with a two-line Rails stand-in; Django imports the settings.py) and compares: same outcome,
same failure mode, and the message landed in the lab's mailbox when delivered. smtplib has no config file, so
its cells build Settings by hand and call plan/predict on the probe's facts directly.

The real error texts are kept in tests/fixtures/check/real_texts.toml with client and version; where the
predicted text differs from the real one, the fixture is what says so (SMTP_DOCTOR_UPDATE_FIXTURES=1 rewrites it).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from smtp_doctor.plan import plan
from smtp_doctor.predict import Verdict, predict
from smtp_doctor.probe import ProbeOptions, probe_host
from smtp_doctor.settings import Setting, Settings, TLSMode

FIXTURE = Path(__file__).parent / "fixtures" / "check" / "real_texts.toml"
UPDATE = bool(os.environ.get("SMTP_DOCTOR_UPDATE_FIXTURES"))
TIMEOUT = 60

RUBY = r'''
require "action_mailer"
module Rails  # just enough of Rails for config/environments/*.rb to configure ActionMailer
  class Config
    def action_mailer = ActionMailer::Base
    def method_missing(*) = nil
    def respond_to_missing?(*) = true
  end
  class App
    def config = (@config ||= Config.new)
    def configure(&block) = instance_eval(&block)
  end
  def self.application = (@app ||= App.new)
end
ActionMailer::Base.raise_delivery_errors = true
load ARGV[0]
class CheckMailer < ActionMailer::Base
  def hello(subject) = mail(from: "app@example.com", to: "rcpt@example.com", subject: subject, body: "check")
end
begin
  CheckMailer.hello(ARGV[1]).deliver_now
  puts "DELIVERED"
rescue Exception => e
  puts "ERROR #{e.class}: #{e.message}"
end
'''

DJANGO = r'''
import os, sys
sys.path.insert(0, sys.argv[1])
os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
import django
django.setup()
from django.core.mail import send_mail
try:
    send_mail(sys.argv[2], "check", "app@example.com", ["rcpt@example.com"])
    print("DELIVERED")
except Exception as e:
    kind = type(e)
    print(f"ERROR {'' if kind.__module__ == 'builtins' else kind.__module__ + '.'}{kind.__qualname__}: {e}")
'''

# The app a smtplib user writes, driven by the plan's mode (what the hand-built Settings say).
SMTPLIB = r'''
import json, smtplib, ssl, sys
p = json.loads(sys.argv[1])
ctx = ssl.create_default_context(cafile=p["cafile"])
try:
    if p["mode"] == "implicit":
        s = smtplib.SMTP_SSL(p["host"], p["port"], context=ctx, timeout=p["timeout"])
    else:
        s = smtplib.SMTP(p["host"], p["port"], timeout=p["timeout"])
        s.ehlo()
        if p["mode"] == "starttls" or (p["mode"] == "starttls-auto" and s.has_extn("starttls")):
            s.starttls(context=ctx)
    if p["user"]:
        s.login(p["user"], p["password"])
    s.sendmail("app@example.com", ["rcpt@example.com"], f"Subject: {p['subject']}\r\n\r\ncheck")
    s.quit()
    print("DELIVERED")
except Exception as e:
    kind = type(e)
    print(f"ERROR {'' if kind.__module__ == 'builtins' else kind.__module__ + '.'}{kind.__qualname__}: {e}")
'''


@dataclass(frozen=True)
class Cell:
    id: str
    server: str
    config: str  #: the smtp_settings hash (Ruby), the settings.py body (Django), JSON knobs (smtplib)
    expect: str  #: "delivered" or the failure mode: what the real framework is known to do (and check must say)
    ca_env: bool = False  #: SSL_CERT_FILE = the lab CA in the app's environment (Django's only CA knob)


AM = "address: '127.0.0.1', port: {port}, read_timeout: 3, open_timeout: 3"
CREDS_RB = "user_name: '{user}', password: '{password}'"
ACTIONMAILER = [
    Cell("tls_true_on_starttls", "starttls", f"{AM}, tls: true", "implicit_tls_on_plain_port"),
    Cell("seed_tls_587_on_starttls", "starttls", f"{AM}, tls: 587, openssl_verify_mode: 'peer'",
         "implicit_tls_on_plain_port"),
    Cell("defaults_on_implicit", "implicit", "address: '127.0.0.1', port: {port}, read_timeout: 2",
         "plain_on_implicit_port"),
    Cell("peer_without_ca_file", "starttls", f"{AM}, openssl_verify_mode: 'peer', {CREDS_RB}, authentication: :login",
         "cert_unknown_issuer"),
    Cell("peer_with_ca_file", "starttls",
         f"{AM}, openssl_verify_mode: 'peer', ca_file: '{{ca}}', {CREDS_RB}, authentication: :plain", "delivered"),
    Cell("starttls_auto_on_plain", "plain", f"{AM}, {CREDS_RB}", "delivered"),
    Cell("tls_on_implicit_with_ca_file", "implicit", f"{AM}, tls: true, ca_file: '{{ca}}', {CREDS_RB}", "delivered"),
    Cell("expired", "expired", f"{AM}, ca_file: '{{ca}}'", "cert_expired"),
    Cell("wrong_name", "wrong-name", f"{AM}, ca_file: '{{ca}}'", "cert_hostname_mismatch"),
    Cell("self_signed", "self-signed", f"{AM}, ca_file: '{{ca}}'", "cert_self_signed"),
    # the leaf alone, no AIA, the app's private CA file: a missing intermediate and a wrong CA look the same
    # from here, and the real text is "unable to get local issuer certificate" either way (issue 12)
    Cell("missing_intermediate", "missing-intermediate", f"{AM}, ca_file: '{{ca}}'", "cert_unknown_issuer"),
    Cell("enable_starttls_on_plain", "plain", f"{AM}, enable_starttls: true", "starttls_not_offered"),
    Cell("cram_md5_where_only_plain", "auth-plain-only",
         f"{AM}, tls: true, ca_file: '{{ca}}', {CREDS_RB}, authentication: :cram_md5", "auth_mechanism"),
    # mail 2.7 + net-smtp >= 0.3: false does not switch STARTTLS off, and that STARTTLS ignores ca_file
    Cell("starttls_auto_false_on_starttls", "starttls", f"{AM}, enable_starttls_auto: false, ca_file: '{{ca}}'",
         "cert_unknown_issuer"),
]

DJ = "EMAIL_HOST = '127.0.0.1'\nEMAIL_PORT = {port}\nEMAIL_TIMEOUT = 2\n"
CREDS_PY = "EMAIL_HOST_USER = '{user}'\nEMAIL_HOST_PASSWORD = '{password}'\n"
DJANGO_CELLS = [
    Cell("use_tls_on_implicit", "implicit", DJ + "EMAIL_USE_TLS = True\n", "plain_on_implicit_port"),
    Cell("use_ssl_on_starttls", "starttls", DJ + "EMAIL_USE_SSL = True\n", "implicit_tls_on_plain_port"),
    Cell("use_tls_system_store", "starttls", DJ + "EMAIL_USE_TLS = True\n", "cert_unknown_issuer"),
    Cell("use_tls_lab_ca", "starttls", DJ + "EMAIL_USE_TLS = True\n" + CREDS_PY, "delivered", ca_env=True),
    Cell("use_ssl_on_implicit", "implicit", DJ + "EMAIL_USE_SSL = True\n" + CREDS_PY, "delivered", ca_env=True),
    Cell("no_tls_on_starttls_with_login", "starttls", DJ + CREDS_PY, "starttls_required"),
    Cell("no_tls_on_plain_with_login", "plain", DJ + CREDS_PY, "delivered"),
    Cell("use_tls_on_plain", "plain", DJ + "EMAIL_USE_TLS = True\n", "starttls_not_offered"),
    Cell("wrong_name", "wrong-name", DJ + "EMAIL_USE_TLS = True\n", "cert_hostname_mismatch", ca_env=True),
    Cell("expired", "expired", DJ + "EMAIL_USE_TLS = True\n", "cert_expired", ca_env=True),
    Cell("no_usable_mechanism", "auth-xoauth2", DJ + "EMAIL_USE_SSL = True\n" + CREDS_PY, "auth_mechanism",
         ca_env=True),
]

SMTPLIB_CELLS = [
    Cell("ssl_on_starttls", "starttls", '{"mode": "implicit", "ca": true}', "implicit_tls_on_plain_port"),
    Cell("starttls_on_implicit", "implicit", '{"mode": "starttls", "ca": true}', "plain_on_implicit_port"),
    Cell("starttls_with_cafile", "starttls", '{"mode": "starttls", "ca": true, "login": true}', "delivered"),
    Cell("starttls_system_store", "starttls", '{"mode": "starttls", "ca": false}', "cert_unknown_issuer"),
    Cell("starttls_on_plain", "plain", '{"mode": "starttls", "ca": true}', "starttls_not_offered"),
    Cell("starttls_self_signed", "self-signed", '{"mode": "starttls", "ca": true}', "cert_self_signed"),
    Cell("auto_on_plain_with_login", "plain", '{"mode": "starttls-auto", "ca": true, "login": true}', "delivered"),
]

VERSIONS: dict[str, str] = {}


def _version(client: str) -> str:
    if client not in VERSIONS:
        if client == "actionmailer":
            script = 'require "action_mailer"; require "mail"; require "net/smtp"; ' \
                     'print "ActionMailer #{ActionMailer.version}, mail #{Mail::VERSION.version}, ' \
                     'net-smtp #{Net::SMTP::VERSION}, Ruby #{RUBY_VERSION}, #{OpenSSL::OPENSSL_LIBRARY_VERSION}"'
            VERSIONS[client] = subprocess.run(["ruby", "-e", script], capture_output=True, text=True,
                                              timeout=TIMEOUT).stdout.strip()
        else:
            import ssl

            import django

            prefix = f"Django {django.get_version()}, " if client == "django" else ""
            VERSIONS[client] = f"{prefix}Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}"
    return VERSIONS[client]


def _mail_gem() -> str:
    return _version("actionmailer").split("mail ")[1].split(",")[0]


def _fill(text: str, lab: LabInfo, server: str) -> str:
    return text.format(port=lab.servers[server].port, ca=lab.ca_file, user=lab.user, password=lab.password)


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("DELIVERED", "ERROR "))]
    assert lines, f"the app printed no outcome: {done.stdout}{done.stderr}"
    return lines[-1]


def _delivered(lab: LabInfo, subject: str) -> bool:
    return any(subject.encode() in (m.content if isinstance(m.content, bytes) else str(m.content).encode())
               for m in list(lab.mailbox.messages))


def _check(path: Path, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["check", str(path), "--json", "--timeout", "20", *extra])
    assert result.exit_code in (0, 1, 3), result.output
    doc = json.loads(result.output)
    assert doc["exit_code"] == result.exit_code
    return doc


def _normal(text: str) -> str:
    """Ports are ephemeral; everything else must match word for word."""
    return re.sub(r"(127\.0\.0\.1|localhost):\d+", r"\1:<port>", text)


def _record(client: str, cell: Cell, real: str, predicted: str | None, outcome: str) -> None:
    """Compare the real words with the prediction; the fixture holds the real ones with client and version."""
    real_n = _normal(real.removeprefix("ERROR "))
    stored = tomllib.loads(FIXTURE.read_text(encoding="utf-8")) if FIXTURE.exists() else {}
    key = f"{client}.{cell.id}"
    entry = stored.get(client, {}).get(cell.id)
    if UPDATE:
        stored.setdefault(client, {})[cell.id] = {
            "client": client, "version": _version(client), "server": cell.server, "outcome": outcome,
            "real": real_n, "predicted": _normal(predicted) if predicted else ""}
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(_dump(stored), encoding="utf-8")
        return
    if outcome == "delivered":
        return
    assert entry is not None, f"{key}: no fixture; run with SMTP_DOCTOR_UPDATE_FIXTURES=1"
    # Meaning, not bytes: another patch release of the framework may word it otherwise; explain must still
    # name the same failure mode for today's words as for the stored ones.
    from smtp_doctor.explain import explain

    then, now = explain(entry["real"]).best, explain(real_n).best
    assert (then and then.mode.id) == (now and now.mode.id), (
        f"{key}: the real text means something else now ({_version(client)}): {real_n!r}")
    if predicted is not None and _normal(predicted) != real_n and entry["predicted"]:
        # the prediction's words differ from the real ones: that difference must be the recorded one
        assert entry["predicted"] == _normal(predicted), f"{key}: predicted {predicted!r}, fixture says otherwise"


def _dump(data: dict[str, dict[str, dict[str, str]]]) -> str:
    out = ["# Real error texts of the real frameworks against the lab (tests/test_check_real.py).",
           "# `real` = what the framework printed (ports replaced by <port>), `predicted` = what check said.",
           "# Regenerate: SMTP_DOCTOR_UPDATE_FIXTURES=1 .venv/bin/pytest tests/test_check_real.py", ""]
    for client in sorted(data):
        for cell in sorted(data[client]):
            out.append(f"[{client}.{cell}]")
            out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in data[client][cell].items()]
            out.append("")
    return "\n".join(out)


def _agree(doc: dict[str, object], real: str, cell: Cell) -> tuple[str, str | None]:
    configs = doc["configs"]
    assert isinstance(configs, list) and len(configs) == 1
    pred = configs[0]["prediction"]
    outcome = "delivered" if real == "DELIVERED" else "failed"
    assert real == "DELIVERED" or real.startswith("ERROR "), real
    said = "delivered" if pred["verdict"] == "delivered" else pred["failure"]
    assert said == cell.expect, f"check said {said}, the cell expects {cell.expect}; real: {real}"
    assert (pred["verdict"] == "delivered") == (outcome == "delivered"), (pred, real)
    return outcome, pred["error_text"]


# -- Rails ActionMailer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ACTIONMAILER, ids=lambda c: c.id if isinstance(c, Cell) else None)
def test_actionmailer_does_what_check_predicts(cell: Cell, lab: LabInfo, tmp_path: Path) -> None:
    if shutil.which("ruby") is None or subprocess.run(["ruby", "-e", 'require "action_mailer"'],
                                                      capture_output=True, timeout=TIMEOUT).returncode:
        pytest.skip("ruby-actionmailer is not installed (scripts/install-system-deps.sh installs it)")
    env_dir = tmp_path / "config" / "environments"
    env_dir.mkdir(parents=True)
    config = env_dir / "production.rb"
    config.write_text("Rails.application.configure do\n  config.action_mailer.delivery_method = :smtp\n"
                      f"  config.action_mailer.smtp_settings = {{ {_fill(cell.config, lab, cell.server)} }}\nend\n")
    doc = _check(config, "--framework-version", _mail_gem())
    subject = f"check-{uuid.uuid4()}"
    script = tmp_path / "app.rb"
    script.write_text(RUBY)
    real = _run(["ruby", str(script), str(config), subject], dict(os.environ))
    outcome, predicted = _agree(doc, real, cell)
    assert (outcome == "delivered") == _delivered(lab, subject), real
    _record("actionmailer", cell, real, predicted, outcome)


# -- Django ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", DJANGO_CELLS, ids=lambda c: c.id)
def test_django_does_what_check_predicts(cell: Cell, lab: LabInfo, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("django", reason="Django comes with the test extra (pip install -e '.[test]')")
    (tmp_path / "settings.py").write_text(_fill(cell.config, lab, cell.server))
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    if cell.ca_env:
        env["SSL_CERT_FILE"] = str(lab.ca_file)
        monkeypatch.setenv("SSL_CERT_FILE", str(lab.ca_file))  # check verifies with the app's environment
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    doc = _check(tmp_path / "settings.py", "--framework", "django")
    subject = f"check-{uuid.uuid4()}"
    script = tmp_path / "app.py"
    script.write_text(DJANGO)
    real = _run([sys.executable, str(script), str(tmp_path), subject], env)
    outcome, predicted = _agree(doc, real, cell)
    assert (outcome == "delivered") == _delivered(lab, subject), real
    _record("django", cell, real, predicted, outcome)


# -- Python smtplib (no config file: Settings by hand) -------------------------------------------------------


@pytest.mark.parametrize("cell", SMTPLIB_CELLS, ids=lambda c: c.id)
def test_smtplib_does_what_predict_says(cell: Cell, lab: LabInfo, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    knobs = json.loads(cell.config)
    server = lab.servers[cell.server]
    cafile = str(lab.ca_file) if knobs["ca"] else None
    login = bool(knobs.get("login"))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    settings = Settings(framework="smtplib", source="app.py", host=Setting("127.0.0.1"), port=Setting(server.port),
                        tls_mode=Setting(TLSMode(knobs["mode"])), verify_peer=Setting(True),
                        verify_hostname=Setting(True), ca_file=Setting(cafile) if cafile else None,
                        auth_mechanism=Setting("auto" if login else "none"),
                        username=Setting(lab.user) if login else None, has_password=login, read_timeout=Setting(2.0))
    p = plan(settings)
    facts = asyncio.run(probe_host("127.0.0.1", [server.port], ProbeOptions(timeout=20, ca_file=cafile))).ports[0]
    prediction = predict(p, facts)
    subject = f"check-{uuid.uuid4()}"
    params = {"mode": knobs["mode"], "host": "127.0.0.1", "port": server.port, "cafile": cafile, "timeout": 2,
              "user": lab.user if login else None, "password": lab.password, "subject": subject}
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    real = _run([sys.executable, "-c", SMTPLIB, json.dumps(params)], env)
    said = "delivered" if prediction.verdict is Verdict.DELIVERED else prediction.failure
    assert said == cell.expect, (prediction, real)
    outcome = "delivered" if real == "DELIVERED" else "failed"
    assert (outcome == "delivered") == (prediction.verdict is Verdict.DELIVERED), (prediction, real)
    assert (outcome == "delivered") == _delivered(lab, subject), real
    _record("smtplib", cell, real, prediction.text, outcome)


def test_risky_delivery_is_called_out(lab: LabInfo, tmp_path: Path) -> None:
    """starttls-auto on a server without STARTTLS delivers, and check says the password went in clear."""
    env_dir = tmp_path / "config" / "environments"
    env_dir.mkdir(parents=True)
    config = env_dir / "production.rb"
    hash_src = _fill(f"{AM}, {CREDS_RB}", lab, "plain")
    config.write_text(f"Rails.application.configure do\n  config.action_mailer.smtp_settings = {{ {hash_src} }}\nend\n")
    doc = _check(config, "--framework-version", "2.7.1")
    pred = doc["configs"][0]["prediction"]  # type: ignore[index]
    assert pred["verdict"] == "delivered" and "credentials_in_clear" in pred["risks"]
    assert lab.password not in json.dumps(doc)
