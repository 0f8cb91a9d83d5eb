"""The version that decides comes from the app's lock file, is shown, and changes the prediction (issue 12).

mail 2.9 refuses ``:tls`` together with ``:enable_starttls`` (mikel/mail PR #1536); mail 2.7.1 lets ``:tls``
win (Debian's /usr/lib/ruby/vendor_ruby/mail/network/delivery_methods/smtp.rb:113-126). Debian ships
ActionMailer 6.1 with mail 2.7.1, so the difference is observable here: an app whose Gemfile.lock says 2.7.1
delivers with the real framework, and check must say so; without a lock file check assumes the newest mail
and says which. Real lab servers, real TLS, Debian's real ActionMailer (skipped when ruby-actionmailer is
not installed: scripts/install-system-deps.sh installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from smtp_doctor.lab import LabInfo
from test_check_matrix import RUBY
from test_check_matrix2 import MASTODON
from test_check_real import _delivered

MAIL_271 = "GEM\n  remote: https://rubygems.org/\n  specs:\n    mail (2.7.1)\n      mini_mime (>= 0.1.1)\n"
TIMEOUT = 25


def _has_actionmailer() -> bool:
    return shutil.which("ruby") is not None and subprocess.run(
        ["ruby", "-e", 'require "action_mailer"'], capture_output=True, timeout=TIMEOUT).returncode == 0


needs_ruby = pytest.mark.skipif(not _has_actionmailer(), reason="ruby-actionmailer is not installed")


def _cli(*args: str, lang: str = "en") -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", lang, *args], capture_output=True,
                          text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"})
    return done.returncode, done.stdout + done.stderr


def _check_json(config: Path) -> tuple[int, dict[str, Any]]:
    code, out = _cli("check", str(config), "--json", "--timeout", "15")
    return code, json.loads(out)["configs"][0]


def _real(script: str, app: Path, arg: Path) -> tuple[str, str]:
    """(DELIVERED | ERROR <text> | TIMEOUT, subject): the real framework against the lab."""
    subject = f"lockfile-{uuid.uuid4()}"
    (app / "_app.rb").write_text(script)
    try:
        done = subprocess.run(["ruby", str(app / "_app.rb"), str(arg), subject], capture_output=True, text=True,
                              timeout=TIMEOUT, cwd=app)
    except subprocess.TimeoutExpired:
        return "TIMEOUT", subject
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
    return (lines[-1] if lines else "ERROR " + done.stderr[-300:]), subject


def _mastodon(app: Path, lab: LabInfo, lock: str | None) -> Path:
    app.mkdir(parents=True)
    env = app / ".env.production"
    env.write_text(f"LOCAL_DOMAIN=social.example.com\nSMTP_SERVER=127.0.0.1\nSMTP_PORT={lab.servers['implicit'].port}\n"
                   f"SMTP_LOGIN={lab.user}\nSMTP_PASSWORD={lab.password}\nSMTP_FROM_ADDRESS=n@social.example.com\n"
                   f"SMTP_TLS=true\nSMTP_ENABLE_STARTTLS=always\nSMTP_CA_FILE={lab.ca_file}\n")
    if lock is not None:
        (app / "Gemfile.lock").write_text(lock)
    return env


def _rails(app: Path, lab: LabInfo, lock: str | None) -> Path:
    rb = app / "config" / "environments" / "production.rb"
    rb.parent.mkdir(parents=True)
    rb.write_text("Rails.application.configure do\n  config.action_mailer.delivery_method = :smtp\n"
                  "  config.action_mailer.smtp_settings = {\n    address: '127.0.0.1',\n"
                  f"    port: {lab.servers['implicit'].port},\n    tls: true,\n    enable_starttls: true,\n"
                  f"    ca_file: '{lab.ca_file}',\n  }}\nend\n")
    if lock is not None:
        (app / "Gemfile.lock").write_text(lock)
    return rb


@needs_ruby
@pytest.mark.parametrize("kind", ["mastodon", "rails"])
def test_gemfile_lock_mail_271_predicts_what_debians_actionmailer_does(lab: LabInfo, tmp_path: Path,
                                                                         kind: str) -> None:
    """tls + STARTTLS 'always' on the implicit-TLS port: with the lock's mail 2.7.1 check says it delivers,
    and Debian's ActionMailer 6.1 / mail 2.7.1 really delivers; without a lock check assumes mail 2.9's
    ArgumentError and says that it assumed it."""
    write, script = (_mastodon, MASTODON) if kind == "mastodon" else (_rails, RUBY)
    app = tmp_path / "locked"
    config = write(app, lab, MAIL_271)
    code, doc = _check_json(config)
    assert doc["version_used"] == {"package": "mail gem", "version": "2.7.1", "how": "lock_file",
                                   "file": str(app / "Gemfile.lock")}
    assert (code, doc["prediction"]["verdict"]) == (0, "delivered"), doc["prediction"]
    real, subject = _real(script, app, config if kind == "mastodon" else app)
    assert real == "DELIVERED" and _delivered(lab, subject), real
    code, text = _cli("check", str(config), "--timeout", "15")
    assert code == 0 and "Assumed mail gem 2.7.1 from Gemfile.lock." in text
    code, text = _cli("check", str(config), "--timeout", "15", lang="ja")
    assert code == 0 and "Gemfile.lock から mail gem 2.7.1 を前提にしました。" in text
    code, text = _cli("check", str(config), "--timeout", "15", "--markdown")
    assert code == 0 and "- Assumed mail gem 2.7.1 from Gemfile.lock." in text and text.startswith("### ")
    code, text = _cli("check", str(config), "--timeout", "15", "--markdown", lang="ja")
    assert code == 0 and "- Gemfile.lock から mail gem 2.7.1 を前提にしました。" in text

    bare = write(tmp_path / "unlocked", lab, None)
    code, doc = _check_json(bare)
    assert doc["version_used"] == {"package": "mail gem", "version": "2.9", "how": "assumed", "file": None}
    assert (code, doc["prediction"]["failure"]) == (1, "config_tls_and_starttls")
    assert "mutually exclusive" in doc["prediction"]["error_text"]
    code, text = _cli("check", str(bare), "--timeout", "15")
    assert code == 1 and "No lock file: assuming mail gem 2.9" in text
    code, text = _cli("check", str(bare), "--timeout", "15", "--markdown")
    assert code == 1 and "- No lock file: assuming mail gem 2.9" in text and "mutually exclusive" in text
    code, text = _cli("check", str(bare), "--markdown", "--json")
    assert code == 2 and len(text.strip().splitlines()) == 1 and "Traceback" not in text


def test_framework_version_given_is_shown_as_given(lab: LabInfo, tmp_path: Path) -> None:
    config = _mastodon(tmp_path / "app", lab, None)
    code, out = _cli("check", str(config), "--json", "--timeout", "15", "--framework-version", "2.7.1")
    doc = json.loads(out)["configs"][0]
    assert doc["version_used"]["how"] == "given" and doc["prediction"]["verdict"] == "delivered" and code == 0
    code, text = _cli("check", str(config), "--timeout", "15", "--framework-version", "2.8.1")
    assert "Assumed mail gem 2.8.1 (given with --framework-version)." in text


@pytest.mark.parametrize(("framework", "config", "text", "lock", "lock_text", "package", "version"), [
    ("nodemailer", "mail.js", "module.exports = nodemailer.createTransport({ host: '127.0.0.1', port: @PORT@, "
     "secure: true });\n", "package-lock.json",
     json.dumps({"lockfileVersion": 3, "packages": {"node_modules/nodemailer": {"version": "6.10.1"}}}),
     "nodemailer", "6.10.1"),
    ("flask_mail", "config.py", "MAIL_SERVER = '127.0.0.1'\nMAIL_PORT = @PORT@\nMAIL_USE_SSL = True\n",
     "requirements.txt", "Flask==3.0.3\nFlask-Mail==0.9.1\n", "Flask-Mail", "0.9.1"),
    ("symfony", ".env", "MAILER_DSN=smtps://127.0.0.1:@PORT@\n", "composer.lock",
     json.dumps({"packages": [{"name": "symfony/mailer", "version": "v5.4.53"}]}), "symfony/mailer", "5.4.53"),
])
def test_every_lock_file_is_shown(lab: LabInfo, tmp_path: Path, framework: str, config: str, text: str,
                                  lock: str, lock_text: str, package: str, version: str) -> None:
    """The lock file the version came from is named in JSON and text; without it, the documented default."""
    path = tmp_path / config
    path.write_text(text.replace("@PORT@", str(lab.servers["implicit"].port)))
    (tmp_path / lock).write_text(lock_text)
    code, out = _cli("check", str(path), "--framework", framework, "--json", "--timeout", "10")
    doc = json.loads(out)["configs"][0]
    assert doc["version_used"] == {"package": package, "version": version, "how": "lock_file",
                                   "file": str(tmp_path / lock)}, out
    code, out = _cli("check", str(path), "--framework", framework, "--timeout", "10")
    assert f"Assumed {package} {version} from {lock}." in out
    (tmp_path / lock).unlink()
    code, out = _cli("check", str(path), "--framework", framework, "--json", "--timeout", "10")
    assert json.loads(out)["configs"][0]["version_used"]["how"] == "assumed"


def test_markdown_of_a_hostile_greeting_is_inert(tmp_path: Path) -> None:
    """check --markdown puts the server's words (escapes, bidi overrides) in a code block, shown, not obeyed."""
    from smtp_doctor.lab.forge import running

    with running(tmp_path / "forge", greeting=554) as forge:
        rb = tmp_path / "config" / "environments" / "production.rb"
        rb.parent.mkdir(parents=True)
        rb.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
                      f"    address: '127.0.0.1', port: {forge.port}\n  }}\nend\n")
        code, text = _cli("check", str(rb), "--timeout", "10", "--markdown")
    assert code == 1 and "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    block = text.split("**The app will print:**", 1)[1].split("```", 2)[1]
    assert "Net::SMTPFatalError: 554" in block and "\\x1b" in block
    assert "No lock file: assuming mail gem 2.9" in text


def test_markdown_with_fix_shows_the_diff_fenced(lab: LabInfo, tmp_path: Path) -> None:
    rb = tmp_path / "config" / "environments" / "production.rb"
    rb.parent.mkdir(parents=True)
    rb.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
                  f"    address: '127.0.0.1',\n    port: {lab.servers['starttls'].port},\n    tls: true,\n"
                  f"    ca_file: '{lab.ca_file}',\n  }}\nend\n")
    (tmp_path / "Gemfile.lock").write_text(MAIL_271)
    code, text = _cli("check", str(rb), "--timeout", "15", "--markdown", "--fix")
    assert code == 1 and "- Assumed mail gem 2.7.1 from Gemfile.lock." in text
    diff = text.split("**Corrected ", 1)[1].split("```", 2)[1]
    assert "\n-    tls: true,\n" in diff and "\n+    enable_starttls: true,\n" in diff, text


