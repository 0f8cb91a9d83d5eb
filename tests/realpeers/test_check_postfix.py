"""`check` against a real Postfix (+ Dovecot SASL), issue 12 kinds 3 and 4: the app's own login and the
envelope are asked, not guessed. Postfix's relay policy (permit_sasl_authenticated, reject_unauth_destination,
no mynetworks) is other people's code: its answers are what check must report, in net-smtp's words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .peers import RealPeer

CANARY = "canary-postfix-Pw-77e0"


def _rails(tmp_path: Path, port: int, settings: str) -> Path:
    path = tmp_path / "production.rb"
    path.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
                    f"    address: '127.0.0.1', port: {port}, {settings}\n  }}\nend\n")
    return path


def _check(config: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k != "SMTP_PASSWORD"}
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "en", "check", str(config), *args, "--json"],
                          capture_output=True, text=True, timeout=120, env=env)
    return done.returncode, json.loads(done.stdout)["configs"][0], done.stdout + done.stderr


def test_relay_policy_is_asked_not_guessed(postfix_peer: RealPeer, tmp_path: Path) -> None:
    """No TLS, no AUTH, on the port that offers STARTTLS: a guess says 530; Postfix takes mail for its own
    domain without either, and refuses to relay elsewhere (554 5.7.1 Relay access denied)."""
    config = _rails(tmp_path, postfix_peer.ports["smtp"], "enable_starttls_auto: false,")
    code, doc, _ = _check(config)
    assert code == 1 and doc["prediction"]["certain"] is False  # the guess, without --envelope
    code, doc, _ = _check(config, "--envelope", f"app@example.com,{postfix_peer.address}")
    assert code == 0 and doc["prediction"]["verdict"] == "delivered" and "plaintext" in doc["prediction"]["risks"]
    assert doc["asked"]["envelope"]["answer"] == "accepted"
    code, doc, _ = _check(config, "--envelope", "app@example.com,someone@elsewhere.example")
    pred = doc["prediction"]
    assert code == 1 and (pred["failure"], pred["stage"]) == ("relay_denied", "rcpt")
    assert pred["error_text"].startswith("Net::SMTPFatalError: 554") and "Relay access denied" in pred["error_text"]


def test_the_apps_login_meets_dovecot_sasl(postfix_peer: RealPeer, tmp_path: Path) -> None:
    settings = (f"enable_starttls: true, user_name: '{postfix_peer.user}', password: ENV['SMTP_PASSWORD'], "
                f"authentication: :plain, ca_file: '{postfix_peer.ca_file}',")
    config = _rails(tmp_path, postfix_peer.ports["submission"], settings)
    wrong, right = tmp_path / "wrong.env", tmp_path / "right.env"
    wrong.write_text(f"SMTP_PASSWORD={CANARY}\n")
    right.write_text(f"SMTP_PASSWORD={postfix_peer.password}\n")
    code, doc, raw = _check(config, "--env", str(wrong))
    assert code == 1 and doc["prediction"]["failure"] == "auth_bad_credentials"
    assert doc["prediction"]["error_text"].startswith("Net::SMTPAuthenticationError: 535")
    assert CANARY not in raw
    code, doc, raw = _check(config, "--env", str(right), "--envelope", f"app@example.com,{postfix_peer.address}")
    assert code == 0 and doc["asked"]["login"] == "ok" and doc["asked"]["envelope"]["answer"] == "accepted"
    assert postfix_peer.password not in raw
    # logged in, the relay check passes; this instance then refuses outbound recipients (its transport is
    # an error:), and that is the answer the app gets at RCPT, in net-smtp's words
    code, doc, raw = _check(config, "--env", str(right), "--envelope", "app@example.com,someone@elsewhere.example")
    pred = doc["prediction"]
    assert code == 1 and pred["stage"] == "rcpt" and pred["failure"] != "relay_denied"
    assert pred["error_text"].startswith("Net::SMTPFatalError: 550") and doc["asked"]["login"] == "ok"
    assert postfix_peer.password not in raw
