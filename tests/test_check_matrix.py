"""The check/fix matrix (issue 12): new app configurations through `check`, the real framework, `fix`, and the
real framework again.

tests/fixtures/check/matrix.toml holds the configurations and the dev / held-out split (recorded once, checked
against its rule here). For every cell the app folder is written as the file says, `smtp-doctor check --json`
predicts, and the real framework sends through the same lab server with the same environment: Debian's
ActionMailer 6.1 (mail 2.7.1, net-smtp 0.3.1; a Rails stand-in loads config/environments/production.rb, then
config/initializers/**/*.rb in sorted order, and implements railties 6.1's config_for), Django and Flask-Mail
from the venv, nodemailer 6 and 10 from npm prefixes, Debian's msmtp. Check agrees when the outcome is the same
and, for a failure, the failure mode is the one `explain` reads in the real text (a generic reading accepts
any mode of its family). Fixable cells then go through `fix --write` and the real framework again.

Meaning, not bytes: nothing here compares the real texts word for word. The held-out figures are what
docs/check.md and docs/fix.md report; the summary test asserts them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.explain import explain
from smtp_doctor.lab import LabInfo
from test_check_real import DJANGO, _delivered

MATRIX = Path(__file__).parent / "fixtures" / "check" / "matrix.toml"
CELLS: list[dict[str, Any]] = tomllib.loads(MATRIX.read_text(encoding="utf-8"))["cell"]
TIMEOUT = 25  #: one real send; Flask-Mail has no timeout of its own, so a hang ends here as "TIMEOUT"
NODE = {"nodemailer6": Path("/opt/smtp-doctor-peers/node/node_modules"),
        "nodemailer10": Path("/opt/smtp-doctor-peers/node10/node_modules")}

#: The end of every Ruby runner: send one message through ActionMailer, print DELIVERED or the error
SEND_ONE = r'''  class CheckMailer < ActionMailer::Base
    def hello(subject) = mail(from: "app@example.com", to: "rcpt@example.com", subject: subject, body: "check")
  end
  CheckMailer.hello(ARGV[1]).deliver_now
  puts "DELIVERED"
rescue Exception => e
  puts "ERROR #{e.class}: #{e.message}"
end
'''

RUBY = r'''
require "action_mailer"
require "yaml"
require "erb"
require "active_support/core_ext/hash/keys"
require "active_support/core_ext/hash/deep_merge"
require "active_support/ordered_options"
ROOT = ARGV[0]
module Rails  # enough of Rails for config/environments/*.rb, config/initializers and config_for
  class Config
    def action_mailer = ActionMailer::Base
    def method_missing(*) = nil
    def respond_to_missing?(*) = true
  end
  class App
    def config = (@config ||= Config.new)
    def configure(&block) = instance_eval(&block)
    # railties 6.1 lib/rails/application.rb config_for: the YAML through ERB, keys symbolised, env over shared
    def config_for(name, env: "production")
      yaml = File.join(ROOT, "config", "#{name}.yml")
      raise "Could not load configuration. No such file - #{yaml}" unless File.exist?(yaml)
      text = ERB.new(File.read(yaml)).result
      all = (YAML.respond_to?(:unsafe_load) ? YAML.unsafe_load(text) : YAML.load(text)) || {}
      all = all.deep_symbolize_keys
      ActiveSupport::OrderedOptions.new.update((all[:shared] || {}).deep_merge(all[env.to_sym] || {}))
    end
  end
  def self.application = (@app ||= App.new)
end
ActionMailer::Base.raise_delivery_errors = true
begin
  app = File.join(ROOT, "config", "application.rb")
  load app if File.exist?(app)
  load File.join(ROOT, "config", "environments", "production.rb")
  Dir[File.join(ROOT, "config", "initializers", "**", "*.rb")].sort.each { |f| load f }
''' + SEND_ONE

FLASK = r'''
import sys
from flask import Flask
from flask_mail import Mail, Message
app = Flask("app")
app.config.from_pyfile(sys.argv[1])
mail = Mail(app)
with app.app_context():
    try:
        mail.send(Message(sys.argv[2], recipients=["rcpt@example.com"], body="check", sender="app@example.com"))
        print("DELIVERED")
    except Exception as e:
        kind = type(e)
        print(f"ERROR {'' if kind.__module__ == 'builtins' else kind.__module__ + '.'}{kind.__qualname__}: {e}")
'''

NODE_APP = r'''
const transport = require(process.argv[2]);
transport.sendMail({ from: 'app@example.com', to: 'rcpt@example.com', subject: process.argv[3], text: 'check' })
  .then(() => console.log('DELIVERED'))
  .catch((err) => console.log('ERROR ' + err.message + (err.code ? " (code: '" + err.code + "')" : '')));
'''

#: a generic reading of the real text accepts any mode of its family; waiting for ever is one failure
FAMILY = {"cert_verify_failed": "cert_", "connect_failed_unspecified": "", "TIMEOUT": "wait"}
#: one failure read at two depths: a port, a scheme or a blank written into the host makes a name DNS does not
#: know; Node and Java name the host they looked up ("ENOTFOUND h:587", read as host_with_port) where Python's
#: gaierror does not (dns_failure)
SAME = [{"dns_failure", "host_with_port", "host_with_scheme", "host_with_blanks"}]
WAITS = {"plain_on_implicit_port", "greeting_timeout", "conn_timeout"}


@dataclass
class Row:
    cell: str
    half: str
    runner: str
    said: str = ""  #: check: "delivered" or its failure mode or "unknown"
    real: str = ""  #: the real framework: "delivered" or explain's reading of its text
    agree: bool = False
    exit_code: int | None = None
    fixable: bool = False
    fix_delivers: bool | None = None  #: None: not a fix case (not fixable, or it delivered already)
    fix_claimed: bool | None = None
    fix_unsafe: bool = False
    notes: list[str] = field(default_factory=list)


ROWS: dict[str, Row] = {}


def _half_of(cid: str) -> str:
    base = cid.rsplit("_v", 1)[0] if cid.startswith("nm_") else cid
    return "heldout" if int(hashlib.sha256(base.encode()).hexdigest(), 16) % 2 else "dev"


def test_the_split_is_the_recorded_one() -> None:
    assert len({c["id"] for c in CELLS}) == len(CELLS)
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    halves = {h: sum(c["half"] == h for c in CELLS) for h in ("dev", "heldout")}
    assert min(halves.values()) >= 20, halves


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("other") / "other-ca.pem"
    trustme.CA(organization_name="A CA that signed nothing here").cert_pem.write_to_path(str(path))
    return str(path)


def _fill(text: str, cell: dict[str, Any], lab: LabInfo, app: Path, other: str) -> str:
    out = text.replace("@PORT@", str(lab.servers[cell["server"]].port))
    for name, server in lab.servers.items():
        out = out.replace(f"@PORT_{name.upper().replace('-', '_')}@", str(server.port))
    return (out.replace("@CA@", str(lab.ca_file)).replace("@OTHER_CA@", other).replace("@USER@", lab.user)
            .replace("@PASSWORD@", lab.password).replace("@MISSING@", str(app / "no-such-dir" / "ca.pem"))
            .replace("@DIR@", str(app)))


def _write_app(cell: dict[str, Any], lab: LabInfo, app: Path, other: str) -> tuple[Path, dict[str, str]]:
    for rel, text in cell["files"].items():
        path = app / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(text, cell, lab, app, other))
        if path.name == "msmtprc":
            path.chmod(0o600)
    env = {k: _fill(v, cell, lab, app, other) for k, v in cell.get("env", {}).items()}
    return app / cell["config"], env


def _available(runner: str) -> str | None:
    if runner == "actionmailer" and (shutil.which("ruby") is None or subprocess.run(
            ["ruby", "-e", 'require "action_mailer"'], capture_output=True, timeout=TIMEOUT).returncode):
        return "ruby-actionmailer is not installed (scripts/install-system-deps.sh)"
    if runner in NODE and (shutil.which("node") is None or not (NODE[runner] / "nodemailer").is_dir()):
        return f"{runner} is not installed (scripts/install-system-deps.sh)"
    if runner == "msmtp" and shutil.which("msmtp") is None:
        return "msmtp is not installed (scripts/install-system-deps.sh)"
    for module, name in (("django", "django"), ("flask_mail", "flask_mail")):
        if runner == name:
            try:
                __import__(module)
            except ImportError:
                return f"{module} is not installed (pip install -e '.[test]')"
    return None


def _real(cell: dict[str, Any], app: Path, config: Path, env: dict[str, str], subject: str) -> str:
    """DELIVERED, ERROR <text>, or TIMEOUT: what the real framework did with the app folder as it is now."""
    base = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS")}
    run_env = base | env
    runner = cell["runner"]
    if runner == "actionmailer":
        script = app / "_app.rb"
        script.write_text(RUBY)
        argv = ["ruby", str(script), str(app), subject]
    elif runner == "django":
        script = app / "_app.py"
        script.write_text(DJANGO)
        argv = [sys.executable, str(script), str(config.parent), subject]
    elif runner == "flask_mail":
        script = app / "_app.py"
        script.write_text(FLASK)
        argv = [sys.executable, str(script), str(config), subject]
    elif runner in NODE:
        script = app / "_app.js"
        script.write_text(NODE_APP)
        run_env["NODE_PATH"] = str(NODE[runner])
        argv = ["node", str(script), str(config), subject]
    else:
        message = f"From: app@example.com\nTo: rcpt@example.com\nSubject: {subject}\n\ncheck\n"
        try:
            done = subprocess.run(["msmtp", "-C", str(config), "rcpt@example.com"], input=message,
                                  capture_output=True, text=True, errors="replace", timeout=TIMEOUT, env=run_env)
        except subprocess.TimeoutExpired:
            return "TIMEOUT"
        return "DELIVERED" if done.returncode == 0 else "ERROR " + (done.stderr.strip() or done.stdout.strip())
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
                              env=run_env, cwd=app)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
    return lines[-1] if lines else "ERROR " + (crash_text(done.stderr) or "no output")


def crash_text(stderr: str) -> str:
    """What a user pastes of a crash: its head and its tail. Node prints the error above its stack and Python
    below it, so keeping only the last 500 characters lost Node's error line (Nodemailer 6's TypeError on a
    server offering XOAUTH2 only read as unrecognised)."""
    text = stderr.strip()
    return text if len(text) <= 2000 else text[:1000] + "\n…\n" + text[-1000:]


def _reading(real: str) -> str:
    if real == "DELIVERED":
        return "delivered"
    if real == "TIMEOUT":
        return "TIMEOUT"
    best = explain(real.removeprefix("ERROR ")).best
    return best.mode.id if best else "unrecognised"


def _agree(said: str, real: str) -> bool:
    if said == real or any({said, real} <= same for same in SAME):
        return True
    if "delivered" in (said, real) or said in ("unknown", ""):
        return False
    if real == "TIMEOUT" or (real in WAITS and said in WAITS):
        return said in WAITS
    prefix = FAMILY.get(real)
    return prefix is not None and said.startswith(prefix)


def _env_file(app: Path, env: dict[str, str]) -> list[str]:
    if not env:
        return []
    path = app.parent / f"{app.name}.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return ["--env", str(path)]


def _app_env(app: Path, env: dict[str, str]) -> list[str]:
    """``--env`` with the app's whole environment, even when that is empty: check then knows a variable set
    nowhere is unset where the app runs (without --env it cannot know; see credentials.app_auth_args)."""
    path = app.parent / f"{app.name}.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return ["--env", str(path)]


def _check(config: Path, env_args: list[str]) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["check", str(config), "--json", "--timeout", "15", *env_args])
    assert result.exit_code in (0, 1, 3), result.output
    return result.exit_code, json.loads(result.output)


_UNSAFE = re.compile(r"verify_mode:\s*(?:'none'|:none)|verify_none|rejectunauthorized:\s*false|^\s*tls\s+off\b"
                     r"|^\s*tls_certcheck\s+off\b|ignoretls:\s*true", re.IGNORECASE | re.MULTILINE)


def _unsafe(text: str) -> bool:
    """A written fix that turns verification or TLS off (msmtp's `tls off`, not `tls_starttls off`)."""
    return _UNSAFE.search(text) is not None


@pytest.mark.parametrize("cell", CELLS, ids=[c["id"] for c in CELLS])
def test_matrix_cell(cell: dict[str, Any], lab: LabInfo, tmp_path: Path, other_ca: str,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    if (why := _available(cell["runner"])) is not None:
        pytest.skip(why)
    if os.environ.get("SMTP_DOCTOR_MATRIX_HALF", cell["half"]) != cell["half"]:
        pytest.skip("the other half (SMTP_DOCTOR_MATRIX_HALF)")
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)  # the app's environment is the cell's, given with --env
    app = tmp_path / "app"
    config, env = _write_app(cell, lab, app, other_ca)
    env_args = _env_file(app, env)
    code, doc = _check(config, env_args)
    assert lab.password not in json.dumps(doc)
    configs = doc["configs"]
    pred = configs[0]["prediction"] if configs else None
    said = "unknown" if pred is None else "delivered" if pred["verdict"] == "delivered" else (
        "unknown" if pred["verdict"] == "unknown" else pred["failure"] or "unknown")
    subject = f"matrix-{uuid.uuid4()}"
    real_text = _real(cell, app, config, env, subject)
    real = _reading(real_text)
    if real == "delivered":
        assert _delivered(lab, subject), real_text
    row = Row(cell["id"], cell["half"], cell["runner"], said, real, _agree(said, real), code, cell["fixable"])
    row.notes.append(real_text[:300])
    ROWS[cell["id"]] = row
    lint_error = any(f["severity"] in ("error", "critical") for c in configs for f in c["lint"])
    verdict = pred["verdict"] if pred else "unknown"
    want = 1 if verdict in ("fails", "unknown") or lint_error else 3 if verdict == "unreachable" else 0
    assert code == want, doc  # docs/exit-codes.md: fails, a lint error or cannot be told → 1
    if cell["fixable"] and real != "delivered":
        fixed = tmp_path / "fixed"
        shutil.copytree(app, fixed)
        fconfig, fenv = _write_app(cell, lab, fixed, other_ca)
        result = CliRunner().invoke(cli, ["fix", str(fconfig), "--write", "--json", "--timeout", "15", "--ca-file",
                                          str(lab.ca_file), *_env_file(fixed, fenv)])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert result.exit_code in (0, 1, 3), result.output
        fdoc = json.loads(result.output)["configs"][0]
        assert lab.password not in result.output
        written = "".join(p.read_text(errors="replace") for p in fixed.rglob("*") if p.is_file()
                          and not p.name.startswith("_app"))
        row.fix_unsafe = _unsafe(written) and not _unsafe(
            "".join(p.read_text(errors="replace") for p in app.rglob("*") if p.is_file()))
        subject2 = f"matrix-fix-{uuid.uuid4()}"
        run_env = fenv | {line.split("=", 1)[0]: line.split("=", 1)[1] for line in fdoc.get("env", [])}
        after = _real(cell, fixed, fconfig, run_env, subject2)
        row.fix_delivers = after == "DELIVERED" and _delivered(lab, subject2)
        row.fix_claimed = bool(fdoc["delivers"])
        row.notes.append("fix: " + after[:200])


def _rate(rows: list[Row], attr: str) -> tuple[int, int]:
    hits = [getattr(r, attr) for r in rows if getattr(r, attr) is not None]
    return sum(bool(h) for h in hits), len(hits)


def test_matrix_summary() -> None:
    if not ROWS:
        pytest.skip("no matrix cell ran")
    out = {}
    for half in ("dev", "heldout"):
        rows = [r for r in ROWS.values() if r.half == half]
        agree, n = _rate(rows, "agree")
        delivers, fixes = _rate(rows, "fix_delivers")
        out[half] = {"check_agree": [agree, n], "fix_delivers": [delivers, fixes],
                     "false_delivered": [r.cell for r in rows if r.said == "delivered" and r.real != "delivered"],
                     "false_fix_claims": [r.cell for r in rows if r.fix_claimed and not r.fix_delivers],
                     "unsafe_fixes": [r.cell for r in rows if r.fix_unsafe],
                     "misses": {r.cell: [r.said, r.real, *r.notes] for r in rows if not r.agree},
                     "fix_misses": {r.cell: r.notes for r in rows if r.fix_delivers is False},
                     "by_runner": {runner: [*_rate([r for r in rows if r.runner == runner], "agree"),
                                            *_rate([r for r in rows if r.runner == runner], "fix_delivers")]
                                   for runner in sorted({r.runner for r in rows})},
                     "cells": {r.cell: {"check": r.said, "real": r.real, "fix_delivers": r.fix_delivers}
                               for r in rows}}
    report = Path(os.environ.get("SMTP_DOCTOR_MATRIX_REPORT", "/tmp/smtp-doctor-matrix.json"))
    report.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps({h: {k: v for k, v in o.items() if k in ("check_agree", "fix_delivers")} for h, o in out.items()}))
    held = out["heldout"]
    assert not held["false_delivered"] and not held["false_fix_claims"] and not held["unsafe_fixes"], held
    agree, n = held["check_agree"]
    delivers, fixes = held["fix_delivers"]
    if n:  # issue 12's bar, on the half never tuned on (docs/check.md, docs/fix.md report the last run)
        assert agree >= 0.95 * n, held["misses"]
    if fixes:
        assert delivers >= 0.9 * fixes, held["fix_misses"]
    assert not out["dev"]["false_delivered"] and not out["dev"]["unsafe_fixes"], out["dev"]
