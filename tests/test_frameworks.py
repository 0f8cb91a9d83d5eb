"""Framework models: truthiness tables, mode resolution per framework and version, predictions, error texts.

Configs are built directly as RawConfig (what a reader would produce), so these tests pin the model
semantics independently of the parsers; tests/test_lint_cli.py runs the whole chain on real files.
"""

from __future__ import annotations

from typing import Any

import pytest

from smtp_doctor.errors import UserError
from smtp_doctor.frameworks import expected_error, model, models, predict, to_settings, translate
from smtp_doctor.frameworks.truth import truthy
from smtp_doctor.settings import Origin, RawConfig, RawValue, TLSMode, ValueKind


class Sym(str):
    """A Ruby symbol in a test config."""


class Env:
    """A value read from an environment variable the reader could not resolve."""

    def __init__(self, name: str) -> None:
        self.name = name


def rv(value: Any, line: int = 1, key: str = "") -> RawValue:
    origin = Origin("cfg", line, 1, key)
    if isinstance(value, Env):
        return RawValue(None, ValueKind.ENV, f"ENV['{value.name}']", origin, env=value.name)
    if isinstance(value, Sym):
        return RawValue(str(value), ValueKind.SYMBOL, f":{value}", origin)
    kind = {
        bool: ValueKind.BOOL,
        int: ValueKind.INT,
        float: ValueKind.FLOAT,
        str: ValueKind.STRING,
        type(None): ValueKind.NIL,
    }[type(value)]
    return RawValue(value, kind, repr(value), origin)


def cfg(framework: str, version: str | None = None, **values: Any) -> RawConfig:
    return RawConfig(
        framework,
        "cfg",
        {k.replace("__", "."): rv(v, i + 1, k) for i, (k, v) in enumerate(values.items())},
        framework_version=version,
    )


def mode(framework: str, version: str | None = None, **values: Any) -> TLSMode | None:
    s = to_settings(cfg(framework, version, **values))
    return s.tls_mode.value if s.tls_mode else None


IMPL, S, A, N = TLSMode.IMPLICIT, TLSMode.STARTTLS, TLSMode.STARTTLS_AUTO, TLSMode.NONE


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("ruby", 587, True),
        ("ruby", "false", True),
        ("ruby", "", True),
        ("ruby", False, False),
        ("ruby", None, False),
        ("python", "False", True),
        ("python", "", False),
        ("python", 0, False),
        ("python", True, True),
        ("js", "false", True),
        ("js", "0", True),
        ("js", 0, False),
        ("js", "", False),
        ("js", float("nan"), False),
        ("php", "0", False),
        ("php", "false", True),
        ("php", "", False),
        ("java", "TRUE", True),
        ("java", "yes", False),
        ("java", "1", False),
        ("go_ini", "on", True),
        ("go_ini", "1", True),
        ("go_ini", "false", False),
        ("postfix", "yes", True),
        ("postfix", "no", False),
        ("msmtp", "on", True),
        ("msmtp", "", True),
        ("msmtp", "off", False),
        ("symfony", "0", False),
        ("symfony", "1", True),
        ("literal_true", "true", True),
        ("literal_true", "TRUE", False),
        ("literal_true", "yes", False),
        ("not_false", "no", True),
        ("not_false", "false", False),
    ],
)
def test_truthiness_tables(rule: str, value: Any, expected: bool) -> None:
    assert truthy(rule, rv(value)) is expected


def test_unresolved_env_values_are_unknown_not_false() -> None:
    assert truthy("ruby", rv(Env("SMTP_TLS"))) is None
    assert mode("mastodon", SMTP_PORT="465", SMTP_TLS=Env("SMTP_TLS")) is None


