"""The readers' public API: discovery in a project tree, framework detection, secret masking and the
one-line errors for malformed or unusable input (English and Japanese)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smtp_doctor import i18n
from smtp_doctor.errors import ExitCode, UserError
from smtp_doctor.readers import FRAMEWORKS, discover, read_file, read_tree
from test_readers_helpers import FIX

EXPECTED = {
    "actionmailer/config/environments/development.rb", "actionmailer/config/environments/production.rb",
    "actionmailer/config/environments/staging.rb", "actionmailer_initializer/config/initializers/smtp.rb",
    "discourse/containers/app.yml", "django/mysite/settings.py", "flask_mail/config.py",
    "gitea/custom/conf/app.ini", "gitlab/gitlab.rb", "grafana/conf/grafana.ini", "laravel/.env",
    "mastodon/.env.production", "mastodon/config/environments/production.rb", "msmtp/msmtprc",
    "nextcloud/config/config.php", "nodemailer/mail.ts", "nodemailer/mailer.js", "postfix/main.cf",
    "spring/src/main/resources/application.properties", "spring/src/main/resources/application.yml",
    "symfony/.env", "synapse/homeserver.yaml", "vaultwarden/.env",
    "malformed/.env", "malformed/.env.production", "malformed/app.yml",  # app.ini lacks "[mailer]"
    "malformed/config.php", "malformed/production.rb", "malformed/settings.py",
}
# what each fixture must be read as (file → frameworks, in order)
FRAMEWORK_OF = {
    "actionmailer/config/environments/production.rb": ["actionmailer"], "gitlab/gitlab.rb": ["gitlab"],
    "mastodon/.env.production": ["mastodon"], "discourse/containers/app.yml": ["discourse"],
    "django/mysite/settings.py": ["django"], "flask_mail/config.py": ["flask_mail", "flask_mail"],
    "laravel/.env": ["laravel"], "symfony/.env": ["symfony"], "nodemailer/mailer.js": ["nodemailer"],
    "spring/src/main/resources/application.yml": ["spring"], "gitea/custom/conf/app.ini": ["gitea"],
    "grafana/conf/grafana.ini": ["grafana"], "nextcloud/config/config.php": ["nextcloud"],
    "vaultwarden/.env": ["vaultwarden"], "synapse/homeserver.yaml": ["synapse"], "postfix/main.cf": ["postfix"],
    "msmtp/msmtprc": ["msmtp", "msmtp", "msmtp"],
}
# the literal secrets written in the fixtures: none may survive in any RawValue
SECRETS = ["パスワード", "smtp password", "SG.not-a-real-key", "pa#ssword", "app password", "s%40cret", "s@cret",
           "literal-secret", ":pw@", "'pw'", "changeme", "examplepassword", "pa;ss#word", "fallback-secret",
           "plain text password", "gpg --no-tty", "=password"]


def test_discover_finds_every_fixture_and_nothing_else() -> None:
    found = {p.relative_to(FIX).as_posix() for p in discover(FIX)}
    assert found == EXPECTED


def test_every_framework_id_has_a_fixture() -> None:
    covered = set()
    for rel in EXPECTED - {e for e in EXPECTED if e.startswith("malformed/")}:
        covered |= {c.framework for c in read_file(FIX / rel)}
    covered |= {c.framework for c in read_file(FIX / "mastodon/config/environments/production.rb",
                                              framework="mastodon")}
    assert covered | {"mastodon", "nodemailer", "spring"} == set(FRAMEWORKS)
    assert {"mastodon", "nodemailer", "spring"} <= covered


@pytest.mark.parametrize("rel", sorted(FRAMEWORK_OF))
def test_framework_detection(rel: str) -> None:
    assert [c.framework for c in read_file(FIX / rel)] == FRAMEWORK_OF[rel]


def test_discover_is_bounded_and_skips_dependency_folders(tmp_path: Path) -> None:
    js = "nodemailer.createTransport({ host: 'x' })\n"
    for skipped in ("node_modules/pkg", ".git/hooks", "vendor/bundle"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "mail.js").write_text(js, encoding="utf-8")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mail.js").write_text(js, encoding="utf-8")
    (tmp_path / "src" / "other.js").write_text("console.log('no mail here')\n", encoding="utf-8")
    (tmp_path / "src" / "big.js").write_text(js + "//" + "x" * (2 * 1024 * 1024), encoding="utf-8")
    (tmp_path / ".env.example").write_text("SMTP_SERVER=x\n", encoding="utf-8")  # samples are not configs
    os.symlink(tmp_path / "src", tmp_path / "link")  # would double every file, or loop
    deep = tmp_path
    for i in range(20):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    (deep / "mail.js").write_text(js, encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == ["src/mail.js"]


def test_read_tree_reads_what_discover_finds() -> None:
    configs = read_tree(FIX / "mastodon", env={"SMTP_SERVER": "smtp.example.org"})
    by_file = {Path(c.file).name: c for c in configs}
    assert set(by_file) == {".env.production", "production.rb"}
    assert by_file["production.rb"].values["address"].value == "smtp.example.org"
    assert by_file[".env.production"].framework == "mastodon"


def test_no_secret_survives_in_any_value() -> None:
    configs = [c for rel in sorted(EXPECTED) if not rel.startswith("malformed/") for c in read_file(FIX / rel)]
    dump = repr(configs)
    for secret in SECRETS:
        assert secret not in dump, secret
    secrets = [v for c in configs for v in c.values.values() if v.secret]
    assert len(secrets) >= 18
    for v in secrets:
        assert v.value in (None, "") and v.text in ("••••", "") or "••••" in v.text


def test_secret_from_env_keeps_only_the_variable_name() -> None:
    env = {"SMTP_PASSWORD": "hunter2-canary"}
    (c,) = read_file(FIX / "actionmailer_initializer/config/initializers/smtp.rb", env=env)
    pw = c.values["password"]
    assert (pw.value, pw.kind, pw.env, pw.secret, pw.text) == (None, "string", "SMTP_PASSWORD", True, "••••")
    assert "hunter2-canary" not in repr(c)


def test_empty_password_stays_visible(tmp_path: Path) -> None:
    py = tmp_path / "settings.py"
    py.write_text("EMAIL_HOST_PASSWORD = ''\n", encoding="utf-8")
    (c,) = read_file(py)
    assert (c.values["EMAIL_HOST_PASSWORD"].value, c.values["EMAIL_HOST_PASSWORD"].text) == ("", "")


MALFORMED = [
    (".env", "readers.error.dsn", 1), (".env.production", "readers.error.env_syntax", 3),
    ("app.ini", "readers.error.syntax", 1), ("app.yml", "readers.error.syntax", 4),
    ("config.php", "readers.error.syntax", 4), ("production.rb", "readers.error.syntax", 1),
    ("settings.py", "readers.error.syntax", 2),
]


@pytest.mark.parametrize(("name", "key", "line"), MALFORMED)
def test_malformed_files_give_one_line_naming_file_and_line(name: str, key: str, line: int) -> None:
    path = FIX / "malformed" / name
    with pytest.raises(UserError) as info:
        read_file(path)
    err = info.value
    assert (err.key, err.params["line"], err.exit_code) == (key, line, ExitCode.USAGE)
    for lang in ("en", "ja"):
        text = i18n.t(err.key, lang=lang, **err.params)
        assert f"{path}:{line}" in text and "\n" not in text


def test_ruby_syntax_error_points_into_the_file() -> None:
    with pytest.raises(UserError) as info:
        read_file(FIX / "malformed" / "production.rb")
    assert info.value.message().startswith(f"{FIX / 'malformed' / 'production.rb'}:1:")


def test_unusable_inputs(tmp_path: Path) -> None:
    cases: list[tuple[Path, dict[str, str], str]] = [
        (tmp_path / "missing.rb", {}, "readers.error.not_found"),
        (tmp_path / "notes.txt", {}, "readers.error.unknown_format"),
        (tmp_path / "binary.py", {}, "readers.error.encoding"),
        (tmp_path / "huge.env", {}, "readers.error.too_large"),
        (tmp_path / "gitlab.rb", {"framework": "django"}, "readers.error.framework_mismatch"),
        (tmp_path / "gitlab.rb", {"framework": "exim"}, "readers.error.unknown_framework"),
        (tmp_path, {}, "readers.error.unreadable"),
    ]
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    (tmp_path / "binary.py").write_bytes(b"EMAIL_HOST = 'a'\n\xff\xfe\n")
    (tmp_path / "huge.env").write_text("A=" + "x" * (1024 * 1024 + 1), encoding="utf-8")
    (tmp_path / "gitlab.rb").write_text("gitlab_rails['smtp_port'] = 25\n", encoding="utf-8")
    for path, kwargs, key in cases:
        with pytest.raises(UserError) as info:
            read_file(path, **kwargs)  # type: ignore[arg-type]
        assert info.value.key == key, path
        for lang in ("en", "ja"):
            assert "\n" not in i18n.t(info.value.key, lang=lang, **info.value.params)
    with pytest.raises(UserError) as info:
        discover(tmp_path / "nowhere")
    assert info.value.key == "readers.error.not_found"


def test_explicit_framework_on_a_file_without_its_keys_means_defaults(tmp_path: Path) -> None:
    py = tmp_path / "settings.py"
    py.write_text("DEBUG = True\n", encoding="utf-8")
    assert read_file(py) == []
    (c,) = read_file(py, framework="django")
    assert (c.framework, c.values) == ("django", {})


def test_every_reader_message_exists_in_both_languages() -> None:
    keys = [k for k in i18n.catalogue() if k.startswith("readers.")]
    assert len(keys) >= 14
    for key in keys:
        entry = i18n.catalogue()[key]
        assert entry["en"] and entry["ja"]
        assert i18n.placeholders(entry["en"]) == i18n.placeholders(entry["ja"])


@pytest.mark.parametrize(("name", "body"), [
    ("production.rb", "config.action_mailer.smtp_settings = { port: " + "(" * 5000 + "1" + ")" * 5000 + " }\n"),
    ("mail.js", "createTransport({ port: " + "(" * 5000 + "1" + ")" * 5000 + " })\n"),
    ("settings.py", "EMAIL_PORT = " + "-" * 50000 + "1\n"),
])
def test_pathological_nesting_is_refused_in_one_line(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    try:
        configs = read_file(path)
    except UserError as err:
        assert err.key in ("readers.error.too_deep", "readers.error.syntax")
        assert "\n" not in err.message()
    else:
        assert configs[0].values  # read without blowing the stack
