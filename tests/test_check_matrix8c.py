"""The check/fix matrix, eighth part C (issue 12): Laravel 8, Symfony Mailer and Spring Boot configs, a new set.

tests/fixtures/matrix8/cells_c.toml holds NEW app configurations written by an independent tester from each
framework's own documentation and source and from what users ask about in public, without reading check's rules,
and none a copy of matrices 1-7. They go through matrix 3's machinery, imported and not copied
(test_check_matrix3.run_half, report_and_floors): check --json, the real framework against the lab, and
`fix --write` then the real framework again when it failed. The runners are the ones matrix 7 used: Laravel 8 and
Symfony Mailer 5.4 from matrix 3 / 2 (as tests/test_check_matrix7a.py runs them), and matrix 6c's real Spring
sender (JavaMailSenderImpl over javax.mail 1.6.5, compiled by test_check_matrix6c's ``spring`` fixture, which also
makes the @TRUSTSTORE@ / @OTHER_TRUSTSTORE@ stores), as tests/test_check_matrix7c.py runs it. Matrix 5's
@CLOSED_PORT@ / @SILENT_PORT@ / @HOSTILE_<NAME>@ placeholders are imported too.

Why a new set: matrix 7's dev halves were what check was last fixed against, so configurations by another tester
say whether those fixes hold on input check was not shaped around; the held-out half is the honest figure.

Split by a new salt: half = "heldout" when int(sha256("8|" + id).hexdigest(), 16) is odd, else "dev", recorded in
the file and checked here. The held-out half is reported as counts only (a broken held-out run fails without
details); the dev half's disagreements are printed. SMTP_DOCTOR_MATRIX_HALF=dev|heldout runs one half (matrix 3's
run_cell honours it). [measured.*] are the floors.
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
from test_check_matrix6c import spring

__all__ = ["dead_ports", "other_ca", "spring"]  # the fixtures, imported so pytest finds them here

HERE = Path(__file__).parent / "fixtures" / "matrix8"
CELLS_FILE = HERE / "cells_c.toml"
DOC = tomllib.loads(CELLS_FILE.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
ROWS: dict[str, m3.Row] = {}
#: matrices 5-7: none of their ids or file texts may repeat
OLDER = (m5.CELLS, m6a.CELLS, m6b.CELLS, m6c.CELLS, m7a.CELLS, m7b.CELLS, m7c.CELLS)
RUNNERS = {"laravel": 25, "symfony": 25, "spring": 35}  #: each runner's least number of configs


def _text(cell: dict[str, Any]) -> str:
    return "".join(cell["files"].values()).strip()


def test_the_split_is_the_recorded_one() -> None:
    m5.assert_new_split(CELLS, "8|", 100, *OLDER)  # this matrix's own salt
    assert len({_text(c) for c in CELLS}) == len(CELLS)
    assert {c["runner"] for c in CELLS} == set(RUNNERS)
    assert all(sum(c["runner"] == r for c in CELLS) >= least for r, least in RUNNERS.items())
    assert all(c["id"].startswith(f"{c['runner']}8c") for c in CELLS)
    # "will deliver" is tested too: at least a third of the configs were written to deliver as they are
    assert sum(c["comment_delivers"] for c in _expectations()) * 3 >= len(CELLS)


def _expectations() -> list[dict[str, Any]]:
    """Each cell's written expectation (the comment above it, written before it ran): delivers or not."""
    text = CELLS_FILE.read_text(encoding="utf-8")
    out = []
    for chunk in text.split("[[cell]]")[:-1]:
        comment = chunk.rstrip().rsplit("\n'''", 1)[-1]
        out.append({"comment_delivers": "# expected to deliver" in comment})
    return out


@pytest.mark.parametrize("cell", CELLS, ids=[c["id"] for c in CELLS])
def test_matrix8c_config(cell: dict[str, Any], lab: LabInfo, tmp_path: Path, other_ca: str,
                         monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str],
                         request: pytest.FixtureRequest) -> None:
    for var in m6c.JVM_ENV + ("PHP_INI_SCAN_DIR", "JAVA_OPTS"):
        monkeypatch.delenv(var, raising=False)  # the app's runtime options are the cell's, given with --env
    # the Spring runner and its trust stores only for Spring cells: a machine without a JDK still runs the rest
    stores: dict[str, str] = request.getfixturevalue("spring") if cell["runner"] == "spring" else {}
    m5.run_part_cell(cell, cell["runner"], dead_ports | stores, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC["lock"], "matrix8c")
    row = ROWS.get(cell["id"])
    if row is not None and cell["runner"] == "spring" and m6c._spring_unsafe(tmp_path):
        row.fix_unsafe = True


def test_matrix8c_summary() -> None:
    m5.part_summary(ROWS, "matrix8c", DOC, CELLS_FILE)
