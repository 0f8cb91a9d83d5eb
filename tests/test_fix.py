"""`fix` and `config --for` against the lab: Mastodon and GitLab files, the patcher, bad input, secrets, ja."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from smtp_doctor.predict import Fix
from smtp_doctor.readers import read_file
from smtp_doctor.settings import RawConfig
from smtp_doctor.writers.patch import Unpatchable, apply_fix, secret_lines, unified_diff


def run(*args: str, lang: str = "en") -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", lang, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def fix_json(path: Path, lab: LabInfo, *extra: str) -> dict:  # type: ignore[type-arg]
    code, out = run("fix", str(path), "--ca-file", str(lab.ca_file), "--json", "--timeout", "20", *extra)
    doc = json.loads(out)
    doc["exit_code"] = code
    return doc["configs"][0] | {"exit_code": code}


def test_mastodon_env_tls_on_587_is_fixed_in_its_own_syntax(lab: LabInfo, tmp_path: Path) -> None:
    env = tmp_path / ".env.production"
    env.write_text(f"LOCAL_DOMAIN=example.com\nSMTP_SERVER=127.0.0.1\nSMTP_PORT={lab.servers['starttls'].port}\n"
                   f"SMTP_LOGIN={lab.user}\nSMTP_PASSWORD={lab.password}\nSMTP_TLS=true\n"
                   "SMTP_FROM_ADDRESS=notifications@example.com\n")
    doc = fix_json(env, lab)
    assert doc["before"] == "fails" and doc["after"] == "delivered" and doc["exit_code"] == 1
    assert doc["steps"][0]["failure"] == "implicit_tls_on_plain_port"
    assert doc["steps"][1]["failure"].startswith("cert_")  # the lab's private CA is unknown to the system store
    diff = doc["diff"]
    assert "-SMTP_TLS=true" in diff and "+SMTP_ENABLE_STARTTLS=always" in diff
    assert f"+SMTP_CA_FILE={lab.ca_file}" in diff and "+SMTP_OPENSSL_VERIFY_MODE=peer" in diff
    assert lab.password not in json.dumps(doc)


def test_gitlab_rb_implicit_tls_wanted_on_465(lab: LabInfo, tmp_path: Path) -> None:
    rb = tmp_path / "gitlab.rb"
    rb.write_text("gitlab_rails['smtp_enable'] = true\ngitlab_rails['smtp_address'] = '127.0.0.1'\n"
                  f"gitlab_rails['smtp_port'] = {lab.servers['implicit'].port}\n"
                  "gitlab_rails['smtp_enable_starttls_auto'] = true\n"
                  f"gitlab_rails['smtp_ca_file'] = '{lab.ca_file}'\n")
    doc = fix_json(rb, lab)
    assert doc["steps"][0]["failure"] == "plain_on_implicit_port" and doc["after"] == "delivered", doc
    assert "+gitlab_rails['smtp_tls'] = true" in doc["diff"]
    assert "+gitlab_rails['smtp_enable_starttls_auto'] = false" in doc["diff"]


def test_a_config_that_delivers_needs_no_fix(lab: LabInfo, tmp_path: Path) -> None:
    env = tmp_path / ".env.production"
    env.write_text(f"SMTP_SERVER=127.0.0.1\nSMTP_PORT={lab.servers['starttls'].port}\nSMTP_ENABLE_STARTTLS=always\n"
                   f"SMTP_CA_FILE={lab.ca_file}\n")
    doc = fix_json(env, lab)
    assert doc["exit_code"] == 0 and doc["steps"] == [] and doc["diff"] == ""


def test_japanese_output(lab: LabInfo, tmp_path: Path) -> None:
    env = tmp_path / ".env.production"
    env.write_text(f"SMTP_SERVER=127.0.0.1\nSMTP_PORT={lab.servers['starttls'].port}\nSMTP_SSL=true\n")
    code, out = run("fix", str(env), "--ca-file", str(lab.ca_file), lang="ja")
    assert code == 1 and "失敗します" in out and "この変更で送信できます" in out


# -- the patcher (pure) --------------------------------------------------------------------------------------


RAILS = """config.action_mailer.smtp_settings = {
  address: 'smtp.example.com',
  port: 587,
  password: 'hunter2-secret',
  tls: true
}
"""


def _rails(tmp_path: Path, text: str = RAILS) -> tuple[Path, RawConfig]:
    path = tmp_path / "production.rb"
    path.write_text(text)
    [raw] = read_file(path, framework="actionmailer")
    return path, raw


def test_patch_removes_and_adds_after_the_last_located_line(tmp_path: Path) -> None:
    path, raw = _rails(tmp_path)
    fix = Fix("plain_port", ("enable_starttls: true,",), (("tls", "x"),), keys=("enable_starttls",))
    patched = apply_fix(path.read_text(), raw, fix, "ruby_hash")
    assert patched.text == RAILS.replace("  tls: true\n", "  enable_starttls: true,\n")
    assert patched.removed == (5,) and patched.added_after == 4
    diff = unified_diff(path.read_text(), patched.text, "production.rb", secret_lines(path.read_text(), raw))
    assert "hunter2" not in diff and "password: ********," in diff


def test_the_last_hash_entry_gains_a_comma_before_new_lines(tmp_path: Path) -> None:
    path, raw = _rails(tmp_path)
    fix = Fix("trust_ca", ("ca_file: '/ca.pem',",), keys=("ca_file",))
    patched = apply_fix(path.read_text(), raw, fix, "ruby_hash")
    assert "  tls: true,\n  ca_file: '/ca.pem',\n}" in patched.text


def test_patch_rewrites_a_key_in_place(tmp_path: Path) -> None:
    path, raw = _rails(tmp_path)
    fix = Fix("implicit_port", ("tls: true,", "port: 465,"), keys=("tls", "port"))
    patched = apply_fix(path.read_text(), raw, fix, "ruby_hash")
    assert "  port: 465,\n" in patched.text and "  tls: true,\n" in patched.text
    assert patched.changed == (3, 5) and patched.removed == ()


def test_a_hash_on_one_line_is_edited_entry_by_entry(tmp_path: Path) -> None:
    path, raw = _rails(tmp_path, "config.action_mailer.smtp_settings = { address: 'h', :port => 587, "
                                 "'tls' => true, password: 'hunter2-secret' }\n")
    fix = Fix("plain_port", ("enable_starttls: true,", "port: 465,"), (("tls", "x"),), keys=("enable_starttls", "port"))
    patched = apply_fix(path.read_text(), raw, fix, "ruby_hash")
    assert patched.text == ("config.action_mailer.smtp_settings = { address: 'h', :port => 465, "
                            "password: 'hunter2-secret', enable_starttls: true }\n")


def test_the_last_entry_on_the_closing_line(tmp_path: Path) -> None:
    path, raw = _rails(tmp_path, "config.action_mailer.smtp_settings = { address: 'h',\n  port: 587,\n  tls: true }\n")
    fix = Fix("plain_port", ("enable_starttls: true,", "ca_file: '/ca.pem',"), (("tls", "x"),),
              keys=("enable_starttls", "ca_file"))
    patched = apply_fix(path.read_text(), raw, fix, "ruby_hash")
    assert patched.text.endswith("  port: 587,\n  enable_starttls: true, ca_file: '/ca.pem' }\n")


def test_patch_refuses_what_it_cannot_place_exactly(tmp_path: Path) -> None:
    path, raw = _rails(tmp_path, "config.action_mailer.smtp_settings = { address: 'h', tls: true,\n}\n")
    with pytest.raises(Unpatchable):  # the hash does not close on the line the new entry would go to
        apply_fix(path.read_text(), raw, Fix("trust_ca", ("ca_file: '/ca.pem',",), keys=("ca_file",)), "ruby_hash")
    path, raw = _rails(tmp_path, "config.action_mailer.smtp_settings = { address: 'h', password: 'hunter2-secret' }\n")
    with pytest.raises(Unpatchable):  # a secret is never edited
        apply_fix(path.read_text(), raw, Fix("x", (), (("password", "x"),)), "ruby_hash")


def test_a_shared_line_gives_the_lines_to_change_not_a_broken_diff(lab: LabInfo, tmp_path: Path) -> None:
    env_dir = tmp_path / "config" / "environments"
    env_dir.mkdir(parents=True)
    config = env_dir / "production.rb"
    config.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = { address: '127.0.0.1', "
                      f"port: {lab.servers['starttls'].port}, tls: true,\n  }}\nend\n")
    code, out = run("fix", str(config), "--ca-file", str(lab.ca_file))
    assert code == 1 and "shares its line" in out and "+ enable_starttls: true" in out and "--- a/" not in out


# -- config --for ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["actionmailer", "mastodon", "gitlab", "msmtp", "nodemailer"])
def test_config_for_is_checked_against_the_server(framework: str, lab: LabInfo) -> None:
    code, out = run("config", "--for", framework, lab.servers["starttls"].address, "--ca-file", str(lab.ca_file),
                    "--json")
    doc = json.loads(out)
    assert code == 0 and doc["check"] == "delivered" and doc["mode"] == "starttls"
    assert str(lab.ca_file) in doc["text"] and "none" not in doc["text"].lower()


@pytest.mark.parametrize(("framework", "mode_line"), [
    ("msmtp", "tls_starttls off"), ("nodemailer", "secure: true,"), ("laravel", "MAIL_SCHEME=smtps"),
    ("django", "EMAIL_USE_SSL = True")])
def test_config_for_writes_the_mode_each_port_speaks(framework: str, mode_line: str, lab: LabInfo) -> None:
    """The implicit-TLS port gets the framework's implicit switch, the STARTTLS port does not."""
    docs = {}
    for server in ("starttls", "implicit"):
        code, out = run("config", "--for", framework, lab.servers[server].address, "--ca-file", str(lab.ca_file),
                        "--json")
        assert code == 0, out
        docs[server] = json.loads(out)
    assert mode_line in docs["implicit"]["text"] and mode_line not in docs["starttls"]["text"]


