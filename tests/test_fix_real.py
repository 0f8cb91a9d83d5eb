"""`fix` and `config --for` proven by the real frameworks: the corrected config delivers.

Each broken config is one a real framework fails with (tests/test_check_real.py shows the failure). `fix
--write` corrects the file in place; then real Rails ActionMailer (Debian's ruby-actionmailer) or real Django
loads that very file and sends through the same lab server, and the lab's mailbox must receive the message.
`config --for` is proven the same way: the config it writes from scratch is loaded by the real framework.
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
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.explain import explain
from smtp_doctor.lab import LabInfo
from test_check_real import DJANGO, RUBY, TIMEOUT, _delivered, _run

FRAME = ("Rails.application.configure do\n  config.action_mailer.delivery_method = :smtp\n"
         "  config.action_mailer.smtp_settings = {{\n{body}  }}\nend\n")
AM_BASE = ("    address: '127.0.0.1',\n    port: {port},\n    user_name: '{user}',\n"
           "    password: ENV['LAB_PASSWORD'],\n    authentication: :plain,\n"
           "    open_timeout: 5,\n    read_timeout: 5,\n")
# (id, lab server, the lines that make it fail, how many fixes it takes)
BROKEN_RAILS = [
    ("seed_tls_true_on_587", "starttls", "    tls: true\n", 2),  # wrong mode, then the private CA
    ("seed_tls_587_typo", "starttls", "    tls: 587,\n    openssl_verify_mode: 'peer'\n", 2),
    ("starttls_on_465", "implicit", "    enable_starttls_auto: true\n", 2),
    ("no_ca_file", "starttls", "    enable_starttls: true,\n    openssl_verify_mode: 'peer'\n", 1),
    ("ssl_true_on_starttls", "starttls", "    ssl: true,\n    openssl_verify_mode: :peer\n", 2),
]
DJ = "EMAIL_HOST = '127.0.0.1'\nEMAIL_PORT = {port}\nEMAIL_TIMEOUT = 5\nEMAIL_HOST_USER = '{user}'\n" \
     "EMAIL_HOST_PASSWORD = '{password}'\n"
BROKEN_DJANGO = [
    ("use_tls_on_465", "implicit", "EMAIL_USE_TLS = True\n"),
    ("use_ssl_on_587", "starttls", "EMAIL_USE_SSL = True\n"),
]


def _ruby_ok() -> bool:
    return shutil.which("ruby") is not None and subprocess.run(
        ["ruby", "-e", 'require "action_mailer"'], capture_output=True, timeout=TIMEOUT).returncode == 0


def _app_env(lab: LabInfo) -> dict[str, str | None]:
    return {"LAB_PASSWORD": lab.password, "SMTP_PASSWORD": lab.password}


def _fix(path: Path, lab: LabInfo, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["fix", str(path), "--ca-file", str(lab.ca_file), "--timeout", "20", *extra],
                                env=_app_env(lab))  # the app's environment: an unset ENV[...] is nil to the app
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _rails(lab: LabInfo, tmp: Path, config: Path) -> tuple[str, str]:
    subject = f"fix-{uuid.uuid4()}"
    script = tmp / "app.rb"
    script.write_text(RUBY)
    env = dict(os.environ, LAB_PASSWORD=lab.password, SMTP_PASSWORD=lab.password)
    return _run(["ruby", str(script), str(config), subject], env), subject


@pytest.mark.parametrize(("cid", "server", "broken", "rounds"), BROKEN_RAILS, ids=[b[0] for b in BROKEN_RAILS])
def test_fixed_rails_config_delivers_with_real_actionmailer(cid: str, server: str, broken: str, rounds: int,
                                                             lab: LabInfo, tmp_path: Path) -> None:
    if not _ruby_ok():
        pytest.skip("ruby-actionmailer is not installed (scripts/install-system-deps.sh installs it)")
    config = tmp_path / "config" / "environments" / "production.rb"
    config.parent.mkdir(parents=True)
    body = AM_BASE.format(port=lab.servers[server].port, user=lab.user) + broken
    config.write_text(FRAME.format(body=body))
    before, _ = _rails(lab, tmp_path, config)
    assert before.startswith("ERROR"), f"{cid}: the broken config should fail for real: {before}"

    code, out = _fix(config, lab)
    assert code == 1 and out.count("It will fail:") == rounds, out
    assert "--- a/" in out and "it will deliver" in out
    code, out = _fix(config, lab, "--write")
    assert code == 0, out
    real, subject = _rails(lab, tmp_path, config)
    assert real == "DELIVERED", f"{cid}: after fix --write ActionMailer says {real}\n{config.read_text()}"
    assert _delivered(lab, subject)
    assert "verify_mode: :none" not in config.read_text() and "'none'" not in config.read_text()
    assert _fix(config, lab)[0] == 0  # nothing left to fix


@pytest.mark.parametrize(("cid", "server", "broken"), BROKEN_DJANGO, ids=[b[0] for b in BROKEN_DJANGO])
def test_fixed_django_settings_deliver_with_real_django(cid: str, server: str, broken: str, lab: LabInfo,
                                                        tmp_path: Path) -> None:
    pytest.importorskip("django")
    settings = tmp_path / "settings.py"
    settings.write_text(DJ.format(port=lab.servers[server].port, user=lab.user, password=lab.password) + broken)
    env = dict(os.environ, SSL_CERT_FILE=str(lab.ca_file))  # Django's only CA knob is the environment
    script = tmp_path / "app.py"
    script.write_text(DJANGO)
    assert _run([sys.executable, str(script), str(tmp_path), "before"], env).startswith("ERROR")
    code, out = _fix(settings, lab, "--framework", "django", "--write")
    assert lab.password not in out  # the literal password in settings.py is never echoed
    subject = f"fix-{uuid.uuid4()}"
    real = _run([sys.executable, str(script), str(tmp_path), subject], env)
    assert real == "DELIVERED", f"{cid}: {real}\n{settings.read_text()}\n{out}"
    assert _delivered(lab, subject)


def test_the_diff_applies_with_patch(lab: LabInfo, tmp_path: Path) -> None:
    if shutil.which("patch") is None:
        pytest.skip("patch is not installed")
    app = tmp_path / "app"
    config = app / "config" / "environments" / "production.rb"
    config.parent.mkdir(parents=True)
    config.write_text(FRAME.format(body=AM_BASE.format(port=lab.servers["starttls"].port, user=lab.user)
                                   + "    tls: true\n"))
    # the diff names the path as given, so run where the user would: in the app's directory
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "fix", "config/environments/production.rb",
                           "--ca-file", str(lab.ca_file), "--json"], cwd=app, capture_output=True, text=True,
                          timeout=TIMEOUT, env=dict(os.environ, LAB_PASSWORD=lab.password))
    diff = json.loads(done.stdout)["configs"][0]["diff"]
    applied = subprocess.run(["patch", "-p1"], input=diff, cwd=app, capture_output=True, text=True, timeout=30)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "enable_starttls: true" in config.read_text() and "\n    tls: true" not in config.read_text()


@pytest.mark.parametrize("server", ["starttls", "implicit"])
def test_config_for_actionmailer_delivers_with_real_actionmailer(server: str, lab: LabInfo, tmp_path: Path) -> None:
    if not _ruby_ok():
        pytest.skip("ruby-actionmailer is not installed")
    result = CliRunner().invoke(cli, ["config", "--for", "actionmailer", lab.servers[server].address,
                                      "--ca-file", str(lab.ca_file), "--user", lab.user, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["mode"] == ("starttls" if server == "starttls" else "implicit_tls") and doc["check"] == "delivered"
    config = tmp_path / doc["file"]
    config.parent.mkdir(parents=True)
    config.write_text(doc["text"])
    real, subject = _rails(lab, tmp_path, config)
    assert real == "DELIVERED", real + "\n" + doc["text"]
    assert _delivered(lab, subject)


def test_config_for_django_delivers_with_real_django(lab: LabInfo, tmp_path: Path) -> None:
    pytest.importorskip("django")
    result = CliRunner().invoke(cli, ["config", "--for", "django", lab.servers["implicit"].address,
                                      "--ca-file", str(lab.ca_file), "--user", lab.user, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["needs_env"] and doc["env"] == [f"SSL_CERT_FILE={lab.ca_file}"]
    (tmp_path / "settings.py").write_text(doc["text"])
    env = dict(os.environ, SSL_CERT_FILE=str(lab.ca_file), SMTP_PASSWORD=lab.password)
    script = tmp_path / "app.py"
    script.write_text(DJANGO)
    subject = f"config-{uuid.uuid4()}"
    assert _run([sys.executable, str(script), str(tmp_path), subject], env) == "DELIVERED"
    assert _delivered(lab, subject)


# -- every cell of test_check_real.py: fix, apply, run the real framework ------------------------------------
# The cells are the configurations real ActionMailer and real Django were run with there (each hash entry
# put on its own line, as a Rails file writes it). For every one, whatever `fix --write` says it made
# deliver must deliver for real; the ones below must be among them (so the test cannot pass by fixing
# nothing). Cells whose server is broken (expired, wrong name, self-signed, missing intermediate, no
# STARTTLS, only XOAUTH2) are the server's to fix: `fix` must not claim them, and never turns verification off.

from test_check_real import ACTIONMAILER, DJANGO_CELLS, Cell, _fill, _mail_gem  # noqa: E402

RAILS_FIXED = {"tls_true_on_starttls", "seed_tls_587_on_starttls", "defaults_on_implicit", "peer_without_ca_file",
               "cram_md5_where_only_plain",
               "starttls_auto_false_on_starttls"}  # the CA goes with enable_starttls, whose context carries it
RAILS_HARDENED = {"peer_with_ca_file"}  # delivers, with STARTTLS only when offered: fix makes it required
DJANGO_FIXED = {"use_tls_on_implicit", "use_ssl_on_starttls", "use_tls_system_store",
                "no_tls_on_starttls_with_login"}


def _one_per_line(hash_body: str) -> str:
    return "".join(f"    {entry},\n" for entry in hash_body.split(", "))


def _fix_write(config: Path, lab: LabInfo, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["fix", str(config), "--ca-file", str(lab.ca_file), "--timeout", "20",
                                      "--json", "--write", *extra], env=_app_env(lab))
    assert result.exit_code in (0, 1), result.output
    assert lab.password not in result.output
    return result.exit_code, json.loads(result.output)["configs"][0]


@pytest.mark.parametrize("layout", ["as_written", "one_per_line"])
@pytest.mark.parametrize("cell", ACTIONMAILER, ids=lambda c: c.id)
def test_check_real_rails_cell_fixed_delivers(cell: Cell, layout: str, lab: LabInfo, tmp_path: Path) -> None:
    """``as_written``: the hash on one line, exactly as test_check_real.py runs it (edited entry by entry);
    ``one_per_line``: the same entries one per line, as most Rails files write them."""
    if not _ruby_ok():
        pytest.skip("ruby-actionmailer is not installed (scripts/install-system-deps.sh installs it)")
    config = tmp_path / "config" / "environments" / "production.rb"
    config.parent.mkdir(parents=True)
    body = _fill(cell.config, lab, cell.server)
    config.write_text(FRAME.format(body=_one_per_line(body)) if layout == "one_per_line" else
                      "Rails.application.configure do\n  config.action_mailer.delivery_method = :smtp\n"
                      f"  config.action_mailer.smtp_settings = {{ {body} }}\nend\n")
    before = config.read_text()
    real_before, _ = _rails(lab, tmp_path, config)
    assert (real_before == "DELIVERED") == (cell.expect == "delivered"), real_before

    code, doc = _fix_write(config, lab, "--framework-version", _mail_gem())
    after = config.read_text()
    assert "verify_mode: :none" not in after and "'none'" not in after
    assert doc["delivers"] == (code == 0), doc
    if code != 0:  # not claimed: the file is as it was
        assert after == before and cell.id not in RAILS_FIXED, doc
        return
    real, subject = _rails(lab, tmp_path, config)
    assert real == "DELIVERED", f"{cell.id}: fix claimed a delivery, ActionMailer says {real}\n{after}"
    assert _delivered(lab, subject)
    assert (after != before) == (cell.id in RAILS_FIXED | RAILS_HARDENED)
    if cell.id in RAILS_HARDENED:
        assert "enable_starttls: true" in after and [s["risk"] for s in doc["steps"]] == ["starttls_opportunistic"]


@pytest.mark.parametrize("cell", DJANGO_CELLS, ids=lambda c: c.id)
def test_check_real_django_cell_fixed_delivers(cell: Cell, lab: LabInfo, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("django")
    settings = tmp_path / "settings.py"
    settings.write_text(_fill(cell.config, lab, cell.server))
    before = settings.read_text()
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    if cell.ca_env:
        env["SSL_CERT_FILE"] = str(lab.ca_file)
        monkeypatch.setenv("SSL_CERT_FILE", str(lab.ca_file))
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    script = tmp_path / "app.py"
    script.write_text(DJANGO)
    code, doc = _fix_write(settings, lab, "--framework", "django")
    after = settings.read_text()
    assert doc["delivers"] == (code == 0 or bool(doc["env"])), doc  # an environment line is not written
    if not doc["delivers"]:
        assert after == before and cell.id not in DJANGO_FIXED, doc
        return
    for line in doc["env"]:  # the part of the fix that belongs in the app's environment
        name, _, value = line.partition("=")
        env[name] = value
    subject = f"fix-{uuid.uuid4()}"
    real = _run([sys.executable, str(script), str(tmp_path), subject], env)
    assert real == "DELIVERED", f"{cell.id}: fix claimed a delivery, Django says {real}\n{after}\n{doc}"
    assert _delivered(lab, subject)
    assert (after != before or bool(doc["env"])) == (cell.id in DJANGO_FIXED)



# -- a config that delivers but is unsafe (remedy.py): hardened, and still delivers for real ------------------


def test_verify_none_becomes_peer_with_a_ca_and_still_delivers(lab: LabInfo, tmp_path: Path) -> None:
    """The seed's discouraged workaround (openssl_verify_mode none) delivers; fix turns verification back on
    with the CA that verifies this server, makes STARTTLS required (on a STARTTLS port the CA goes with
    enable_starttls, so both risks go in one change), and real ActionMailer still delivers."""
    if not _ruby_ok():
        pytest.skip("ruby-actionmailer is not installed")
    config = tmp_path / "config" / "environments" / "production.rb"
    config.parent.mkdir(parents=True)
    config.write_text(FRAME.format(body=AM_BASE.format(port=lab.servers["starttls"].port, user=lab.user)
                                   + "    enable_starttls_auto: true,\n    openssl_verify_mode: 'none',\n"))
    assert _rails(lab, tmp_path, config)[0] == "DELIVERED"
    code, out = _fix(config, lab)
    assert code == 1 and out.count("It delivers, but") >= 1, out
    code, doc = _fix_write(config, lab, "--framework-version", _mail_gem())
    assert code == 0 and [s["risk"] for s in doc["steps"]][:1] == ["verify_off"], doc
    after = config.read_text()
    assert "openssl_verify_mode: 'peer'," in after and f"ca_file: '{lab.ca_file}'," in after
    assert "enable_starttls: true," in after and "enable_starttls_auto" not in after and "'none'" not in after
    real, subject = _rails(lab, tmp_path, config)
    assert real == "DELIVERED", after
    assert _delivered(lab, subject)


def test_verify_none_is_left_when_no_ca_verifies_the_server(lab: LabInfo, tmp_path: Path) -> None:
    """A self-signed server: turning verification on would break delivery, so nothing is written."""
    config = tmp_path / "config" / "environments" / "production.rb"
    config.parent.mkdir(parents=True)
    config.write_text(FRAME.format(body=AM_BASE.format(port=lab.servers["self-signed"].port, user=lab.user)
                                   + "    enable_starttls: true,\n    openssl_verify_mode: 'none',\n"))
    before = config.read_text()
    code, doc = _fix_write(config, lab)
    assert code == 0 and doc["steps"] == [] and doc["risks_kept"] == ["verify_off"], doc
    assert config.read_text() == before


# -- config --for msmtp and nodemailer: the real client sends with the written config ------------------------

NODE_MODULES = Path(os.environ.get("SMTP_DOCTOR_NODE_PREFIX", "/opt/smtp-doctor-peers/node")) / "node_modules"
NODE_APP = """const transport = require(process.argv[2]);
transport.sendMail({ from: 'app@example.com', to: 'rcpt@example.com', subject: process.argv[3], text: 'check' })
  .then(() => console.log('DELIVERED'))
  .catch((err) => console.log('ERROR ' + err.message));