@pytest.mark.parametrize(
    ("version", "values", "expected"),
    [
        # mail 2.7: pure Ruby truthiness for tls/ssl; enable_starttls any truthy → :always
        ("2.7", {"tls": 587}, IMPL),
        ("2.7", {"tls": "false"}, IMPL),
        ("2.7", {"ssl": "465"}, IMPL),
        ("2.7", {"enable_starttls": True}, S),
        ("2.7", {"enable_starttls_auto": False}, A),  # net-smtp >= 0.3 starts STARTTLS :auto of its own
        ("2.7", {}, A),
        ("2.7", {"enable_starttls": False}, A),
        # mail 2.8: enable_starttls: false short-circuits
        ("2.8", {"enable_starttls": False, "enable_starttls_auto": True}, N),
        ("2.8", {"tls": True}, IMPL),
        # mail 2.9: :auto symbol is opportunistic, the *string* "auto" is :always
        ("2.9", {"enable_starttls": Sym("auto")}, A),
        ("2.9", {"enable_starttls": "auto"}, S),
        ("2.9", {"enable_starttls": Sym("always")}, S),
        ("2.9", {"enable_starttls": False}, N),
        ("2.9", {"tls": "false"}, IMPL),
        ("2.9", {}, A),
        ("2.9", {"tls": None}, A),
    ],
)
def test_actionmailer_mode_by_mail_version(version: str, values: dict[str, Any], expected: TLSMode) -> None:
    assert mode("actionmailer", version, **values) is expected


def test_actionmailer_defaults_and_timeouts_follow_versions() -> None:
    s27 = to_settings(cfg("actionmailer", "2.7"))
    s29 = to_settings(cfg("actionmailer", "2.9", user_name="u", openssl_verify_mode="none"))
    assert (s27.host.value, s27.port.value, s27.read_timeout.value) == ("localhost", 25, 60.0)  # type: ignore[union-attr]
    assert s27.host.default and s27.auth_mechanism.value == "none"  # type: ignore[union-attr]
    assert s29.read_timeout.value == 5.0 and s29.auth_mechanism.value == "plain"  # type: ignore[union-attr]
    assert s29.verify_peer.value is False and s29.verify_peer.origin.line == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("values", "expected_mode", "has_enable_starttls"),
    [
        ({"SMTP_PORT": "587", "SMTP_ENABLE_STARTTLS": "always"}, S, "always"),
        ({"SMTP_PORT": "587", "SMTP_ENABLE_STARTTLS": "auto"}, A, "auto"),
        ({"SMTP_PORT": "587", "SMTP_ENABLE_STARTTLS": "never"}, N, False),
        ({"SMTP_PORT": "587", "SMTP_ENABLE_STARTTLS_AUTO": "false"}, N, False),
        ({"SMTP_PORT": "587", "SMTP_ENABLE_STARTTLS_AUTO": "no"}, A, "auto"),  # only the string "false" is false
        ({"SMTP_PORT": "465", "SMTP_TLS": "true"}, IMPL, None),
        ({"SMTP_PORT": "465", "SMTP_TLS": "yes"}, A, "auto"),  # current Mastodon: only the literal "true"
    ],
)
def test_mastodon_env_maps_onto_actionmailer(
    values: dict[str, Any], expected_mode: TLSMode, has_enable_starttls: Any
) -> None:
    raw = cfg("mastodon", **values)
    am = translate(raw)
    assert am.framework == "actionmailer"
    got = am.values.get("enable_starttls")
    assert (got.value if got else None) == has_enable_starttls
    s = to_settings(raw)
    assert s.framework == "mastodon" and s.tls_mode.value is expected_mode  # type: ignore[union-attr]
    assert s.ca_file.value == "/etc/ssl/certs/ca-certificates.crt" and s.ca_file.default  # type: ignore[union-attr]
    assert s.port.origin.file == "cfg"  # type: ignore[union-attr]  # locations survive the translation


def test_mastodon_explicit_auto_with_tls_still_raises_on_mail_29() -> None:
    preds = predict(cfg("mastodon", SMTP_TLS="true", SMTP_ENABLE_STARTTLS="auto"))
    assert [p.mode for p in preds] == ["config_tls_and_starttls"]
    assert preds[0].origin is not None and preds[0].origin.key == "SMTP_TLS"  # the user's own line
    assert predict(cfg("mastodon", SMTP_TLS="true")) == []  # the fixed helper leaves enable_starttls out


def test_mail_29_and_gitlab_16_refuse_tls_with_starttls_auto() -> None:
    both = {"tls": True, "enable_starttls_auto": True}
    assert [p.mode for p in predict(cfg("actionmailer", "2.9.1", **both))] == ["config_tls_and_starttls"]
    assert predict(cfg("actionmailer", "2.8.1", **both)) == []
    gl = {"smtp_enable": True, "smtp_tls": True, "smtp_enable_starttls_auto": True}
    pred = predict(cfg("gitlab", "16.3", **gl))
    assert pred and pred[0].text.startswith("gitlab_rails['smtp_tls'] and gitlab_rails['smtp_enable_starttls_auto']")
    assert predict(cfg("gitlab", "15.11", **gl)) == []


