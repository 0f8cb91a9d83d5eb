"""`fix` with the app's environment and on settings that live in config/<name>.yml (issue 12).

Real lab servers over real sockets and real TLS. The re-check after each change runs with the same --env as
the first check (so the app's login is tried again, with the app's password), and a Rails app whose
smtp_settings come from ``config_for(:smtp)`` gets its YAML patched in the section the app runs in — proven
with Debian's real ActionMailer where it is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from smtp_doctor.api import fix
from smtp_doctor.lab import LabInfo
from test_check_matrix import RUBY
from test_check_real import _delivered

CANARY = "canary-Pw-77ab-never-printed"


def _rails(root: Path, port: int, settings: str) -> Path:
    d = root / "config" / "environments"
    d.mkdir(parents=True)
    (d / "production.rb").write_text(
        "Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
        f"    address: '127.0.0.1',\n    port: {port},\n{settings}  }}\nend\n")
    return d / "production.rb"


def _login(lab: LabInfo) -> str:
    return (f"    user_name: '{lab.user}',\n    password: ENV['SMTP_PASSWORD'],\n    authentication: :plain,\n"
            f"    ca_file: '{lab.ca_file}',\n")


def _env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SMTP_PASSWORD", "RAILS_ENV")}
    return subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "fix", *args],
                          capture_output=True, text=True, timeout=180, env=env)


# -- the re-check runs with --env ----------------------------------------------------------------------------


def test_the_recheck_after_a_fix_logs_in_with_the_env_password(lab: LabInfo, tmp_path: Path) -> None:
    """tls: true on the STARTTLS port is fixed; the re-check must then log in with --env's password: a wrong
    one is the app's 535 (not "will deliver"), the right one is a delivery whose login the server accepted."""
    port = lab.servers["starttls"].port
    wrong = _rails(tmp_path / "wrong", port, "    tls: true,\n" + _login(lab))
    r = fix(wrong, env_file=_env(tmp_path / "wrong.env", SMTP_PASSWORD=CANARY), timeout=20).repairs[0]
    assert r.steps and r.steps[0].prediction.failure == "implicit_tls_on_plain_port"
    assert r.final.asked is not None and r.final.asked.login == "refused"
    assert r.final.prediction is not None and r.final.prediction.failure == "auth_bad_credentials"
    assert not r.delivers
    done = _cli(str(wrong), "--env", str(tmp_path / "wrong.env"), "--write")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "    tls: true," in wrong.read_text()  # nothing written: the fixed file would not deliver either
    assert CANARY not in done.stdout + done.stderr

    right = _rails(tmp_path / "right", port, "    tls: true,\n" + _login(lab))
    env = _env(tmp_path / "right.env", SMTP_PASSWORD=lab.password)
    r = fix(right, env_file=env, timeout=20).repairs[0]
    assert r.delivers and r.final.asked is not None and r.final.asked.login == "ok"
    done = _cli(str(right), "--env", str(env), "--write")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "    tls: true," not in right.read_text() and "enable_starttls: true" in right.read_text()


# -- fix patches the YAML config_for reads -------------------------------------------------------------------

MAIL_271 = "GEM\n  remote: https://rubygems.org/\n  specs:\n    mail (2.7.1)\n      mini_mime (>= 0.1.1)\n"


def _has_actionmailer() -> bool:
    return shutil.which("ruby") is not None and subprocess.run(
        ["ruby", "-e", 'require "action_mailer"'], capture_output=True, timeout=30).returncode == 0


def _real_rails(app: Path, rails_env: str = "production") -> tuple[str, str]:
    """Debian's ActionMailer on the app folder (test_check_matrix.py's Rails stand-in; its config_for takes
    the environment from RAILS_ENV as railties does): (DELIVERED | ERROR … | TIMEOUT, subject)."""
    subject = f"config-for-{uuid.uuid4()}"
    (app / "_app.rb").write_text(RUBY.replace('env: "production"', 'env: ENV.fetch("RAILS_ENV", "production")'))
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")} | {
        "RAILS_ENV": rails_env}
    try:
        done = subprocess.run(["ruby", str(app / "_app.rb"), str(app), subject], capture_output=True, text=True,
                              timeout=30, cwd=app, env=env)
    except subprocess.TimeoutExpired:
        return "TIMEOUT", subject
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
    return (lines[-1] if lines else "ERROR " + done.stderr[-300:]), subject