def test_config_for_an_unusable_server_writes_nothing(lab: LabInfo) -> None:
    code, out = run("config", "--for", "actionmailer", lab.servers["expired"].address, "--ca-file",
                    str(lab.ca_file))
    assert code == 1 and "expired" in out and "smtp_settings" not in out


# -- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "code"), [
    (["fix", "/nonexistent/production.rb"], 2),
    (["fix", ".", "--framework", "nosuch"], 2),
    (["fix", ".", "--probe-host", "bad host"], 2),
    (["config", "--for", "nosuch", "127.0.0.1:25"], 2),
    (["config", "--for", "django", "127.0.0.1:notaport"], 2),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], code: int, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    got, out = run(*args)
    assert got == code, out
    assert "Traceback" not in out and len(out.strip().splitlines()) <= 3


def test_config_for_an_unreachable_host_is_exit_3() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out = run("config", "--for", "django", f"127.0.0.1:{port}", "--timeout", "5")
    assert code == 3 and "Traceback" not in out


# -- the seeds ------------------------------------------------------------------------------------------------


SEED_MASTODON = """SMTP_AUTH_METHOD=plain
SMTP_ENABLE_STARTTLS_AUTO=true
SMTP_FROM_ADDRESS=notifications@example.com
SMTP_LOGIN=lab-user
SMTP_OPENSSL_VERIFY_MODE={verify}
SMTP_PASSWORD=lab-password-7f3a
SMTP_PORT={port}
SMTP_SERVER=127.0.0.1
"""


