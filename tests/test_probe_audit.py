"""`probe --audit`: the audit's findings beside the probe's, in text and JSON, from the same real sockets.

The audit lab's injection-vulnerable STARTTLS server must show its finding through `probe --audit`; its
clean server must not; plain `probe` (no flag) never runs the audit's extra connections.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.lab.audit import AuditLabInfo, audit_lab_in_thread


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditLabInfo]:
    with audit_lab_in_thread(tmp_path_factory.mktemp("audit-lab")) as info:
        yield info


def _probe(lab: AuditLabInfo, name: str, *extra: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["--lang", "en", "probe", f"{lab.host}:{lab.ports[name]}", "--ca-file",
                                 str(lab.ca_file), "--timeout", "15", *extra])
    return r.exit_code, r.output


def test_json_carries_the_audit_of_a_vulnerable_server(lab: AuditLabInfo) -> None:
    code, out = _probe(lab, "injection", "--audit", "--json")
    doc = json.loads(out)
    ids = {f["id"] for p in doc["audit"]["ports"] for f in p["findings"]}
    assert "audit.starttls_injection" in ids, ids
    assert code == 1  # a critical audit finding fails the run even where the probe alone passes


def test_clean_server_gets_no_injection_finding(lab: AuditLabInfo) -> None:
    code, out = _probe(lab, "clean", "--audit", "--json")
    doc = json.loads(out)
    ids = {f["id"] for p in doc["audit"]["ports"] for f in p["findings"]}
    assert not ids & {"audit.starttls_injection", "audit.starttls_injection_inconclusive",
                      "audit.bytes_after_220"}, ids


def test_text_shows_the_audit_after_the_probe_and_plain_probe_has_none(lab: AuditLabInfo) -> None:
    _, with_audit = _probe(lab, "injection", "--audit")
    _, without = _probe(lab, "injection")
    from smtp_doctor import i18n

    title = i18n.t("audit.title", host=lab.host)
    assert title in with_audit and "VULNERABLE" in with_audit, with_audit
    assert with_audit.index("configure your client") < with_audit.index(title)  # the probe's report first
    assert title not in without and "VULNERABLE" not in without
    assert "audit" not in json.loads(_probe(lab, "injection", "--json")[1])