def test_mail_28_rejects_non_boolean_values_with_the_value_in_the_message() -> None:
    (p,) = predict(cfg("actionmailer", "2.8.0", tls=587))
    assert p.mode == "config_bad_tls_value" and p.text == (
        "ArgumentError: Unrecognized :tls value 587; expected true, false, or nil"
    )
    assert predict(cfg("actionmailer", "2.8.0", tls=True)) == []


@pytest.mark.parametrize(
    ("framework", "values", "expected"),
    [
        ("gitlab", {"smtp_tls": True}, IMPL),
        ("gitlab", {"smtp_enable_starttls_auto": False}, N),
        ("gitlab", {}, A),
        ("discourse", {"DISCOURSE_SMTP_FORCE_TLS": "true"}, IMPL),
        ("discourse", {"DISCOURSE_SMTP_ENABLE_START_TLS": False}, N),
        ("django", {"EMAIL_USE_SSL": True}, IMPL),
        ("django", {"EMAIL_USE_TLS": True}, S),
        ("django", {}, N),
        ("django", {"EMAIL_USE_TLS": "False"}, S),  # os.environ string: truthy
        ("flask_mail", {"MAIL_USE_TLS": True}, S),
        ("symfony", {"scheme": "smtps", "host": "h", "port": 587}, IMPL),
        ("symfony", {"scheme": "smtp", "host": "h", "port": 465}, IMPL),
        ("symfony", {"scheme": "smtp", "host": "h", "port": 587}, A),
        ("symfony", {"scheme": "smtp", "host": "h"}, IMPL),
        ("symfony", {"scheme": "smtp", "host": "localhost"}, A),
        ("nodemailer", {"port": 465}, IMPL),
        ("nodemailer", {"port": 465, "secure": False}, A),
        ("nodemailer", {"port": "587", "secure": "false"}, IMPL),
        ("nodemailer", {"requireTLS": True}, S),
        ("nodemailer", {"ignoreTLS": True}, N),
        ("spring", {"spring.mail.protocol": "smtps"}, IMPL),
        ("spring", {"spring.mail.properties.mail.smtp.starttls.enable": "true"}, A),
        (
            "spring",
            {
                "spring.mail.properties.mail.smtp.starttls.enable": True,
                "spring.mail.properties.mail.smtp.starttls.required": "true",
            },
            S,
        ),
        ("gitea", {"SMTP_PORT": "2525"}, IMPL),
        ("gitea", {"PROTOCOL": "smtp", "SMTP_PORT": "587"}, N),
        ("gitea", {"PROTOCOL": "smtp+starttls"}, A),
        ("grafana", {"host": "smtp.example.com:465"}, IMPL),
        ("grafana", {"startTLS_policy": "MandatoryStartTLS"}, S),
        ("nextcloud", {"mail_smtpsecure": "ssl", "mail_smtpport": 587}, IMPL),
        ("nextcloud", {"mail_smtpport": 465}, IMPL),
        ("nextcloud", {"mail_smtpsecure": "tls"}, A),
        ("vaultwarden", {}, S),
        ("vaultwarden", {"SMTP_SECURITY": "force_tls"}, IMPL),
        ("vaultwarden", {"SMTP_SSL": "true", "SMTP_EXPLICIT_TLS": "true"}, IMPL),
        ("synapse", {"force_tls": True}, IMPL),
        ("synapse", {"require_transport_security": True}, S),
        ("synapse", {"enable_tls": False}, N),
        ("postfix", {"smtp_tls_wrappermode": "yes"}, IMPL),
        ("postfix", {"smtp_tls_security_level": "may"}, A),
        ("postfix", {"smtp_tls_security_level": "encrypt"}, S),
        ("postfix", {}, N),
        ("msmtp", {"tls": "on", "tls_starttls": "off"}, IMPL),
        ("msmtp", {"tls": "on"}, S),
        ("msmtp", {}, N),
    ],
)
def test_mode_resolution(framework: str, values: dict[str, Any], expected: TLSMode) -> None:
    assert mode(framework, **{k.replace(".", "__"): v for k, v in values.items()}) is expected


