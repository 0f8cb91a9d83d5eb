"""Symfony's transport lists, ``failover(a b)`` and ``roundrobin(a b)`` (issue 12, matrix 7a dev): the app tries
each transport in turn until one sends (RoundRobinTransport::send, php-symfony-mailer 5.4). check reads each as
one config, in order, and gives the list's verdict as the app's — it delivers when any transport does — where
before it kept the DSN whole and could not tell. ``fix --write`` mends the list's first transport that can be
made to deliver. Proven with the real Symfony Mailer 5.4 against the lab; asserted: outcome, not words."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
import test_check_matrix8c as m8c
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import _with_ports, dead_ports
from test_check_real import _delivered

__all__ = ["dead_ports", "other_ca"]  # the fixtures, imported so pytest finds them here

ENV = """APP_ENV=prod
APP_SECRET=0f1e2d3c4b5a69788796a5b4c3d2e1f0
MAILER_DSN="{dsn}"
"""
CASES = {
    # the first transport refuses the connection: the app sends through the second
    "refused_then_starttls": ("failover(smtp://@USER@:@PASSWORD@@127.0.0.1:@CLOSED_PORT@ "
                              "smtp://@USER@:@PASSWORD@@127.0.0.1:@PORT_STARTTLS@)", "delivered", 0),
    # implicit TLS on the STARTTLS port, then a refused port: every transport fails, and so does the app
    "smtps_on_starttls_then_refused": ("failover(smtps://@USER@:@PASSWORD@@127.0.0.1:@PORT_STARTTLS@ "
                                       "smtp://@USER@:@PASSWORD@@127.0.0.1:@CLOSED_PORT@)", "fails", 1),
    "roundrobin_both_work": ("roundrobin(smtps://@USER@:@PASSWORD@@127.0.0.1:@PORT_IMPLICIT@ "
                             "smtp://@USER@:@PASSWORD@@127.0.0.1:@PORT_STARTTLS@)", "delivered", 0),
}


def _case(name: str, lab: LabInfo, tmp_path: Path, other: str, monkeypatch: pytest.MonkeyPatch,
          ports: dict[str, str]) -> tuple[Path, Path, dict[str, str], int, list[dict[str, Any]], str]:
    cell = {"id": name, "half": "dev", "runner": "symfony", "server": "starttls", "config": ".env",
            "env": {"SSL_CERT_FILE": "@CA@"}, "files": {".env": ENV.format(dsn=CASES[name][0])}}
    app = tmp_path / "app"
    config, env, envfile = write_case(_with_ports(cell, ports), lab, app, other, monkeypatch, m8c.DOC["lock"])
    code, _, output = check_entry(config, envfile, lab)
    configs = json.loads(output)["configs"]
    return app, config, env, code, configs, str(envfile)


@pytest.mark.parametrize("name", list(CASES))
def test_the_list_is_one_app_that_sends_through_the_first_transport_that_works(
        name: str, lab: LabInfo, tmp_path: Path, other_ca: str, monkeypatch: pytest.MonkeyPatch,
        dead_ports: dict[str, str]) -> None:
    app, config, env, code, configs, _ = _case(name, lab, tmp_path, other_ca, monkeypatch, dead_ports)
    _, want, want_code = CASES[name]
    subject = f"failover-{uuid.uuid4()}"
    real = m3._real("symfony", app, config, env, subject)
    assert (m3._read(real) == "delivered") == (want == "delivered"), real
    if want == "delivered":
        assert _delivered(lab, subject)
    assert len(configs) == 2 and [c["transport_list"]["index"] for c in configs] == [1, 2]
    assert {c["transport_list"]["verdict"] for c in configs} == {want} and code == want_code, configs


def test_fix_mends_a_transport_of_the_list_and_the_app_delivers(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              dead_ports: dict[str, str]) -> None:
    name = "smtps_on_starttls_then_refused"
    app, config, env, code, configs, envfile = _case(name, lab, tmp_path, other_ca, monkeypatch, dead_ports)
    assert code == 1
    code, output = fix_write(config, Path(envfile), lab)
    assert code == 0, output
    assert "failover(" in config.read_text()  # still the list, one transport mended
    subject = f"failover-fixed-{uuid.uuid4()}"
    after = m3._real("symfony", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
