"""The check/fix matrix, sixth part B (issue 12): Django 5.2 / 4.2, Flask-Mail and Nodemailer 6 / 10 configurations
by an independent tester.

tests/fixtures/matrix6/cells_b.toml holds NEW app configurations, written from what users of these frameworks
really write and get wrong and from the frameworks' own code, without reading check's rules, and none a copy of
matrices 1-5. They go through matrix 3's machinery, imported and not copied (test_check_matrix3.run_half,
report_and_floors): check --json, the real framework against the lab, and `fix --write` then the real framework
again when it failed.

Placeholders beyond the harness's: @CLOSED_PORT@ (bound on 127.0.0.1, never listening: refused) and
@SILENT_PORT@ (listening, never accepting: no greeting) as matrix 5, and the lab's hostile servers
@HOSTILE_BUSY_421@, @HOSTILE_CLOSE_ON_CONNECT@, @HOSTILE_CLOSE_AFTER_GREETING@.

Split by a new salt: half = "heldout" when int(sha256("6|" + id).hexdigest(), 16) is odd, else "dev", recorded
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
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import dead_ports

__all__ = ["dead_ports", "other_ca"]  # the fixtures (matrix 5's placeholders), imported so pytest finds them

HERE = Path(__file__).parent / "fixtures" / "matrix6"
CELLS_FILE = HERE / "cells_b.toml"
DOC = tomllib.loads(CELLS_FILE.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
RUNS, RUN_IDS = m5.runs_of(CELLS)
ROWS: dict[str, m3.Row] = {}


def _half_of(cid: str) -> str:
    """This matrix's own salt, so its split is independent of matrices 3-5."""
    return "heldout" if int(hashlib.sha256(("6|" + cid).encode()).hexdigest(), 16) % 2 else "dev"


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 60
    older_ids, older_texts = m5.older_configs(m5.CELLS)
    assert not older_ids & set(ids)
    assert not older_texts & {"".join(c["files"].values()).strip() for c in CELLS}
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS} == {"django", "django42", "flask_mail", "nodemailer"}
    assert all(isinstance(c["fixable"], bool) and c["config"] in c["files"] for c in CELLS)


@pytest.mark.parametrize(("cell", "runner"), RUNS, ids=RUN_IDS)
def test_matrix6b_config(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                         monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str]) -> None:
    m5.run_part_cell(cell, runner, dead_ports, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC["lock"], "matrix6b")


def test_matrix6b_summary() -> None:
    m5.part_summary(ROWS, "matrix6b", DOC, CELLS_FILE)