def test_seed_mastodon_peer_without_a_ca_gets_the_ca_and_required_starttls(lab: LabInfo, tmp_path: Path) -> None:
    """Seed 002's variables (SendGrid's host replaced by the lab): 'certificate verify failed' is fixed with
    the CA file that verifies the server, never with verify none; then STARTTLS is made required."""
    env = tmp_path / ".env.production"
    env.write_text(SEED_MASTODON.format(verify="peer", port=lab.servers["starttls"].port))
    doc = fix_json(env, lab)
    assert doc["before"] == "fails" and doc["after"] == "delivered" and doc["exit_code"] == 1, doc
    assert doc["steps"][0]["failure"].startswith("cert_")
    assert [s["risk"] for s in doc["steps"][1:]] == ["starttls_opportunistic"]
    assert f"+SMTP_CA_FILE={lab.ca_file}" in doc["diff"] and "+SMTP_ENABLE_STARTTLS=always" in doc["diff"]
    assert "-SMTP_ENABLE_STARTTLS_AUTO=true" in doc["diff"] and "none" not in doc["diff"]
    assert lab.password not in json.dumps(doc)


def test_seed_mastodon_verify_none_is_turned_back_on(lab: LabInfo, tmp_path: Path) -> None:
    """The seed's discouraged workaround (SMTP_OPENSSL_VERIFY_MODE=none) delivers, and fix turns it back."""
    env = tmp_path / ".env.production"
    env.write_text(SEED_MASTODON.format(verify="none", port=lab.servers["starttls"].port))
    doc = fix_json(env, lab)
    assert doc["before"] == "delivered" and doc["after"] == "delivered" and doc["exit_code"] == 1, doc
    assert [s["risk"] for s in doc["steps"]] == ["verify_off", "starttls_opportunistic"]
    assert "-SMTP_OPENSSL_VERIFY_MODE=none" in doc["diff"] and "+SMTP_OPENSSL_VERIFY_MODE=peer" in doc["diff"]
    code, out = run("fix", str(env), "--ca-file", str(lab.ca_file), "--diff")
    assert code == 1 and out == doc["diff"]  # --diff: the diff and nothing else