"""


def _config_for(framework: str, lab: LabInfo, server: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["config", "--for", framework, lab.servers[server].address, "--ca-file",
                                      str(lab.ca_file), "--user", lab.user, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["check"] == "delivered" and doc["mode"] == ("starttls" if server == "starttls" else "implicit_tls")
    assert lab.password not in result.output
    return doc  # type: ignore[no-any-return]


@pytest.mark.parametrize("server", ["starttls", "implicit"])
def test_config_for_msmtp_delivers_with_real_msmtp(server: str, lab: LabInfo, tmp_path: Path) -> None:
    if shutil.which("msmtp") is None:
        pytest.skip("msmtp is not installed (scripts/install-system-deps.sh installs it)")
    doc = _config_for("msmtp", lab, server)
    rc = tmp_path / doc["file"]
    rc.write_text(doc["text"])
    rc.chmod(0o600)
    subject = f"config-msmtp-{uuid.uuid4()}"
    message = f"From: app@example.com\nTo: rcpt@example.com\nSubject: {subject}\n\ncheck\n"
    done = subprocess.run(["msmtp", "-C", str(rc), "rcpt@example.com"], input=message, capture_output=True,
                          text=True, timeout=TIMEOUT, env=dict(os.environ, SMTP_PASSWORD=lab.password))
    assert done.returncode == 0, done.stderr + "\n" + doc["text"]
    assert _delivered(lab, subject)


@pytest.mark.parametrize("server", ["starttls", "implicit"])
def test_config_for_nodemailer_delivers_with_real_nodemailer(server: str, lab: LabInfo, tmp_path: Path) -> None:
    if shutil.which("node") is None or not (NODE_MODULES / "nodemailer").is_dir():
        pytest.skip("node or nodemailer is not installed (scripts/install-system-deps.sh installs them)")
    doc = _config_for("nodemailer", lab, server)
    (tmp_path / doc["file"]).write_text(doc["text"])
    (tmp_path / "app.js").write_text(NODE_APP)
    subject = f"config-node-{uuid.uuid4()}"
    env = dict(os.environ, SMTP_PASSWORD=lab.password, NODE_PATH=str(NODE_MODULES))
    real = _run(["node", str(tmp_path / "app.js"), str(tmp_path / doc["file"]), subject], env)
    assert real == "DELIVERED", real + "\n" + doc["text"]
    assert _delivered(lab, subject)


def test_config_for_laravel_puts_the_ca_where_php_reads_it(lab: LabInfo, tmp_path: Path) -> None:
    """Laravel's .env has no CA key (it is a PHP stream option), so config --for laravel names SSL_CERT_FILE;
    real PHP's stream_socket_client (what Symfony Mailer uses) verifies the lab only with it. No Laravel
    here: the .env itself is checked by smtp-doctor's own reader and prediction (needs_env)."""
    if shutil.which("php") is None:
        pytest.skip("php is not installed")
    result = CliRunner().invoke(cli, ["config", "--for", "laravel", lab.servers["implicit"].address, "--ca-file",
                                      str(lab.ca_file), "--user", lab.user, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["needs_env"] and doc["env"] == [f"SSL_CERT_FILE={lab.ca_file}"]
    assert "MAIL_SCHEME=smtps\n" in doc["text"] and f"MAIL_PORT={lab.servers['implicit'].port}\n" in doc["text"]
    php = ('$s = @stream_socket_client("ssl://127.0.0.1:' + str(lab.servers["implicit"].port) + '", $n, $e, 5);'
           ' echo $s === false ? "ERROR " . $e : "DELIVERED " . trim(fgets($s));')
    clean = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    without = subprocess.run(["php", "-r", php], capture_output=True, text=True, timeout=TIMEOUT, env=clean).stdout
    name, _, value = doc["env"][0].partition("=")
    with_env = subprocess.run(["php", "-r", php], capture_output=True, text=True, timeout=TIMEOUT,
                              env=clean | {name: value}).stdout
    assert without.startswith("ERROR") and with_env.startswith("DELIVERED 220"), (without, with_env)


def test_a_port_written_into_the_host_is_moved_to_the_port_key(lab: LabInfo, tmp_path: Path) -> None:
    """``host: "127.0.0.1:<port>"``: real Nodemailer and real Django resolve that whole string and fail; check
    says why (cannot reach: the port is in the host), and `fix --write` splits it so both deliver."""
    pytest.importorskip("django")
    port = lab.servers["starttls"].port
    dj = tmp_path / "dj" / "settings.py"
    dj.parent.mkdir()
    dj.write_text(f"EMAIL_HOST = '127.0.0.1:{port}'\nEMAIL_USE_TLS = True\nEMAIL_TIMEOUT = 5\n"
                  f"EMAIL_HOST_USER = '{lab.user}'\nEMAIL_HOST_PASSWORD = '{lab.password}'\n")
    script = tmp_path / "dj" / "app.py"
    script.write_text(DJANGO)
    env = dict(os.environ, SSL_CERT_FILE=str(lab.ca_file))
    assert _run([sys.executable, str(script), str(dj.parent), "before"], env).startswith("ERROR")
    result = CliRunner().invoke(cli, ["check", str(dj), "--json", "--timeout", "20"], env=_app_env(lab))
    pred = json.loads(result.output)["configs"][0]["prediction"]
    assert result.exit_code == 3 and pred["verdict"] == "unreachable" and pred["cause"] == "host_with_port"
    code, out = _fix(dj, lab, "--framework", "django", "--write")
    assert code == 0 and lab.password not in out
    subject = f"fix-hostport-{uuid.uuid4()}"
    assert _run([sys.executable, str(script), str(dj.parent), subject], env) == "DELIVERED"
    assert _delivered(lab, subject)
    if shutil.which("node") is None or not (NODE_MODULES / "nodemailer").is_dir():
        pytest.skip("node or nodemailer is not installed (scripts/install-system-deps.sh installs them)")
    js = tmp_path / "node" / "mailer.js"
    js.parent.mkdir()
    js.write_text('const nodemailer = require("nodemailer");\nmodule.exports = nodemailer.createTransport({\n'
                  f'  host: "127.0.0.1:{port}",\n  requireTLS: true,\n  tls: {{ ca: require("fs").readFileSync('
                  f'"{lab.ca_file}") }},\n  auth: {{ user: "{lab.user}", pass: process.env.SMTP_PASSWORD }},\n}});\n')
    (tmp_path / "node" / "app.js").write_text(NODE_APP)
    nenv = dict(os.environ, SMTP_PASSWORD=lab.password, NODE_PATH=str(NODE_MODULES))
    before = _run(["node", str(tmp_path / "node" / "app.js"), str(js), "before"], nenv)
    assert explain(before.removeprefix("ERROR ")).best.mode.id == "host_with_port", before  # type: ignore[union-attr]
    code, out = _fix(js, lab, "--framework", "nodemailer", "--write")
    assert code == 0, out
    subject = f"fix-hostport-node-{uuid.uuid4()}"
    assert _run(["node", str(tmp_path / "node" / "app.js"), str(js), subject], nenv) == "DELIVERED", js.read_text()
    assert _delivered(lab, subject)


def test_an_initializer_that_forces_implicit_tls_is_fixed_where_it_is_written(lab: LabInfo, tmp_path: Path) -> None:
    """The environment file asks for STARTTLS; an initializer, loaded last, merges ``ssl: true`` into the same
    hash: the real app speaks implicit TLS to a STARTTLS port and fails. `fix --write` removes the key in the
    initializer (a change in the environment file alone would be overridden) and real ActionMailer, loading the
    files in Rails' order, delivers."""
    from test_check_matrix import _real as real_app

    if not _ruby_ok():
        pytest.skip("ruby-actionmailer is not installed (scripts/install-system-deps.sh installs it)")
    app = tmp_path / "app"
    config = app / "config" / "environments" / "production.rb"
    config.parent.mkdir(parents=True)
    config.write_text(FRAME.format(body=AM_BASE.format(port=lab.servers["starttls"].port, user=lab.user)
                                   + f"    enable_starttls_auto: true,\n    ca_file: '{lab.ca_file}',\n"))
    initializer = app / "config" / "initializers" / "mail_tls.rb"
    initializer.parent.mkdir()
    initializer.write_text("# always TLS\nActionMailer::Base.smtp_settings = "
                           "ActionMailer::Base.smtp_settings.merge(ssl: true, open_timeout: 5)\n")
    env = {"LAB_PASSWORD": lab.password}
    assert real_app({"runner": "actionmailer"}, app, config, env, "before").startswith("ERROR")
    code, doc = _fix_write(config, lab)
    assert code == 0 and doc["delivers"], doc
    assert "ssl" not in initializer.read_text().split("\n", 1)[1] and "open_timeout: 5" in initializer.read_text()
    assert "mail_tls.rb" in doc["diff"] and "production.rb" in doc["diff"]
    subject = f"fix-initializer-{uuid.uuid4()}"
    assert real_app({"runner": "actionmailer"}, app, config, env, subject) == "DELIVERED"
    assert _delivered(lab, subject)
