"""`fix` for Symfony Mailer's MAILER_DSN (issue 12): only the DSN's parts that must change are rewritten.

The span editor (writers/dsn.py) is tested on text; the whole fix against the lab's real TLS servers, with the
app's environment given by --env. The real Symfony Mailer delivering the written DSN is
tests/test_check_matrix2.py's job (php-symfony-mailer 5.4).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from smtp_doctor.writers.dsn import edit_dsn
from smtp_doctor.writers.patch import Unpatchable


def fix(app: Path, lab: LabInfo, dsn: str, server: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    port = lab.servers[server].port
    env_file = app / ".env"
    env_file.write_text(f"APP_ENV=prod\nMAILER_DSN={dsn.replace('@PORT@', str(port))}\n")
    run_env = app.parent / f"{app.name}.run.env"
    run_env.write_text(f"SSL_CERT_FILE={lab.ca_file}\n")
    result = CliRunner().invoke(cli, ["fix", str(env_file), "--write", "--json", "--timeout", "20",
                                      "--ca-file", str(lab.ca_file), "--env", str(run_env)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, json.loads(result.output)


def test_smtps_on_a_starttls_port_becomes_smtp_and_the_password_is_kept_and_never_shown(
        lab: LabInfo, tmp_path: Path) -> None:
    # the lab's password percent-encoded as a user may write it: must stay byte for byte (and log in: check tries
    # the DSN's own password)
    password = "".join(f"%{b:02X}" for b in lab.password.encode())
    code, doc = fix(tmp_path, lab, f"smtps://{lab.user}:{password}@127.0.0.1:@PORT@?local_domain=app.example",
                    "starttls")
    port = lab.servers["starttls"].port
    written = (tmp_path / ".env").read_text()
    assert written == (f"APP_ENV=prod\nMAILER_DSN=smtp://{lab.user}:{password}@127.0.0.1:{port}"
                       "?local_domain=app.example\n")
    c = doc["configs"][0]
    assert c["before"] == "fails" and c["after"] == "delivered" and code == 0
    assert password not in json.dumps(doc) and lab.password not in json.dumps(doc)
    assert password not in c["diff"]  # only the password is masked: the rest of the DSN is shown as written
    assert f"+MAILER_DSN=smtp://{lab.user}:********@127.0.0.1:{port}?local_domain=app.example" in c["diff"]
    assert "verify_peer" not in written


def test_smtp_without_port_on_an_implicit_server_gets_smtps_and_the_port(lab: LabInfo, tmp_path: Path) -> None:
    # quoted value, no changes wanted beyond the scheme: the port is written as it already is
    code, doc = fix(tmp_path, lab, f'"smtp://{lab.user}:{lab.password}@127.0.0.1:@PORT@"', "implicit")
    port = lab.servers["implicit"].port
    assert (tmp_path / ".env").read_text() == (
        f'APP_ENV=prod\nMAILER_DSN="smtps://{lab.user}:{lab.password}@127.0.0.1:{port}"\n')
    assert doc["configs"][0]["after"] == "delivered" and code == 0
    assert lab.password not in json.dumps(doc)


@pytest.mark.parametrize(("dsn", "changes", "remove", "want"), [
    ("smtps://u:p%3Aw@h:587", {"scheme": "smtp"}, (), "smtp://u:p%3Aw@h:587"),
    ("smtp://u:pw@h", {"scheme": "smtp", "port": "587"}, (), "smtp://u:pw@h:587"),
    ("smtp://u:pw@[::1]?a=1", {"port": "465"}, (), "smtp://u:pw@[::1]:465?a=1"),
    ("smtp://u:pw@h:25?verify_peer=0&local_domain=x", {}, ("verify_peer",), "smtp://u:pw@h:25?local_domain=x"),
    ("smtp://u:pw@h:25?local_domain=x&verify_peer=0", {}, ("verify_peer",), "smtp://u:pw@h:25?local_domain=x"),
    ("smtp://u:pw@h:25?verify_peer=0", {}, ("verify_peer",), "smtp://u:pw@h:25"),
    ("smtp://u:pw@h:25", {"local_domain": "a b"}, (), "smtp://u:pw@h:25?local_domain=a%20b"),
    ("smtp://u:pw@h:25?x=1", {"local_domain": "d"}, (), "smtp://u:pw@h:25?x=1&local_domain=d"),
])
def test_edit_dsn_changes_only_the_named_parts(dsn: str, changes: dict[str, str], remove: tuple[str, ...],
                                                want: str) -> None:
    assert edit_dsn(dsn, changes, remove) == want


@pytest.mark.parametrize(("dsn", "changes"), [
    ("smtp://u:pw@h:25", {"password": "x"}),  # the login is never the writer's to change
    ("smtp://u:pw@h:25", {"host": "evil"}),
    ("smtp://u:pw@h:25", {"scheme": "smtp://x@"}),  # a value that would add parts of its own
    ("smtp://u:pw@h:25", {"port": "25/x"}),
    ("failover(smtp://a smtp://b)", {"scheme": "smtp"}),
])
def test_edit_dsn_refuses_what_it_cannot_change_safely(dsn: str, changes: dict[str, str]) -> None:
    with pytest.raises(Unpatchable):
        edit_dsn(dsn, changes, ())
