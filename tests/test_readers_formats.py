"""Readers for data formats: dotenv (Mastodon, Laravel, Symfony DSN, Vaultwarden), YAML (Discourse, Synapse,
Spring), properties, INI (Gitea, Grafana), Postfix main.cf, msmtprc."""

from __future__ import annotations

from pathlib import Path

from smtp_doctor.readers import load_env_file, read_file
from test_readers_helpers import FIX, at


def test_mastodon_env_production() -> None:
    (c,) = read_file(FIX / "mastodon" / ".env.production")
    assert c.framework == "mastodon"
    assert at(c, "SMTP_PORT") == ("587", "string", 13, 11)
    assert at(c, "SMTP_TLS") == ("false", "string", 17, 10)
    assert c.values["SMTP_TLS"].env == "SMTP_TLS"
    assert at(c, "LOCAL_DOMAIN") == ("example.com", "string", 3, 14)
    assert "REDIS_HOST" not in c.values
    # ${VAR} comes from the file, then from the --env mapping; never from this process's environment
    (r,) = read_file(FIX / "mastodon" / ".env.production", env={"LOCAL_CA_DIR": "/srv/ca"})
    assert r.values["SMTP_CA_FILE"].value == "/srv/ca/gd_bundle-g2-g1.crt"


def test_load_env_file_feeds_ruby_env() -> None:
    env = load_env_file(FIX / "mastodon" / ".env.production")
    assert env["SMTP_SERVER"] == "smtp.sendgrid.net"
    assert env["SMTP_PASSWORD"] == "SG.not-a-real-key#with-hash"  # quoted: '#' is not a comment
    (c,) = read_file(FIX / "mastodon" / "config" / "environments" / "production.rb", env=env)
    assert c.values["address"].value == "smtp.sendgrid.net"
    assert c.values["tls"].value == "false"


def test_laravel_env_with_artisan_and_interpolation() -> None:
    (c,) = read_file(FIX / "laravel" / ".env")
    assert c.framework == "laravel"
    assert at(c, "MAIL_MAILER") == ("smtp", "string", 4, 13)
    assert at(c, "MAIL_ENCRYPTION") == ("ssl", "string", 9, 17)
    assert at(c, "MAIL_FROM_NAME") == ("Laravel", "string", 11, 17)  # "${APP_NAME}"
    assert "APP_ENV" not in c.values


def test_symfony_dsn_parts_with_columns() -> None:
    (c,) = read_file(FIX / "symfony" / ".env")
    assert c.framework == "symfony"
    assert at(c, "scheme") == ("smtps", "string", 6, 12)
    assert at(c, "host") == ("smtp.sendgrid.net", "string", 6, 36)
    assert at(c, "port") == (587, "int", 6, 54)
    assert at(c, "verify_peer") == ("0", "string", 6, 70)
    assert at(c, "local_domain") == ("example.com", "string", 6, 85)
    assert at(c, "user") == ("apikey", "string", 6, 20)


def test_symfony_failover_dsn_is_one_config_per_transport(tmp_path: Path) -> None:
    """Symfony tries each transport of the list in turn: one config each, in order, with its place."""
    env = tmp_path / ".env"
    env.write_text("MAILER_DSN=failover(smtp://a:25 smtps://b:465)\n", encoding="utf-8")
    first, second = read_file(env)
    assert (first.alternative, second.alternative) == (("failover", 1, 2), ("failover", 2, 2))
    assert at(first, "host") == ("a", "string", 1, 28) and at(second, "port") == (465, "int", 1, 43)


