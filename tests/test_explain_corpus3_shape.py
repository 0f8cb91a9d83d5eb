"""Corpus 3 (tests/corpus/explain/cases3.json) has the shape issue 11 asks of a held-out corpus.

Why: the held-out figure is only worth something if the corpus behind it is wide (many client families,
every scenario incl. the silent server and the unsafe successes), labelled with real failure modes, and
safe to publish (no lab password, no machine path). This checks the stored corpus's shape only; how
explain does on it is measured by the lead (score.py), not here.
"""

from __future__ import annotations

import base64
import json
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from corpus.explain import capture3
from corpus.explain.score import CLIENT_FIXES, NOT_PASTEABLE
from smtp_doctor.lab.servers import LAB_PASSWORD, LAB_USER

ROOT = Path(__file__).resolve().parents[1]
ERRORS = ROOT / "src" / "smtp_doctor" / "knowledge" / "errors.toml"
KEYS = {"scenario", "client", "variant", "expect", "why", "accept", "exit_code", "seconds", "text", "version"}


@pytest.fixture(scope="module")
def raw() -> str:
    return capture3.CASES_3.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cases(raw: str) -> list[dict[str, object]]:
    doc: list[dict[str, object]] = json.loads(raw)["cases"]
    return doc


def _pasteable(cases: list[dict[str, object]]) -> list[dict[str, object]]:
    return [c for c in cases if str(c["text"]).strip() not in NOT_PASTEABLE]


def test_every_case_has_the_schema_of_cases_json(cases: list[dict[str, object]]) -> None:
    assert cases and all(set(c) == KEYS for c in cases)
    assert all(c["version"] and c["version"] != "?" for c in cases)
    assert len({(c["scenario"], c["variant"]) for c in cases}) == len(cases)


def test_it_is_wide_many_families_and_pasteable_cases(cases: list[dict[str, object]]) -> None:
    families = Counter(str(c["client"]) for c in _pasteable(cases))
    assert len(families) >= 16, families
    assert len(_pasteable(cases)) >= 450
    assert set(families) <= set(CLIENT_FIXES), "a family without its fix columns in score.CLIENT_FIXES"


def test_every_scenario_is_there_with_text_to_paste(cases: list[dict[str, object]]) -> None:
    per = Counter(str(c["scenario"]) for c in _pasteable(cases))
    wanted = {s.id for s in capture3.ALL_SCENARIOS}
    assert {"silent_server", "unsafe_auth_in_clear", "unsafe_no_verify", "ok_starttls", "server_tls_broken",
            "blocklisted", "relay_denied"} <= wanted
    assert {s: per[s] for s in wanted if per[s] < 5} == {}


def test_labels_are_failure_modes_of_errors_toml(cases: list[dict[str, object]]) -> None:
    modes = {m["id"] for m in tomllib.loads(ERRORS.read_text(encoding="utf-8"))["mode"]}
    labels = {str(c["expect"]) for c in cases} | {str(a) for c in cases for a in c["accept"]}  # type: ignore[attr-defined]
    assert labels - {"none"} <= modes, labels - modes


def test_no_lab_secret_and_no_machine_path(raw: str) -> None:
    assert LAB_PASSWORD not in raw
    for secret in (base64.b64encode(LAB_PASSWORD.encode()).decode(),
                   base64.b64encode(f"\0{LAB_USER}\0{LAB_PASSWORD}".encode()).decode()):
        assert secret not in raw
    assert str(ROOT) not in raw and "/tmp/smtp-doctor-corpus3-" not in raw