def test_check_fix_prints_the_corrected_config(lab: LabInfo, tmp_path: Path) -> None:
    env = tmp_path / ".env.production"
    env.write_text(SEED_MASTODON.format(verify="peer", port=lab.servers["starttls"].port))
    code, out = run("check", str(env), "--ca-file", str(lab.ca_file), "--fix", lang="ja")
    assert code == 1 and "修正後の" in out and f"+SMTP_CA_FILE={lab.ca_file}" in out
    assert lab.password not in out
    code, out = run("check", str(env), "--ca-file", str(lab.ca_file), "--fix", "--json")
    doc = json.loads(out)
    assert doc["configs"][0]["corrected"]["after"] == "delivered"
    env.write_text(SEED_MASTODON.format(verify="none", port=lab.servers["starttls"].port))
    code, out = run("check", str(env), "--ca-file", str(lab.ca_file), "--fix")
    assert code == 0 and "It will deliver" in out and "+SMTP_OPENSSL_VERIFY_MODE=peer" in out  # delivers, unsafely


def test_a_relative_ca_file_is_written_as_an_absolute_path(lab: LabInfo, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env.production"
    env.write_text(SEED_MASTODON.format(verify="peer", port=lab.servers["starttls"].port))
    monkeypatch.chdir(lab.ca_file.parent)
    code, out = run("fix", str(env), "--ca-file", lab.ca_file.name, "--diff")
    assert code == 1 and f"+SMTP_CA_FILE={lab.ca_file}\n" in out


# -- provider conventions (knowledge/providers.toml) ---------------------------------------------------------


def test_sendgrid_login_is_apikey(lab: LabInfo, tmp_path: Path) -> None:
    """Written for smtp.sendgrid.net, checked against the lab standing in for it (--probe-host)."""
    env = tmp_path / ".env.production"
    env.write_text("SMTP_SERVER=smtp.sendgrid.net\nSMTP_PORT=587\nSMTP_LOGIN=my-sendgrid-user\n"
                   "SMTP_PASSWORD=SG.canary-secret-value\nSMTP_ENABLE_STARTTLS=always\n")
    doc = fix_json(env, lab, "--probe-host", lab.servers["starttls"].address)
    assert doc["steps"][0]["convention"].startswith("Twilio SendGrid: the SMTP login is literally")
    assert "-SMTP_LOGIN=my-sendgrid-user\n+SMTP_LOGIN=apikey\n" in doc["diff"]
    assert "SG.canary-secret-value" not in json.dumps(doc)


def test_microsoft365_on_465_moves_to_587_starttls_and_never_to_the_stand_ins_name(lab: LabInfo,
                                                                                  tmp_path: Path) -> None:
    config = tmp_path / "production.rb"
    config.write_text("Rails.application.configure do\n  config.action_mailer.smtp_settings = {\n"
                      "    address: 'smtp.office365.com',\n    port: 465,\n    user_name: 'me@example.com',\n"
                      "    password: ENV['SMTP_PASSWORD'],\n    tls: true\n  }\nend\n")
    app_env = tmp_path / "app.env"  # the app's environment sets the password (unset, it is nil to the app)
    app_env.write_text("SMTP_PASSWORD=set-for-the-app\n")
    code, out = run("fix", str(config), "--env", str(app_env), "--framework", "actionmailer", "--probe-host",
                    lab.servers["starttls"].address, "--ca-file", str(lab.ca_file), lang="ja")
    assert code == 1 and "465 番で SMTP を提供していません" in out, out
    assert "-    port: 465,\n+    port: 587," in out and "-    tls: true" in out
    assert "+    enable_starttls: true," in out
    assert "address: 'localhost'" not in out and "代わりにプローブしたサーバー" in out


def test_provider_port_prefers_the_implicit_tls_port(tmp_path: Path) -> None:
    from smtp_doctor.frameworks import to_settings
    from smtp_doctor.remedy import provider_fixes

    path = tmp_path / ".env.production"
    path.write_text("SMTP_SERVER=smtp.gmail.com\nSMTP_PORT=25\nSMTP_LOGIN=me@gmail.com\n")
    [raw] = read_file(path, framework="mastodon")
    [(key, params, fix)] = provider_fixes(raw, to_settings(raw), {})
    assert key == "fix.provider.port" and params["new"] == 465
    assert fix.lines == ("SMTP_PORT=465", "SMTP_TLS=true", "SMTP_ENABLE_STARTTLS=never")


# -- issue 12: the writers for Nodemailer, msmtp, Flask-Mail and the mail gem's string keys -------------------


def _lines_for(framework: str, group: str, port_mode: str, ca: str = "/etc/ssl/lab ca.pem") -> Fix:
    from smtp_doctor.plan import framework_facts
    from smtp_doctor.predict import fix_row, row_lines

    row = fix_row(framework, group, port_mode)
    assert row is not None, (framework, group)
    syntax = framework_facts(framework).get("syntax", "dotenv")
    params = {"ca_file": ca, "ca_file_q": "'" + ca + "'"}
    keys = (*row.get("set", {}), *row.get("code", {}))
    return Fix(group, row_lines(row, params, syntax), tuple((k, "") for k in row.get("remove", [])), keys=keys)


def test_nodemailer_lines_are_js_and_the_ca_is_read_from_the_file(tmp_path: Path) -> None:
    from smtp_doctor.frameworks import to_settings

    js = tmp_path / "mailer.js"
    js.write_text("module.exports = require('nodemailer').createTransport({\n  host: 'mx.example.com',\n"
                  "  port: 587,\n  secure: 'false',\n  tls: { ca: [require('fs').readFileSync('/old/ca.pem')] }\n});\n")
    [raw] = read_file(js)
    fix = _lines_for("nodemailer", "plain_port", "starttls")
    fix = Fix(fix.group, fix.lines, tuple(r for r in fix.remove if r[0] in raw.values), keys=fix.keys)
    text = apply_fix(js.read_text(), raw, fix, "js_object").text
    assert "  secure: false,\n" in text and "requireTLS: true," in text
    trust = _lines_for("nodemailer", "trust_ca", "starttls")
    js.write_text(text)
    [raw] = read_file(js)
    trust = Fix(trust.group, trust.lines, (("tls.ca", ""),), keys=trust.keys)
    js.write_text(apply_fix(js.read_text(), raw, trust, "js_object").text)
    [again] = read_file(js)  # still JavaScript the reader (and node) can read, the CA now the new file
    assert to_settings(again).ca_file.value == "/etc/ssl/lab ca.pem"  # type: ignore[union-attr]
    assert js.read_text().count("tls:") == 1


def test_msmtp_lines_keep_the_file_format(tmp_path: Path) -> None:
    rc = tmp_path / "msmtprc"
    rc.write_text("account lab\nhost mx.example.com\nport 587\ntls on\ntls_starttls off\n\naccount default : lab\n")
    raw = [c for c in read_file(rc) if c.values["account"].value == "lab"][0]  # the section that sets them
    text = apply_fix(rc.read_text(), raw, _lines_for("msmtp", "plain_port", "starttls"), "msmtprc").text
    assert "tls_starttls on\n" in text and "tls_starttls off" not in text
    assert text.rstrip().endswith("account default : lab")


def test_flask_mail_exclusive_follows_the_port() -> None:
    implicit, starttls = _lines_for("flask_mail", "exclusive", "implicit_tls"), _lines_for("flask_mail", "exclusive",
                                                                                          "starttls")
    assert implicit.lines == ("MAIL_USE_SSL = True", "MAIL_USE_TLS = False")
    assert starttls.lines == ("MAIL_USE_TLS = True", "MAIL_USE_SSL = False")


def test_string_keys_become_symbols_and_a_secret_is_never_touched(tmp_path: Path) -> None:
    from smtp_doctor.remedy import key_style_fixes

    path, raw = _rails(tmp_path, "config.action_mailer.smtp_settings = {\n  'address' => 'h',\n"
                                 "  \"password\" => 'hunter2-secret',\n  port: 587\n}\n"
                                 "config.action_mailer.smtp_settings['port'] = 2525\n")
    [(key, params, fix)] = key_style_fixes(raw)
    assert key == "fix.convention.string_keys" and set(fix.rename) == {"address", "password", "port"}
    text = apply_fix(path.read_text(), raw, fix, "ruby_hash").text
    assert "  address: 'h',\n" in text and "  password: 'hunter2-secret',\n" in text
    assert "smtp_settings[:port] = 2525" in text
