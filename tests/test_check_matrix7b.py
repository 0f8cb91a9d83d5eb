"""The check/fix matrix, seventh part B (issue 12): Django 5.2 / 4.2, Flask-Mail and Nodemailer 6 / 10
configurations by an independent tester, loading their settings as real apps do.

tests/fixtures/matrix7/cells_b.toml holds NEW app configurations, written from the frameworks' own docs and code
and from what their users ask in public, without reading check's rules, and none a copy of matrices 1-6: settings
split over modules, env files read by the app's own code (django-environ's read_env and email_url, python-decouple,
python-dotenv, the dotenv package in Node, process.loadEnvFile), EMAIL_URL and Nodemailer connection URLs,
process.env with defaults, transport options objects built in code. They go through matrix 3's machinery,
imported and not copied (test_check_matrix3.run_half, report_and_floors): check --json, the real framework against
the lab, and `fix --write` then the real framework again when it failed.

Placeholders beyond the harness's are matrix 5's (test_check_matrix5.dead_ports): @CLOSED_PORT@ (refused),
@SILENT_PORT@ (accepts, never greets) and the lab's hostile servers as @HOSTILE_<NAME>@.

Split by a new salt: half = "heldout" when int(sha256("7|" + id).hexdigest(), 16) is odd, else "dev", recorded
in the file and checked here. The held-out half is reported as counts only (a broken held-out run fails
without details); the dev half's disagreements are printed. [measured.*] are the floors.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
import test_check_matrix5 as m5
import test_check_matrix6a as m6a
import test_check_matrix6b as m6b
import test_check_matrix6c as m6c
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import dead_ports

__all__ = ["dead_ports", "other_ca"]  # the fixtures (matrix 5's placeholders), imported so pytest finds them

HERE = Path(__file__).parent / "fixtures" / "matrix7"
CELLS_FILE = HERE / "cells_b.toml"
DOC = tomllib.loads(CELLS_FILE.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
RUNS, RUN_IDS = m5.runs_of(CELLS)
ROWS: dict[str, m3.Row] = {}


def _half_of(cid: str) -> str:
    """This matrix's own salt, so its split is independent of matrices 3-6."""
    return "heldout" if int(hashlib.sha256(("7|" + cid).encode()).hexdigest(), 16) % 2 else "dev"


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 80
    older_ids, older_texts = m5.older_configs(m5.CELLS, m6a.CELLS, m6b.CELLS, m6c.CELLS)
    assert not older_ids & set(ids)
    assert not older_texts & {"".join(c["files"].values()).strip() for c in CELLS}
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS} == {"django", "django42", "flask_mail", "nodemailer"}
    assert all(isinstance(c["fixable"], bool) and c["config"] in c["files"] for c in CELLS)


@pytest.mark.parametrize(("cell", "runner"), RUNS, ids=RUN_IDS)
def test_matrix7b_config(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                         monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str]) -> None:
    m5.run_part_cell(cell, runner, dead_ports, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC["lock"], "matrix7b")


def test_matrix7b_summary() -> None:
    m5.part_summary(ROWS, "matrix7b", DOC, CELLS_FILE)