def test_a_list_inside_a_list_is_kept_whole(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("MAILER_DSN=failover(roundrobin(smtp://a:25 smtp://b:25) smtp://c:25)\n", encoding="utf-8")
    (c,) = read_file(env)
    assert "readers.note.dsn_unparsed" in c.notes and c.alternative is None


def test_vaultwarden_env() -> None:
    (c,) = read_file(FIX / "vaultwarden" / ".env")
    assert c.framework == "vaultwarden"
    assert at(c, "SMTP_SECURITY") == ("force_tls", "string", 8, 15)
    assert at(c, "SMTP_PORT") == ("587", "string", 9, 11)
    assert "DOMAIN" not in c.values


def test_discourse_app_yml() -> None:
    (c,) = read_file(FIX / "discourse" / "containers" / "app.yml")
    assert c.framework == "discourse"
    assert at(c, "DISCOURSE_SMTP_PORT") == (587, "int", 13, 24)
    assert at(c, "DISCOURSE_SMTP_ENABLE_START_TLS") == (True, "bool", 16, 36)
    # the misspelt variable is kept so the linter can say it is ignored
    assert at(c, "DISCOURSE_SMTP_ENABLE_STARTTLS_AUTO") == (True, "bool", 17, 40)
    assert "DISCOURSE_HOSTNAME" not in c.values


def test_synapse_email_section() -> None:
    (c,) = read_file(FIX / "synapse" / "homeserver.yaml")
    assert c.framework == "synapse"
    assert at(c, "smtp_port") == (465, "int", 5, 14)
    assert at(c, "force_tls") == (False, "bool", 8, 14)
    assert at(c, "enable_tls") == (True, "bool", 10, 15)  # YAML 1.1 "yes"
    assert c.values["enable_tls"].text == "yes"


def test_spring_properties_and_yaml() -> None:
    res = FIX / "spring" / "src" / "main" / "resources"
    (p,) = read_file(res / "application.properties")
    assert at(p, "spring.mail.port") == ("587", "string", 3, 18)
    assert at(p, "spring.mail.properties.mail.smtp.ssl.trust") == ("*", "string", 8, 45)
    assert (p.values["spring.mail.username"].kind, p.values["spring.mail.username"].env) == ("env", "MAIL_USER")
    assert "server.port" not in p.values
    (y,) = read_file(res / "application.yml")
    assert at(y, "spring.mail.port") == (465, "int", 6, 11)
    assert at(y, "spring.mail.properties.mail.smtp.starttls.enable") == (True, "bool", 11, 34)
    assert at(y, "spring.mail.properties.mail.smtp.connectiontimeout") == (5000, "int", 14, 30)
    (r,) = read_file(res / "application.properties", env={"MAIL_USER": "me"})
    assert r.values["spring.mail.username"].value == "me"


def test_gitea_and_grafana_ini() -> None:
    (g,) = read_file(FIX / "gitea" / "custom" / "conf" / "app.ini")
    assert g.framework == "gitea"
    assert at(g, "SMTP_PORT") == ("2525", "string", 10, 13)
    assert at(g, "FORCE_TRUST_SERVER_CERT") == ("true", "string", 14, 27)
    assert "DOMAIN" not in g.values  # [server], not [mailer]
    (f,) = read_file(FIX / "grafana" / "conf" / "grafana.ini")
    assert f.framework == "grafana"
    assert at(f, "host") == ("smtp.example.com:587", "string", 7, 8)
    assert at(f, "startTLS_policy") == ("MandatoryStartTLS", "string", 13, 19)
    assert (f.values["password"].kind, f.values["password"].env) == ("env", "GF_SMTP_PASSWORD")


def test_postfix_main_cf() -> None:
    (c,) = read_file(FIX / "postfix" / "main.cf")
    assert at(c, "relayhost") == ("[smtp.example.com]:465", "string", 11, 13)
    assert at(c, "smtp_tls_security_level") == ("may", "string", 8, 25)
    assert c.values["smtp_sasl_security_options"].value == "noanonymous, noplaintext"  # continuation lines
    assert c.values["smtp_sasl_password_maps"].secret is False  # a lookup table path, not a password
    assert "smtpd_tls_security_level" not in c.values and "smtp_tls_wrappermode" not in c.values


def test_msmtp_accounts_with_inheritance() -> None:
    default, gmail, freemail = read_file(FIX / "msmtp" / "msmtprc")  # "default" first: msmtp's without -a
    assert [c.values["account"].value for c in (gmail, freemail, default)] == ["gmail", "freemail", "default"]
    assert at(gmail, "port") == ("587", "string", 11, 16)
    assert at(gmail, "tls") == ("on", "string", 4, 16)  # from defaults, with the defaults line
    assert at(freemail, "tls_starttls") == ("off", "string", 20, 16)
    assert at(freemail, "user") == ("username", "string", 13, 16)  # inherited from gmail
    assert freemail.values["passwordeval"].secret
    assert at(default, "host") == ("smtp.gmail.com", "string", 10, 16)


def test_spring_profiles_and_spring_mail_environment_override_the_base_file(tmp_path: Path) -> None:
    """Spring Boot's order: application.*, then application-<profile>.* for SPRING_PROFILES_ACTIVE (or
    spring.profiles.active in the file), then SPRING_MAIL_* variables by relaxed binding over every file."""
    from smtp_doctor.readers import read_file

    base = tmp_path / "application.properties"
    base.write_text("spring.profiles.active=prod\nspring.mail.host=localhost\nspring.mail.port=1025\n")
    (tmp_path / "application-prod.yml").write_text("spring:\n  mail:\n    port: 587\n    username: app\n")
    (tmp_path / "application-other.properties").write_text("spring.mail.port=2\n")
    [c] = read_file(base, env={"SPRING_MAIL_PASSWORD": "from-env-secret",
                               "SPRING_MAIL_PROPERTIES_MAIL_SMTP_STARTTLS_ENABLE": "true"})
    v = c.values
    assert v["spring.mail.port"].value == 587 or v["spring.mail.port"].value == "587"  # the profile's
    assert v["spring.mail.username"].value == "app"
    assert v["spring.mail.properties.mail.smtp.starttls.enable"].value == "true"
    assert v["spring.mail.password"].secret and "from-env-secret" not in repr(v)
    [d] = read_file(base, env={"SPRING_PROFILES_ACTIVE": "other"})
    assert str(d.values["spring.mail.port"].value) == "2" and "spring.mail.username" not in d.values
