"""`check`: its data agrees with the explain knowledge base, its CLI handles bad input, unreachable servers,
secrets and languages. (Agreement with the real frameworks is tests/test_check_real.py.)"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor import i18n
from smtp_doctor.cli import cli
from smtp_doctor.explain import load
from smtp_doctor.lab import LabInfo
from smtp_doctor.plan import knowledge
from smtp_doctor.predict import render_line


def _failure_ids() -> set[str]:
    k = knowledge()
    ids = {r["failure"] for r in k["reach"]} | {r["failure"] for r in k["transport"] if "failure" in r}
    ids |= {r["failure"] for r in k["verify"]} | {t["mode"] for t in k["text"] if t["mode"] != "cert_*"}
    return ids | {"cert_missing_intermediate", "cert_verify_failed", "tls_version_mismatch", "starttls_required",
                  "auth_mechanism"}  # the ones predict.py names itself


def test_failure_ids_are_the_explain_knowledge_base_ids() -> None:
    assert _failure_ids() <= set(load().modes), _failure_ids() - set(load().modes)


def test_every_failure_has_a_why_in_both_languages() -> None:
    spoken = {"cert_missing_intermediate", "cert_verify_failed", "auth_mechanism"}
    spoken |= {r["failure"] for r in knowledge()["verify"]} | {"greeting_timeout", "conn_closed",
                                                                "connect_failed_unspecified"}
    for failure in spoken | {"implicit_tls_on_plain_port", "plain_on_implicit_port", "starttls_not_offered"}:
        entry = i18n.catalogue()[f"check.why.{failure}"]
        assert entry["en"] and entry["ja"], failure


def test_fix_groups_exist_and_every_entry_names_a_source() -> None:
    groups = {m.fix for m in load().modes.values()}
    for row in knowledge()["fix"]:
        assert row["fix"] in groups and row["source"], row
    for name, facts in knowledge()["framework"].items():
        assert facts["source"] and facts["ca"] in ("adds", "replaces", "ignored"), name


@pytest.mark.parametrize(("syntax", "key", "value", "line"), [
    ("ruby_hash", "enable_starttls", True, "enable_starttls: true,"),
    ("ruby_hash", "authentication", ":login", "authentication: :login,"),
    ("ruby_hash", "ca_file", "/etc/ssl/it's.pem", "ca_file: '/etc/ssl/it\\'s.pem',"),
    ("gitlab_rb", "smtp_tls", False, "gitlab_rails['smtp_tls'] = false"),
    ("python", "EMAIL_USE_TLS", True, "EMAIL_USE_TLS = True"),
    ("python", "EMAIL_TIMEOUT", 10, "EMAIL_TIMEOUT = 10"),
    ("dotenv", "SMTP_TLS", "true", "SMTP_TLS=true"),
])
def test_corrected_lines_use_the_files_own_syntax(syntax: str, key: str, value: object, line: str) -> None:
    assert render_line(key, value, syntax) == line


def _rails(tmp_path: Path, settings: str) -> Path:
    d = tmp_path / "config" / "environments"
    d.mkdir(parents=True)
    (d / "production.rb").write_text(f"Rails.application.configure do\n  config.action_mailer.smtp_settings = {{ "
                                     f"{settings} }}\nend\n")
    return d / "production.rb"


def test_seed_mistake_against_the_lab_prints_the_error_why_and_fix(lab: LabInfo, tmp_path: Path) -> None:
    config = _rails(tmp_path, "address: 'smtp.gmail.com', port: 587, user_name: 'me', password: 'hunter2-secret', "
                              "authentication: :login, openssl_verify_mode: 'peer', tls: 587")
    target = lab.servers["starttls"].address
    result = CliRunner().invoke(cli, ["--lang", "en", "check", str(tmp_path), "--probe-host", target])
    assert result.exit_code == 1, result.output
    assert "wrong version number" in result.output and "in place of smtp.gmail.com:587" in result.output
    assert "enable_starttls: true," in result.output and "remove tls" in result.output
    assert "hunter2-secret" not in result.output
    doc = json.loads(CliRunner().invoke(cli, ["check", str(config), "--probe-host", target, "--json"]).output)
    assert "hunter2-secret" not in json.dumps(doc)
    c = doc["configs"][0]
    assert c["prediction"]["failure"] == "implicit_tls_on_plain_port" and c["probed"]["mode"] == "starttls"
    assert c["fix"]["set"] == ["enable_starttls: true,"] and c["fix"]["remove"][0]["key"] == "tls"
    assert any(f["id"] == "SD103" for f in c["lint"])


def test_trust_fix_suggests_the_ca_file_only_when_it_verifies(lab: LabInfo, tmp_path: Path) -> None:
    config = _rails(tmp_path, f"address: '127.0.0.1', port: {lab.servers['starttls'].port}")
    doc = json.loads(CliRunner().invoke(cli, ["check", str(config), "--json", "--ca-file", str(lab.ca_file)]).output)
    fix = doc["configs"][0]["fix"]
    assert doc["configs"][0]["prediction"]["failure"] == "cert_unknown_issuer"
    assert f"ca_file: '{lab.ca_file}'," in fix["set"]
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    doc = json.loads(CliRunner().invoke(cli, ["check", str(config), "--json", "--ca-file", str(empty)]).output)
    assert doc["configs"][0]["fix"]["set"] == [] and doc["configs"][0]["fix"]["text"]  # words, no bogus path


def test_japanese(lab: LabInfo, tmp_path: Path) -> None:
    _rails(tmp_path, f"address: '127.0.0.1', port: {lab.servers['implicit'].port}, read_timeout: 2")
    result = CliRunner().invoke(cli, ["--lang", "ja", "check", str(tmp_path)])
    assert result.exit_code == 1 and "失敗します" in result.output and "理由" in result.output


def test_unreachable_server_is_exit_3(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was just free: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _rails(tmp_path, f"address: '127.0.0.1', port: {port}")
    result = CliRunner().invoke(cli, ["check", str(tmp_path), "--timeout", "5"])
    assert result.exit_code == 3, result.output


def test_startup_refusal_needs_no_server(tmp_path: Path) -> None:
    config = _rails(tmp_path, "address: 'smtp.example.invalid', port: 587, tls: true, enable_starttls: true")
    doc = json.loads(CliRunner().invoke(cli, ["check", str(config), "--json"]).output)
    pred = doc["configs"][0]["prediction"]
    assert pred["stage"] == "startup" and pred["failure"] == "config_tls_and_starttls"
    # the verdict needs no server (this one does not even resolve); the port is still looked at, for fix's lines
    assert doc["exit_code"] == 1 and doc["configs"][0]["prediction"]["certain"]


@pytest.mark.parametrize("args", [
    ["check", "/nonexistent/app"],
    ["check", ".", "--probe-host", "bad host"],
    ["check", ".", "--ca-file", "/nonexistent.pem"],
    ["check", ".", "--framework", "nosuch"],
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_a_tree_without_mail_settings_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing here")
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert result.exit_code == 2 and "No mail configuration" in result.output
