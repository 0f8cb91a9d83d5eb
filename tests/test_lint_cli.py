"""`smtp-doctor lint` end to end: real files → readers → framework models → rules → text/JSON/SARIF.

SARIF output is validated against the OASIS SARIF 2.1.0 schema (vendored in tests/fixtures/sarif).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "Hunter2-SuperSecret!"  # must never appear in any output
RAILS_BAD = f"""Rails.application.configure do
  config.action_mailer.delivery_method = :smtp
  config.action_mailer.smtp_settings = {{
    address: 'smtp.example.com',
    port: 587,
    user_name: 'mailer@example.com',
    password: '{PASSWORD}',
    authentication: :plain,
    tls: ENV['SMTP_TLS'],
    enable_starttls_auto: true
  }}
end
"""
RAILS_GOOD = f"""Rails.application.configure do
  config.action_mailer.smtp_settings = {{
    address: 'smtp.example.com',
    port: 587,
    user_name: 'mailer@example.com',
    password: '{PASSWORD}',
    authentication: :plain,
    enable_starttls: true,
    open_timeout: 5,
    read_timeout: 5
  }}
end
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", "lint", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture()
def rails_app(tmp_path: Path) -> Path:
    envs = tmp_path / "config" / "environments"
    envs.mkdir(parents=True)
    (envs / "production.rb").write_text(RAILS_BAD)
    (tmp_path / ".env").write_text(f"SMTP_TLS=false\nSMTP_PASSWORD={PASSWORD}\n")
    return tmp_path


def test_text_output_and_exit_code_for_the_seed_mistake(rails_app: Path) -> None:
    code, out = run(str(rails_app), "--env", str(rails_app / ".env"))
    assert code == 1
    assert "SD101" in out and "SD103" in out and "SD105" in out  # "false" from ENV is truthy → implicit TLS on 587
    assert "production.rb:9:" in out  # the tls: line
    assert "wrong version number" in out and "mutually exclusive" in out
    assert PASSWORD not in out


def test_unresolved_env_is_a_warning_not_a_guess(rails_app: Path) -> None:
    code, out = run(str(rails_app / "config" / "environments" / "production.rb"))
    assert "SD102" in out and "SD103" not in out
    assert code == 0  # only warnings
    code, _ = run(str(rails_app / "config" / "environments" / "production.rb"), "--strict")
    assert code == 1


def test_corrected_config_is_clean(tmp_path: Path) -> None:
    f = tmp_path / "config" / "environments" / "production.rb"
    f.parent.mkdir(parents=True)
    f.write_text(RAILS_GOOD)
    code, out = run(str(f), "--framework", "actionmailer")
    assert code == 0, out
    assert "STARTTLS (required)" in out and "0 error(s), 0 warning(s)" in out


def test_framework_version_changes_the_verdict(rails_app: Path) -> None:
    prod = str(rails_app / "config" / "environments" / "production.rb")
    env = str(rails_app / ".env")
    _, out29 = run(prod, "--env", env, "--framework-version", "2.9.0", "--format", "json")
    _, out28 = run(prod, "--env", env, "--framework-version", "2.8.1", "--format", "json")
    ids29 = {f["id"] for c in json.loads(out29)["configs"] for f in c["findings"]}
    ids28 = {f["id"] for c in json.loads(out28)["configs"] for f in c["findings"]}
    assert "SD105" in ids29 and "SD105" not in ids28
    assert "SD106" in ids28  # mail 2.8: ArgumentError: Unrecognized :tls value "false"


def test_json_has_the_plan_and_never_the_password(rails_app: Path) -> None:
    code, out = run(str(rails_app), "--env", str(rails_app / ".env"), "--format", "json")
    assert code == 1 and PASSWORD not in out
    doc = json.loads(out)
    (config,) = [c for c in doc["configs"] if c["framework"] == "actionmailer"]
    s = config["settings"]
    assert s["tls_mode"]["value"] == "implicit" and s["port"]["value"] == 587
    assert s["password_ref"]["value"].startswith("literal ") and s["has_password"] is True
    assert doc["severity"] == "error"


def test_sarif_validates_against_the_sarif_210_schema(rails_app: Path) -> None:
    code, out = run(str(rails_app), "--env", str(rails_app / ".env"), "--format", "sarif")
    assert code == 1 and PASSWORD not in out
    log = json.loads(out)
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(log, schema)
    run0 = log["runs"][0]
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(rule_ids) and "SD103" in rule_ids
    result = next(r for r in run0["results"] if r["ruleId"] == "SD103")
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "config/environments/production.rb"
    assert loc["region"]["startLine"] == 9 and result["level"] == "error"
    assert rule_ids[result["ruleIndex"]] == "SD103"


def test_every_reader_fixture_lints_without_crashing() -> None:
    tree = FIXTURES / "configs"
    for sub in sorted(p for p in tree.iterdir() if p.is_dir() and p.name != "malformed"):
        code, out = run(str(sub), "--format", "sarif")
        assert code in (0, 1), (sub.name, out)
        jsonschema.validate(json.loads(out), json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text()))


@pytest.mark.parametrize(
    "args",
    [
        ["/nonexistent/smtp-doctor"],
        ["--framework", "wordpress", "."],
        ["--env", "/nonexistent/.env", "."],
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str]) -> None:
    code, out = run(*args)
    assert code == 2 and out.count("\n") <= 2 and "Traceback" not in out


def test_malformed_config_is_a_usage_error() -> None:
    code, out = run(str(FIXTURES / "configs" / "malformed" / "production.rb"), "--framework", "actionmailer")
    assert code == 2 and "Traceback" not in out


def test_japanese_output(rails_app: Path) -> None:
    result = CliRunner().invoke(cli, ["--lang", "ja", "lint", str(rails_app), "--env", str(rails_app / ".env")])
    assert result.exit_code == 1 and "ポート 587 で暗黙的 TLS" in result.output and PASSWORD not in result.output


def test_pre_commit_hook_definition_points_at_this_command() -> None:
    import yaml

    hooks = yaml.safe_load((Path(__file__).parents[1] / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["entry"] == "smtp-doctor lint" and hook["pass_filenames"] is True
    import re

    pattern = re.compile(hook["files"])
    for name in (
        "config/environments/production.rb",
        ".env.production",
        "gitlab.rb",
        "mysite/settings.py",
        "src/main/resources/application.yml",
        "etc/postfix/main.cf",
        ".msmtprc",
    ):
        assert pattern.search(name), name
    assert not pattern.search("README.md")