@pytest.mark.parametrize(
    ("framework", "values", "port"),
    [
        ("nodemailer", {}, 587),
        ("nodemailer", {"secure": True}, 465),
        ("symfony", {"scheme": "smtps", "host": "h"}, 465),
        ("gitea", {"PROTOCOL": "smtp+starttls"}, 587),
        ("vaultwarden", {"SMTP_SECURITY": "off"}, 25),
        ("grafana", {"host": "mail.example:2525"}, 2525),
        ("postfix", {"relayhost": "[smtp.example.com]:587"}, 587),
        ("msmtp", {"tls": "on", "tls_starttls": "off"}, 465),
        ("laravel", {}, 2525),
        ("synapse", {"force_tls": True}, 465),
    ],
)
def test_port_defaults_follow_the_mode(framework: str, values: dict[str, Any], port: int) -> None:
    assert to_settings(cfg(framework, **values)).port.value == port  # type: ignore[union-attr]


def test_laravel_versions_where_tls_meant_implicit() -> None:
    assert mode("laravel", "9.0.1", MAIL_ENCRYPTION="tls", MAIL_PORT="587") is IMPL
    assert mode("laravel", "9.1", MAIL_ENCRYPTION="tls", MAIL_PORT="587") is A
    assert mode("laravel", "11.35.0", MAIL_ENCRYPTION="tls", MAIL_PORT="587") is IMPL
    assert mode("laravel", "12.0", MAIL_SCHEME="smtps", MAIL_PORT="587") is IMPL


def test_django_verification_and_client_certificate_by_version() -> None:
    old = to_settings(cfg("django", "4.1", EMAIL_USE_TLS=True))
    new = to_settings(cfg("django", "4.2", EMAIL_USE_TLS=True))
    assert old.verify_peer.value is False and new.verify_peer.value is True  # type: ignore[union-attr]
    preds = predict(cfg("django", "5.0", EMAIL_USE_TLS=True, EMAIL_SSL_CERTFILE="/etc/ssl/ca.pem"))
    assert [p.mode for p in preds] == ["cert_no_trust_anchors"]
    assert predict(cfg("django", "4.1", EMAIL_USE_TLS=True, EMAIL_SSL_CERTFILE="/etc/ssl/ca.pem")) == []
    (both,) = predict(cfg("django", EMAIL_USE_TLS=True, EMAIL_USE_SSL=True))
    assert both.text.startswith("ValueError: EMAIL_USE_TLS/EMAIL_USE_SSL are mutually exclusive")


def test_password_is_a_reference_never_the_secret() -> None:
    secret = RawValue(None, ValueKind.STRING, "••••", Origin("cfg", 3, 1, "password"), secret=True)
    from_env = RawValue(None, ValueKind.ENV, "••••", Origin("cfg", 4, 1), env="SMTP_PASSWORD", secret=True)
    empty = RawValue("", ValueKind.STRING, "", Origin("cfg", 5, 1), secret=True)
    lit = to_settings(RawConfig("actionmailer", "cfg", {"password": secret}))
    env = to_settings(RawConfig("actionmailer", "cfg", {"password": from_env}))
    none = to_settings(RawConfig("actionmailer", "cfg", {"password": empty}))
    assert lit.has_password and lit.password_ref.value == "literal cfg:3:1"  # type: ignore[union-attr]
    assert env.has_password and env.password_ref.value == "ENV[SMTP_PASSWORD]"  # type: ignore[union-attr]
    assert not none.has_password and none.password_ref is None