def _config_for_app(app: Path, lab: LabInfo, production: str, where: str = "environments/production.rb") -> Path:
    rb = app / "config" / where
    rb.parent.mkdir(parents=True, exist_ok=True)
    body = "  config.action_mailer.delivery_method = :smtp\n  config.action_mailer.smtp_settings = config_for(:smtp)\n"
    rb.write_text(f"Rails.application.configure do\n{body}end\n")
    prod = app / "config" / "environments" / "production.rb"
    if not prod.exists():  # the stand-in loads it first, as Rails does
        prod.parent.mkdir(parents=True, exist_ok=True)
        prod.write_text("Rails.application.configure do\nend\n")
    (app / "Gemfile.lock").write_text(MAIL_271)
    (app / "config" / "smtp.yml").write_text(
        f"shared:\n  address: 127.0.0.1\n  read_timeout: 5\n  open_timeout: 5\n  ca_file: {lab.ca_file}\n"
        f"staging:\n  port: {lab.servers['starttls'].port}\n  ssl: true\n"
        f"production:\n{production}")
    return rb


needs_ruby = pytest.mark.skipif(not _has_actionmailer(), reason="ruby-actionmailer is not installed")


@needs_ruby
def test_fix_writes_the_environments_section_of_config_for_yaml(lab: LabInfo, tmp_path: Path) -> None:
    """ssl: true on the STARTTLS port, in production's section of config/smtp.yml: the real app fails; fix
    --write changes that section only (staging keeps its own mistake), and the real app then delivers."""
    app = tmp_path / "app"
    rb = _config_for_app(app, lab, f"  port: {lab.servers['starttls'].port}\n  ssl: true\n  domain: example.com\n")
    before, _ = _real_rails(app)
    assert before.startswith("ERROR") and "wrong version number" in before, before
    done = _cli(str(rb), "--write", "--timeout", "15")
    assert done.returncode == 0, done.stdout + done.stderr
    yml = (app / "config" / "smtp.yml").read_text()
    assert "a/" in done.stdout and "smtp.yml" in done.stdout  # the diff is of the YAML
    production = yml.split("production:", 1)[1]
    assert "ssl: true" not in production and "enable_starttls: true" in production
    assert "staging:\n" + f"  port: {lab.servers['starttls'].port}\n  ssl: true\n" in yml  # untouched
    assert "config_for(:smtp)" in rb.read_text()
    after, subject = _real_rails(app)
    assert after == "DELIVERED" and _delivered(lab, subject), after


@needs_ruby
def test_fix_follows_rails_env_from_env_and_overrides_shared(lab: LabInfo, tmp_path: Path) -> None:
    """An initializer's config_for in the environment --env names (RAILS_ENV=staging): the staging section
    is fixed, the re-check reads that same section; a key only shared: sets is overridden in the section,
    never changed for every environment."""
    app = tmp_path / "app"
    rb = _config_for_app(app, lab, f"  port: {lab.servers['starttls'].port}\n  enable_starttls: true\n",
                         where="initializers/mail.rb")
    (app / "config" / "environments" / "production.rb").unlink()
    (app / "config" / "environments" / "production.rb").write_text("Rails.application.configure do\nend\n")
    env = _env(tmp_path / "staging.env", RAILS_ENV="staging")
    before, _ = _real_rails(app, "staging")
    assert before.startswith("ERROR") and "wrong version number" in before, before
    r = fix(rb, env_file=env, timeout=15).repairs[0]
    assert r.path.endswith("smtp.yml") and r.delivers, (r.stopped, r.final.prediction)
    doc = json.loads(_cli(str(rb), "--env", str(env), "--json", "--timeout", "15").stdout)["configs"][0]
    assert doc["patched_file"] == str((app / "config" / "smtp.yml").resolve()) and doc["delivers"]
    done = _cli(str(rb), "--env", str(env), "--write", "--timeout", "15")
    assert done.returncode == 0, done.stdout + done.stderr
    yml = (app / "config" / "smtp.yml").read_text()
    staging = yml.split("staging:", 1)[1].split("production:", 1)[0]
    assert "ssl: true" not in staging and "enable_starttls: true" in staging
    after, subject = _real_rails(app, "staging")
    assert after == "DELIVERED" and _delivered(lab, subject), after
    prod, _ = _real_rails(app, "production")  # production was right before, and is left as it was
    assert prod == "DELIVERED", prod


