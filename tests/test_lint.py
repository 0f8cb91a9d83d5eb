"""Every lint rule fires on a bad configuration and stays quiet once it is corrected.

The table below must name every rule of knowledge/lint_rules.toml (a test checks that), so a new
rule cannot land without its pair of configs.
"""

from __future__ import annotations

from typing import Any

import pytest
import trustme

from smtp_doctor import i18n
from smtp_doctor.findings import Severity
from smtp_doctor.lint import lint, rulebook
from smtp_doctor.settings import Origin, RawConfig, RawValue, ValueKind
from test_frameworks import Env, Sym, cfg, rv

SECRET = RawValue(None, ValueKind.STRING, "••••", Origin("cfg", 40, 5, "password"), secret=True)

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # rule, framework, bad, corrected
    ("SD101", "actionmailer", {"port": 587, "tls": 587}, {"port": 587, "enable_starttls": True}),
    ("SD101", "nodemailer", {"port": 587, "secure": "false"}, {"port": 587, "secure": False}),
    ("SD101", "django", {"EMAIL_USE_TLS": "False", "EMAIL_PORT": 587}, {"EMAIL_USE_TLS": False, "EMAIL_PORT": 587}),
    ("SD102", "nodemailer", {"secure": Env("SMTP_SECURE")}, {"secure": False}),
    ("SD103", "actionmailer", {"port": 587, "tls": True}, {"port": 465, "tls": True}),
    (
        "SD103",
        "mastodon",
        {"SMTP_PORT": "587", "SMTP_TLS": "true"},
        {"SMTP_PORT": "587", "SMTP_ENABLE_STARTTLS": "always"},
    ),
    ("SD103", "django", {"EMAIL_PORT": 2525, "EMAIL_USE_SSL": True}, {"EMAIL_PORT": 2525, "EMAIL_USE_TLS": True}),
    ("SD104", "actionmailer", {"port": 465}, {"port": 465, "tls": True}),
    ("SD104", "mastodon", {"SMTP_PORT": "465"}, {"SMTP_PORT": "465", "SMTP_TLS": "true"}),
    ("SD104", "django", {"EMAIL_PORT": 465, "EMAIL_USE_TLS": True}, {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True}),
    ("SD105", "actionmailer", {"port": 465, "tls": True, "enable_starttls_auto": True}, {"port": 465, "tls": True}),
    (
        "SD105",
        "gitlab",
        {"smtp_port": 465, "smtp_tls": True, "smtp_enable_starttls_auto": True},
        {"smtp_port": 465, "smtp_tls": True, "smtp_enable_starttls_auto": False},
    ),
    (
        "SD105",
        "django",
        {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True, "EMAIL_USE_TLS": True},
        {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True},
    ),
    (
        "SD106",
        "synapse",
        {"smtp_port": 465, "force_tls": True, "enable_tls": False},
        {"smtp_port": 465, "force_tls": True},
    ),
    ("SD106", "symfony", {"scheme": "tls", "host": "h", "port": 587}, {"scheme": "smtp", "host": "h", "port": 587}),
    ("SD107", "actionmailer", {"openssl_verify_mode": "none"}, {"openssl_verify_mode": "peer"}),
    ("SD107", "nodemailer", {"tls__rejectUnauthorized": False}, {"tls__rejectUnauthorized": True}),
    ("SD107", "gitea", {"PROTOCOL": "smtps", "FORCE_TRUST_SERVER_CERT": "true"}, {"PROTOCOL": "smtps"}),
    ("SD108", "actionmailer", {"ca_file": "/nonexistent/smtp-doctor/ca.pem"}, {"ca_file": "<existing>"}),
    (
        "SD109",
        "django",
        {"EMAIL_USE_TLS": True, "EMAIL_SSL_CERTFILE": "/etc/ssl/certs/ca-certificates.crt"},
        {"EMAIL_USE_TLS": True},
    ),
    ("SD109", "grafana", {"cert_file": "<ca>"}, {"cert_file": "<client>"}),
    (
        "SD110",
        "actionmailer",
        {"address": "smtp.example.com", "port": 587, "user_name": "u"},
        {"address": "smtp.example.com", "port": 587, "user_name": "u", "enable_starttls": True},
    ),
    (
        "SD110",
        "postfix",
        {"relayhost": "[smtp.example.com]:587", "smtp_tls_security_level": "may", "smtp_sasl_auth_enable": "yes"},
        {"relayhost": "[smtp.example.com]:587", "smtp_tls_security_level": "encrypt", "smtp_sasl_auth_enable": "yes"},
    ),
    (
        "SD111",
        "django",
        {"EMAIL_HOST": "smtp.example.com", "EMAIL_HOST_USER": "u", "EMAIL_HOST_PASSWORD": "p"},
        {"EMAIL_HOST": "smtp.example.com", "EMAIL_HOST_USER": "u", "EMAIL_HOST_PASSWORD": "p", "EMAIL_USE_TLS": True},
    ),
    (
        "SD111",
        "msmtp",
        {"host": "smtp.example.com", "auth": "on", "user": "u"},
        {"host": "smtp.example.com", "auth": "on", "user": "u", "tls": "on"},
    ),
    (
        "SD112",
        "actionmailer",
        {"address": "smtp.sendgrid.net", "port": 587, "user_name": "me@example.com", "enable_starttls": True},
        {"address": "smtp.sendgrid.net", "port": 587, "user_name": "apikey", "enable_starttls": True},
    ),
    (
        "SD113",
        "actionmailer",
        {"address": "smtp.office365.com", "port": 465, "tls": True},
        {"address": "smtp.office365.com", "port": 587, "enable_starttls": True},
    ),
    ("SD114", "actionmailer", {"authentication": Sym("none")}, {"authentication": Sym("login")}),
    ("SD114", "mastodon", {"SMTP_AUTH_METHOD": "oauth"}, {"SMTP_AUTH_METHOD": "none"}),
    ("SD115", "mastodon", {"SMTP_PORT": "465", "SMTP_TLS": "yes"}, {"SMTP_PORT": "465", "SMTP_TLS": "true"}),
    ("SD115", "grafana", {"startTLS_policy": "Mandatory"}, {"startTLS_policy": "MandatoryStartTLS"}),
    (
        "SD116",
        "discourse",
        {"DISCOURSE_SMTP_ENABLE_STARTTLS_AUTO": "true"},
        {"DISCOURSE_SMTP_ENABLE_START_TLS": "true"},
    ),
    ("SD116", "actionmailer", {"enable_startls_auto": True}, {"enable_starttls_auto": True}),
    # the key as the Ruby reader spells a string key ('address' => …); the mail gem never reads it
    ("SD117", "actionmailer", {"'address'": "smtp.example.com"}, {"address": "smtp.example.com"}),
    ("SD118", "actionmailer", {"user_name": "me"}, {"user_name": "me", "password": "x"}),
    ("SD118", "actionmailer", {"password": "x"}, {}),
]
# SD119 needs a reader's note (config_for without its YAML): tested with real files below


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A real CA certificate and a real client certificate + key, written by trustme."""
    d = tmp_path_factory.mktemp("pems")
    ca = trustme.CA()
    ca_path, client_path = d / "ca.pem", d / "client.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    leaf = ca.issue_cert("client.example")
    leaf.private_key_and_cert_chain_pem.write_to_path(str(client_path))
    return {"<ca>": str(ca_path), "<client>": str(client_path), "<existing>": str(ca_path)}


def _build(framework: str, values: dict[str, Any], pems: dict[str, str]) -> RawConfig:
    return cfg(framework, **{k: pems.get(v, v) if isinstance(v, str) else v for k, v in values.items()})


@pytest.mark.parametrize(
    ("rule", "framework", "bad", "good"), CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_fires_on_bad_and_not_on_corrected(
    rule: str, framework: str, bad: dict[str, Any], good: dict[str, Any], pem_files: dict[str, str]
) -> None:
    fired = [f for f in lint(_build(framework, bad, pem_files)) if f.id == rule]
    assert fired, f"{rule} did not fire on {bad}"
    for f in fired:
        assert f.subject.startswith("cfg:")  # points into the file
        for lang in ("en", "ja"):
            assert f.verdict(lang) != f.id and f.fix(lang)  # every placeholder filled, in both languages
    assert [f.id for f in lint(_build(framework, good, pem_files)) if f.id == rule] == []


def test_every_rule_has_a_case_words_in_both_languages_and_a_source() -> None:
    ids = {r.id for r in rulebook().rules}
    # reader notes, version defaults, protocols, the environment: real files (SD122-SD124 in
    # tests/test_lint_spring.py, SD125 in tests/test_env_overrides_file.py)
    assert ids == {c[0] for c in CASES} | {"SD119", "SD120", "SD121", "SD122", "SD123", "SD124", "SD125"}
    for rid in ids:
        for part in ("verdict", "explanation", "fix"):
            assert i18n.has(f"finding.{rid}.{part}"), (rid, part)
        assert i18n.has(f"lint.rule.{rid}.title")


def test_location_is_the_line_that_causes_it() -> None:
    raw = cfg("actionmailer", address="smtp.example.com", port=587, tls=True)  # tls is on line 3
    (f,) = [f for f in lint(raw) if f.id == "SD103"]
    assert f.subject == "cfg:3:1" and f.severity is Severity.ERROR
    assert dict(f.details)["framework_error"].endswith("wrong version number")


def test_mail_28_strictness_is_reported_as_a_version_specific_error() -> None:
    findings = lint(cfg("actionmailer", "2.8.1", port=465, tls="true"))
    (f,) = [f for f in findings if f.id == "SD106"]
    assert dict(f.details)["framework_error"] == (
        "ArgumentError: Unrecognized :tls value 'true'; expected true, false, or nil"
    )
    assert "mail gem 2.8.1" in f.verdict("en")


def test_loopback_relay_may_authenticate_in_plaintext() -> None:
    local = cfg("django", EMAIL_HOST="127.0.0.1", EMAIL_HOST_USER="u", EMAIL_HOST_PASSWORD="p")
    assert [f.id for f in lint(local) if f.id == "SD111"] == []


def test_unresolved_values_do_not_produce_guesses() -> None:
    raw = cfg("mastodon", SMTP_PORT=Env("SMTP_PORT"), SMTP_TLS=Env("SMTP_TLS"))
    assert [f.id for f in lint(raw) if f.id in ("SD103", "SD104")] == []


def test_secrets_never_reach_findings() -> None:
    raw = cfg("actionmailer", address="smtp.sendgrid.net", port=587, user_name="me", tls="false")
    raw.values["password"] = SECRET
    raw.values["passwrd"] = RawValue(None, ValueKind.STRING, "••••", Origin("cfg", 41, 5, "passwrd"), secret=True)
    out = repr([f.to_dict(lang) for f in lint(raw) for lang in ("en", "ja")])
    assert "SD116" in out and "••••" in out  # the typo'd password key is reported, masked
    assert rv("x").text == "'x'"


def test_config_for_reads_the_yaml_of_the_environment_or_says_it_is_elsewhere(tmp_path: Any) -> None:
    """smtp_settings = config_for(:smtp): config/smtp.yml's production section over shared: (Rails 6.1+); with
    no YAML the address is unknown and SD119 says the settings are elsewhere, never the defaults."""
    from smtp_doctor.frameworks import to_settings
    from smtp_doctor.readers import read_file

    rb = tmp_path / "config" / "environments" / "production.rb"
    rb.parent.mkdir(parents=True)
    rb.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = config_for(:smtp)\nend\n")
    [raw] = read_file(rb)
    assert [f.id for f in lint(raw) if f.id == "SD119"] == ["SD119"] and to_settings(raw).host is None
    (tmp_path / "config" / "smtp.yml").write_text(
        "shared:\n  port: 25\nproduction:\n  address: <%= ENV.fetch('SMTP_HOST', 'mx.example.com') %>\n"
        "  port: 587\n  user_name: app\n  password: <%= ENV['SMTP_PASSWORD'] %>\ndevelopment:\n  port: 1025\n")
    [raw] = read_file(rb, env={})
    s = to_settings(raw)
    assert (s.host and s.host.value, s.port and s.port.value) == ("mx.example.com", 587)
    assert s.port and s.port.origin and s.port.origin.file.endswith("smtp.yml")
    found = {f.id for f in lint(raw)}
    assert "SD119" not in found and "SD118" in found  # ENV['SMTP_PASSWORD'] unset: nil, refused before connecting
    [raw] = read_file(rb, env={"SMTP_PASSWORD": "x", "SMTP_HOST": "smtp.example.org"})
    assert {f.id for f in lint(raw)} & {"SD118", "SD119"} == set()
    assert to_settings(raw).host.value == "smtp.example.org"  # type: ignore[union-attr]


def test_a_laravel_config_cache_wins_over_the_env_file(tmp_path: Any) -> None:
    """After `php artisan config:cache` Laravel reads bootstrap/cache/config.php, never .env (a stale cache is a
    real cause of "I fixed .env and nothing changed"): its values decide, for Laravel 8 and 9+ alike, and SD120
    says so. Without the cache the .env decides and SD120 is silent."""
    from smtp_doctor.frameworks import to_settings
    from smtp_doctor.readers import read_file

    env = tmp_path / ".env"
    env.write_text("MAIL_MAILER=smtp\nMAIL_HOST=smtp.example.org\nMAIL_PORT=587\nMAIL_USERNAME=app\n"
                   "MAIL_PASSWORD=pw\nMAIL_ENCRYPTION=tls\n")
    [raw] = read_file(env, framework="laravel")
    assert "SD120" not in {f.id for f in lint(raw)} and to_settings(raw).port.value == 587  # type: ignore[union-attr]
    cache = tmp_path / "bootstrap" / "cache" / "config.php"
    cache.parent.mkdir(parents=True)
    cache.write_text("<?php return array (\n  'app' => array ('name' => 'Shop'),\n  'mail' => array (\n"
                     "    'default' => 'smtp',\n    'mailers' => array (\n"
                     "      'smtp' => array ('transport' => 'smtp', "
                     "'host' => 'old.example.org', 'port' => 2525, 'encryption' => 'tls', 'username' => 'app', "
                     "'password' => 'pw'),\n    ),\n  ),\n);\n")
    for version in ("8.83.26", "12.0"):
        [raw] = read_file(env, framework="laravel")
        raw.framework_version = version
        s = to_settings(raw)
        assert (s.host and s.host.value, s.port and s.port.value) == ("old.example.org", 2525), version
        assert s.port and s.port.origin and s.port.origin.file.endswith("config.php")
        assert "SD120" in {f.id for f in lint(raw)}