def test_expected_error_texts_by_framework_and_version() -> None:
    assert expected_error("actionmailer", "implicit_tls_on_plain_port") == (
        "OpenSSL::SSL::SSLError: SSL_connect returned=1 errno=0 state=error: wrong version number"
    )
    assert expected_error("nodemailer", "plain_on_implicit_port", params={}) == (
        "Error: Greeting never received (code: 'ETIMEDOUT', command: 'CONN')"
    )
    assert expected_error("django", "cert_unknown_issuer", "4.1") is None  # 4.1 does not verify at all
    assert "CERTIFICATE_VERIFY_FAILED" in (expected_error("django", "cert_unknown_issuer", "4.2") or "")
    assert expected_error("mastodon", "starttls_not_offered") == (
        "Net::SMTPUnsupportedCommand: STARTTLS is not supported on this server"
    )  # via ActionMailer
    assert expected_error(
        "laravel", "implicit_tls_on_plain_port", params={"host": "smtp.gmail.com", "port": 587}
    ).startswith('Connection could not be established with host "ssl://smtp.gmail.com:587"')
    assert expected_error("vaultwarden", "implicit_tls_on_plain_port") is None  # nobody recorded lettre's text


def test_every_framework_the_readers_produce_has_a_model_with_sourced_facts() -> None:
    from smtp_doctor.readers import FRAMEWORKS

    assert set(FRAMEWORKS) == set(models())
    for m in models().values():
        assert m.source and all(e.source for e in m.errors) and all(p.source for p in m.predicts)


def test_unknown_framework_is_a_user_error() -> None:
    with pytest.raises(UserError) as exc:
        model("wordpress")
    assert exc.value.key == "frameworks.error.unknown"


def test_msmtp_trust_file_system_is_the_system_store_not_a_file() -> None:
    assert to_settings(cfg("msmtp", tls="on", tls_trust_file="system")).ca_file is None
    assert to_settings(cfg("msmtp", tls="on", tls_trust_file="/etc/ca.pem")).ca_file.value == "/etc/ca.pem"  # type: ignore[union-attr]


def test_actionmailer_27_starttls_auto_false_still_does_starttls_without_ca_file() -> None:
    """mail 2.7 + net-smtp >= 0.3: false is not passed on, net-smtp's own :auto applies, with its own context."""
    old = to_settings(cfg("actionmailer", "2.7.1", enable_starttls_auto=False, ca_file="/etc/ca.pem"))
    new = to_settings(cfg("actionmailer", "2.8.1", enable_starttls_auto=False, ca_file="/etc/ca.pem"))
    assert old.tls_mode.value is A and old.ca_file is None  # type: ignore[union-attr]
    assert new.tls_mode.value is N and new.ca_file.value == "/etc/ca.pem"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("values", "mechanism"),
    [
        ({"auth.user": "u", "auth.pass": "p"}, "auto"),  # the first the server offers
        ({"auth.user": "u", "auth.type": "login"}, "auto"),  # auth.type "login" = user and password, not LOGIN
        ({"auth.user": "u", "authMethod": "LOGIN"}, "login"),  # the transport's authMethod
        ({"auth.user": "u", "authMethod": "LOGIN", "auth.method": "PLAIN"}, "plain"),  # auth.method first
        ({"authMethod": "LOGIN"}, "none"),  # no auth object: no AUTH at all
        ({"auth.user": "u", "auth.type": "OAuth2"}, "xoauth2"),
    ],
)
def test_nodemailer_mechanism_as_its_transport_picks_it(values: dict[str, Any], mechanism: str) -> None:
    """nodemailer lib/smtp-transport getAuth: method = auth.method || options.authMethod, else the connection
    takes the first mechanism the server offers (checked in 6.10.1 and 8.0.11)."""
    s = to_settings(cfg("nodemailer", **{k.replace(".", "__"): v for k, v in values.items()}))
    assert s.auth_mechanism is not None and s.auth_mechanism.value == mechanism


def test_nodemailer_require_tls_wins_over_ignore_tls_from_10_0_11() -> None:
    """CHANGELOG 10.0.11 "honour requireTLS" (dist/cjs/smtp-connection 10.6.1 :168-171); 6.x skipped STARTTLS."""
    assert mode("nodemailer", "10.6.1", requireTLS=True, ignoreTLS=True) is S
    assert mode("nodemailer", "6.10.1", requireTLS=True, ignoreTLS=True) is N