def _gitlab(app: Path, lab: LabInfo, lock: str | None) -> Path:
    app.mkdir(parents=True)
    rb = app / "gitlab.rb"
    rb.write_text(f"gitlab_rails['smtp_enable'] = true\ngitlab_rails['smtp_address'] = '127.0.0.1'\n"
                  f"gitlab_rails['smtp_port'] = {lab.servers['implicit'].port}\ngitlab_rails['smtp_tls'] = true\n"
                  f"gitlab_rails['smtp_enable_starttls_auto'] = true\ngitlab_rails['smtp_ca_file'] = '{lab.ca_file}'\n")
    return rb


@needs_ruby
@pytest.mark.parametrize("kind", ["rails", "mastodon", "gitlab"])
def test_fix_of_tls_with_starttls_writes_the_ports_mode_and_it_delivers(lab: LabInfo, tmp_path: Path,
                                                                        kind: str) -> None:
    """The pair mail 2.9 (and GitLab 16) refuses, with no lock file: `fix --write` keeps the implicit TLS the
    port speaks and drops the STARTTLS flag (it used to print words only); the fixed app still delivers with
    Debian's ActionMailer (Mastodon 4.2's and omnibus-gitlab's mappings)."""
    from test_check_matrix2 import GITLAB

    write, script = {"rails": (_rails, RUBY), "mastodon": (_mastodon, MASTODON), "gitlab": (_gitlab, GITLAB)}[kind]
    app = tmp_path / "app"
    config = write(app, lab, None)
    code, doc = _check_json(config)
    assert (code, doc["prediction"]["failure"]) == (1, "config_tls_and_starttls"), doc["prediction"]
    code, out = _cli("fix", str(config), "--write", "--timeout", "15")
    assert code == 0, out
    code, doc = _check_json(config)
    assert (code, doc["prediction"]["verdict"]) == (0, "delivered"), doc["prediction"]
    real, subject = _real(script, app, app if kind == "rails" else config)
    assert real == "DELIVERED" and _delivered(lab, subject), real
