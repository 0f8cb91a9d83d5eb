"""The check/fix matrix, eighth part B (issue 12): Django 5.2 / 4.2, Flask-Mail and Nodemailer 6 / 10
configurations by an independent tester, a larger corpus whose held-out half measures check on unseen input.

tests/fixtures/matrix8/cells_b.toml holds NEW app configurations written from the frameworks' own docs and code
and from what their users ask in public, without reading check's rules and none a copy of matrices 1-7: about
half everyday configs and mistakes (port / mode pairing, STARTTLS flags, CA files, environment indirection,
wrong passwords, key typos, strings for booleans), half less common ones (host with port or scheme, Docker
secret files and env-files, CA variables another runtime reads, settings from YAML / TOML / JSON, dotenv loaded
too late, pooled transports, hostile or silent servers). They go through matrix 3's machinery, imported and not
copied (test_check_matrix3.run_half, report_and_floors): check --json, the real framework against the lab, and
`fix --write` then the real framework again when it failed. SMTP_DOCTOR_MATRIX_HALF runs one half only.

Placeholders beyond the harness's are matrix 5's (test_check_matrix5.dead_ports): @CLOSED_PORT@ (refused),
@SILENT_PORT@ (accepts, never greets) and the lab's hostile servers as @HOSTILE_<NAME>@.

Split by a new salt: half = "heldout" when int(sha256("8|" + id).hexdigest(), 16) is odd, else "dev", recorded
in the file and checked here. The held-out half is reported as counts only (a broken held-out run fails
without details); the dev half's disagreements are printed. [measured.*] are the floors.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
import test_check_matrix5 as m5
import test_check_matrix6a as m6a
import test_check_matrix6b as m6b
import test_check_matrix6c as m6c
import test_check_matrix7a as m7a
import test_check_matrix7b as m7b
import test_check_matrix7c as m7c
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import dead_ports

__all__ = ["dead_ports", "other_ca"]  # the fixtures (matrix 5's placeholders), imported so pytest finds them

HERE = Path(__file__).parent / "fixtures" / "matrix8"
CELLS_FILE = HERE / "cells_b.toml"
DOC = tomllib.loads(CELLS_FILE.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
RUNS, RUN_IDS = m5.runs_of(CELLS)
ROWS: dict[str, m3.Row] = {}
#: matrices 5-7: none of their ids or file texts may repeat
OLDER = (m5.CELLS, m6a.CELLS, m6b.CELLS, m6c.CELLS, m7a.CELLS, m7b.CELLS, m7c.CELLS)


def test_the_split_is_the_recorded_one() -> None:
    m5.assert_new_split(CELLS, "8|", 80, *OLDER)  # this matrix's own salt
    runners = [c["runner"] for c in CELLS]
    assert {r: runners.count(r) for r in set(runners)} == {r: runners.count(r) for r in
                                                           ("django", "django42", "flask_mail", "nodemailer")}
    assert min(runners.count(r) for r in set(runners)) >= 15
    assert all(isinstance(c["fixable"], bool) and c["config"] in c["files"] for c in CELLS)


@pytest.mark.parametrize(("cell", "runner"), RUNS, ids=RUN_IDS)
def test_matrix8b_config(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                         monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str]) -> None:
    m5.run_part_cell(cell, runner, dead_ports, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC["lock"], "matrix8b")


def test_matrix8b_summary() -> None:
    m5.part_summary(ROWS, "matrix8b", DOC, CELLS_FILE)