def test_msmtp_auth_names_a_mechanism_and_gitlab_refuses_a_user_without_password() -> None:
    assert to_settings(cfg("msmtp", auth="plain")).auth_mechanism.value == "plain"  # type: ignore[union-attr]
    assert to_settings(cfg("msmtp", auth="off")).auth_mechanism.value == "none"  # type: ignore[union-attr]
    on = {"smtp_enable": True}  # without it GitLab uses no SMTP at all (config_smtp_disabled)
    assert [p.mode for p in predict(cfg("gitlab", smtp_user_name="u", smtp_authentication="login", **on))] == [
        "auth_missing_credentials"]
    assert predict(cfg("gitlab", smtp_user_name="u", smtp_password="p", **on)) == []
    assert predict(cfg("gitlab", smtp_user_name="u", smtp_authentication="false", **on)) == []
    assert [p.mode for p in predict(cfg("gitlab", smtp_user_name="u", smtp_password="p"))] == ["config_smtp_disabled"]


def test_every_predict_rule_past_startup_has_its_why() -> None:
    """A rule that fires at connect or auth is explained by check.why.<mode>: a missing sentence was an
    internal error (exit 70) on the first Spring config that reached it."""
    import tomllib
    from importlib import resources

    from smtp_doctor.i18n import has

    doc = tomllib.loads((resources.files("smtp_doctor") / "knowledge" / "frameworks.toml").read_text("utf-8"))
    rules = [(fw, r) for fw, f in doc["framework"].items() for r in f.get("predict", [])]
    shown = [(fw, r.get("shows") or r["mode"]) for fw, r in rules if r.get("at") != "startup"]  # plan.Refusal's
    missing = [(fw, mode) for fw, mode in shown if not has(f"check.why.{mode}")]
    assert rules and not missing, missing


def test_mastodon_variable_set_to_nothing_is_nil_not_empty_nor_the_default() -> None:
    """email.yml renders `SMTP_PASSWORD=` as an empty YAML scalar: nil, so the mail gem has a user and no
    secret (matrix 6 dev: ArgumentError, missing secret phrase), and `SMTP_CA_FILE=` is no CA file at all."""
    raw = cfg("mastodon", SMTP_SERVER="h", SMTP_LOGIN="u", SMTP_PASSWORD="", SMTP_CA_FILE="")
    seen = translate(raw).values
    assert "password" not in seen and "ca_file" not in seen
    assert [p.mode for p in predict(raw)] == ["auth_missing_credentials"]
    assert predict(cfg("mastodon", SMTP_SERVER="h", SMTP_LOGIN="u", SMTP_PASSWORD="p")) == []
    assert translate(cfg("mastodon", SMTP_SERVER="h")).values["ca_file"].value == "/etc/ssl/certs/ca-certificates.crt"


def test_laravel8_auth_mode_and_an_empty_user_name() -> None:
    """SwiftMailer keeps only the auth_mode authenticator, and logs in only with a non-empty user name."""
    s = to_settings(cfg("laravel", "8.83", mail__username="u", mail__auth_mode="LOGIN"))
    assert s.auth_mechanism is not None and s.auth_mechanism.value == "login"
    s = to_settings(cfg("laravel", "8.83", mail__username="", mail__auth_mode="login"))
    assert s.auth_mechanism is not None and s.auth_mechanism.value == "none"
    assert to_settings(cfg("laravel", "8.83", mail__username="u")).auth_mechanism.value == "auto"  # type: ignore[union-attr]


@pytest.mark.parametrize(("framework", "version", "values"), [
    ("symfony", None, {"user": "u"}),
    ("symfony", None, {"user": "u", "password": ""}),
    ("laravel", "8.83", {"mail__username": "u", "mail__password": None}),
    ("laravel", "10.0", {"MAIL_USERNAME": "u", "MAIL_PASSWORD": ""}),
])
def test_php_mailers_log_in_with_an_empty_password_and_are_refused(
        framework: str, version: str | None, values: dict[str, Any]) -> None:
    assert [(p.mode, p.at) for p in predict(cfg(framework, version, **values))] == [("auth_bad_credentials", "auth")]
    filled = {k: ("p" if "pass" in k.lower() else v) for k, v in values.items()} | (
        {"password": "p"} if framework == "symfony" else {})
    assert predict(cfg(framework, version, **filled)) == []