@needs_ruby
def test_a_key_only_shared_sets_is_overridden_in_the_section(lab: LabInfo, tmp_path: Path) -> None:
    """tls: true under shared:, the STARTTLS port under production: the fix writes `tls: ~` (nil, which
    deep_merge keeps and the mail gem reads as unset) into production, leaving shared: as it was."""
    app = tmp_path / "app"
    rb = _config_for_app(app, lab, f"  port: {lab.servers['starttls'].port}\n")
    yml_path = app / "config" / "smtp.yml"
    yml_path.write_text(yml_path.read_text().replace("shared:\n", "shared:\n  tls: true\n", 1))
    before, _ = _real_rails(app)
    assert before.startswith("ERROR"), before
    done = _cli(str(rb), "--write", "--timeout", "15")
    assert done.returncode == 0, done.stdout + done.stderr
    yml = yml_path.read_text()
    assert yml.startswith("shared:\n  tls: true\n")
    production = yml.split("production:", 1)[1]
    assert "tls: ~" in production and "enable_starttls: true" in production
    after, subject = _real_rails(app)
    assert after == "DELIVERED" and _delivered(lab, subject), after


@needs_ruby
def test_a_key_a_merged_anchor_sets_is_read_and_overridden_in_the_section(lab: LabInfo, tmp_path: Path) -> None:
    """`production: <<: *defaults` with ssl: true in the anchor and the STARTTLS port in production (matrix 6
    dev): check reads the merged keys, as Psych does, and the fix overrides ssl in production only."""
    app = tmp_path / "app"
    rb = _config_for_app(app, lab, "")
    yml_path = app / "config" / "smtp.yml"
    yml_path.write_text(
        f"defaults: &defaults\n  address: 127.0.0.1\n  port: {lab.servers['implicit'].port}\n  ssl: true\n"
        f"  ca_file: {lab.ca_file}\n  read_timeout: 5\n"
        f"staging:\n  <<: *defaults\n"
        f"production:\n  <<: *defaults\n  port: {lab.servers['starttls'].port}\n")
    before, _ = _real_rails(app)
    assert "wrong version number" in before, before
    done = _cli(str(rb), "--write", "--timeout", "15", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    yml = yml_path.read_text()
    assert yml.split("staging:", 1)[0].count("ssl: true") == 1  # the anchor is left as it was
    production = yml.split("production:", 1)[1]
    assert "ssl: ~" in production and "enable_starttls: true" in production
    after, subject = _real_rails(app)
    assert after == "DELIVERED" and _delivered(lab, subject), after


def test_config_for_password_from_erb_is_the_apps_variable(lab: LabInfo, tmp_path: Path) -> None:
    """`password: <%= ENV['SMTP_PASSWORD'] %>` in config/smtp.yml: check logs in with --env's value (it used to
    send the tag's text and predict a 535 the real app never got)."""
    app = tmp_path / "app"
    rb = _config_for_app(app, lab, f"  port: {lab.servers['implicit'].port}\n  tls: true\n  user_name: {lab.user}\n"
                                   "  password: <%= ENV['SMTP_PASSWORD'] %>\n  authentication: :plain\n")
    for password, login, verdict in ((lab.password, "ok", "delivered"), (CANARY, "refused", "fails")):
        env = _env(tmp_path / "app.env", SMTP_PASSWORD=password)
        done = subprocess.run([sys.executable, "-m", "smtp_doctor", "check", str(rb), "--env", str(env), "--json"],
                              capture_output=True, text=True, timeout=120)
        doc = json.loads(done.stdout)["configs"][0]
        assert (doc["asked"]["login"], doc["prediction"]["verdict"]) == (login, verdict), doc["prediction"]
        assert CANARY not in done.stdout + done.stderr