@pytest.mark.parametrize(("values", "modes"), [
    # Spring keeps '' as the password unless the user name is '' too (JavaMailSenderImpl.connectTransport)
    ({"spring.mail.username": "u", "spring.mail.password": ""}, [("auth_bad_credentials", "auth")]),
    ({"spring.mail.username": "", "spring.mail.password": ""}, [("auth_missing_credentials", "startup")]),
    ({"spring.mail.username": "u"}, [("auth_missing_credentials", "startup")]),
    ({"spring.mail.password": "p"}, [("auth_bad_credentials", "auth")]),  # the OS account logs in
    ({"spring.mail.username": "u", "spring.mail.password": "p"}, []),
])
def test_spring_empty_and_missing_credentials(values: dict[str, Any], modes: list[tuple[str, str]]) -> None:
    raw = cfg("spring", None, spring__mail__properties__mail__smtp__auth=True)
    raw.values.update({k: rv(v, 9, k) for k, v in values.items()})
    assert [(p.mode, p.at) for p in predict(raw)] == modes


def test_spring_reads_javamail_s_own_host_and_port_and_refuses_a_provider_it_lacks() -> None:
    s = to_settings(cfg("spring", None, spring__mail__properties__mail__smtp__port=2525))
    assert s.port is not None and s.port.value == 2525
    assert [p.mode for p in predict(cfg("spring", None, spring__mail__protocol="SMTP"))] == ["config_bad_tls_value"]
    assert predict(cfg("spring", None, spring__mail__protocol="smtps")) == []
    jndi = cfg("spring", None)
    jndi.values["spring.mail.jndi-name"] = rv("java:jboss/mail/Default", 1, "spring.mail.jndi-name")
    assert [p.mode for p in predict(jndi)] == ["config_unresolved"]


def test_spring_environment_variables_bind_as_boot_s_relaxed_binding_does() -> None:
    from smtp_doctor.readers.spring_layers import env_key

    assert env_key("SPRING_MAIL_SSL_ENABLED") == "spring.mail.ssl.enabled"
    assert env_key("SPRING_MAIL_DEFAULTENCODING") == "spring.mail.default-encoding"
    assert env_key("SPRING_MAIL_JNDINAME") == "spring.mail.jndi-name"
    assert env_key("SPRING_MAIL_PROPERTIES_MAIL_SMTP_AUTH") == "spring.mail.properties.mail.smtp.auth"


def test_msmtp_auth_without_a_user_and_a_laravel_mailer_nothing_defines() -> None:
    sender = {"from": "app@example.com"}
    assert [(p.mode, p.at) for p in predict(cfg("msmtp", auth="on", **sender))] == [
        ("auth_missing_credentials", "auth")]
    assert predict(cfg("msmtp", auth="on", user="u", **sender)) == []
    assert predict(cfg("msmtp", auth="off", **sender)) == []
    # no envelope-from at all (msmtp.c: "envelope-from address is missing"), unless auto_from makes one up
    assert [p.mode for p in predict(cfg("msmtp", auth="off"))] == ["config_missing_sender"]
    assert predict(cfg("msmtp", auth="off", auto_from="on")) == []
    assert [p.mode for p in predict(cfg("laravel", "8.83", MAIL_MAILER="smpt"))] == ["config_unresolved"]
    assert predict(cfg("laravel", "8.83", MAIL_MAILER="smtp")) == []


@pytest.mark.parametrize(("extra", "mechanisms"), [
    ({}, "auto"),
    ({"auth.plain.disable": True}, "LOGIN DIGEST-MD5 NTLM"),
    ({"auth.mechanisms": "PLAIN LOGIN"}, "PLAIN LOGIN"),
    ({"auth.mechanisms": "CRAM-MD5"}, "-"),  # no authenticator for it: skipped, none left
    ({"auth.mechanisms": "LOGIN PLAIN", "auth.login.disable": True}, "PLAIN"),
])
def test_javamail_tries_only_the_authenticators_it_has_and_has_not_disabled(extra: dict[str, Any],
                                                                            mechanisms: str) -> None:
    """SMTPTransport.authenticate: mail.smtp.auth.mechanisms (else LOGIN PLAIN DIGEST-MD5 NTLM), a name without
    an authenticator skipped, each mail.smtp.auth.<mech>.disable one left out."""
    keys = {f"spring__mail__properties__mail__smtp__{k.replace('.', '__')}": v for k, v in extra.items()}
    s = to_settings(cfg("spring", None, spring__mail__properties__mail__smtp__auth=True, **keys))
    assert s.auth_mechanism is not None and s.auth_mechanism.value == mechanisms
