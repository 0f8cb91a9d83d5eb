"""The check/fix matrix, ninth part (issue 12): a new set over every runner the harness has.

tests/fixtures/matrix9/cells.toml holds NEW app configurations for Spring Boot, Django 5.2 / 4.2, Flask-Mail,
Nodemailer 6 / 10, Rails ActionMailer, Mastodon, GitLab, msmtp, Laravel 8 and Symfony Mailer 5.4, written by an
independent tester from each framework's own documentation and source and from what users ask about in public,
without reading check's rules, and none a copy of matrices 1-8: about two fifths meant to deliver as written,
the rest the mistakes users make (port / mode pairings, implicit TLS against STARTTLS, missing or wrong CA and
trust stores, environment precedence, profiles and env files, value typos and stray blanks, pinned auth
mechanisms, short timeouts, password variables under the wrong name). They go through matrix 3's machinery,
imported and not copied (test_check_matrix3.run_half, report_and_floors): check --json, the real framework against
the lab, and `fix --write` then the real framework again when it failed. A Nodemailer config runs on both majors
(test_check_matrix5.runs_of); Spring configs run on matrix 6c's real sender (JavaMailSenderImpl over javax.mail
1.6.5), whose ``spring`` fixture is asked for only by Spring cells, so a machine without a JDK still runs the rest.
Matrix 5's @CLOSED_PORT@ / @SILENT_PORT@ / @HOSTILE_<NAME>@ and matrix 6c's @TRUSTSTORE@ / @OTHER_TRUSTSTORE@
placeholders are imported too.

Why a new set: matrix 8's dev halves were what check was last fixed against, so configurations by another tester
say whether those fixes hold on input check was not shaped around; the held-out half is the honest figure.

Split by a new salt: half = "heldout" when int(sha256("9|" + id).hexdigest(), 16) is odd, else "dev", recorded in
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
import test_check_matrix8a as m8a
import test_check_matrix8b as m8b
import test_check_matrix8c as m8c
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca
from test_check_matrix5 import dead_ports
from test_check_matrix6c import spring

__all__ = ["dead_ports", "other_ca", "spring"]  # the fixtures, imported so pytest finds them here

HERE = Path(__file__).parent / "fixtures" / "matrix9"
CELLS_FILE = HERE / "cells.toml"
DOC = tomllib.loads(CELLS_FILE.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
RUNS, RUN_IDS = m5.runs_of(CELLS)
ROWS: dict[str, m3.Row] = {}
#: matrices 5-8: none of their ids or file texts may repeat
OLDER = (m5.CELLS, m6a.CELLS, m6b.CELLS, m6c.CELLS, m7a.CELLS, m7b.CELLS, m7c.CELLS, m8a.CELLS, m8b.CELLS,
         m8c.CELLS)
#: each runner's least number of configs
RUNNERS = {"spring": 14, "django": 5, "django42": 4, "flask_mail": 5, "nodemailer": 8, "actionmailer": 6,
           "mastodon": 4, "gitlab": 4, "msmtp": 4, "laravel": 5, "symfony": 4}


def _text(cell: dict[str, Any]) -> str:
    return "".join(cell["files"].values()).strip()


def _expectations() -> list[bool]:
    """Each cell's written expectation (the comment above it, written before it ran): delivers or not."""
    chunks = CELLS_FILE.read_text(encoding="utf-8").split("[[cell]]")[:-1]
    return ["# expected to deliver" in chunk.rstrip().rsplit("\n'''", 1)[-1] for chunk in chunks]


def test_the_split_is_the_recorded_one() -> None:
    m5.assert_new_split(CELLS, "9|", 60, *OLDER)  # this matrix's own salt
    assert len({_text(c) for c in CELLS}) == len(CELLS)
    assert {c["runner"] for c in CELLS} == set(RUNNERS)
    assert all(sum(c["runner"] == r for c in CELLS) >= least for r, least in RUNNERS.items())
    assert all(c["id"].startswith(f"{c['runner']}9") for c in CELLS)
    assert all(isinstance(c["fixable"], bool) and c["config"] in c["files"] for c in CELLS)
    assert all(c.get("lock", True) is False for c in CELLS if c["runner"] == "spring")
    assert min(sum(c["half"] == h for c in CELLS) for h in ("dev", "heldout")) >= 25
    # "will deliver" is tested too: at least a third of the configs were written to deliver as they are
    expected = _expectations()
    assert len(expected) == len(CELLS) and sum(expected) * 3 >= len(CELLS)


@pytest.mark.parametrize(("cell", "runner"), RUNS, ids=RUN_IDS)
def test_matrix9_config(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                        monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str],
                        request: pytest.FixtureRequest) -> None:
    for var in m6c.JVM_ENV + ("PHP_INI_SCAN_DIR", "JAVA_OPTS"):
        monkeypatch.delenv(var, raising=False)  # the app's runtime options are the cell's, given with --env
    # the Spring runner and its trust stores only for Spring cells: a machine without a JDK still runs the rest
    stores: dict[str, str] = request.getfixturevalue("spring") if runner == "spring" else {}
    m5.run_part_cell(cell, runner, dead_ports | stores, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC["lock"], "matrix9")
    row = ROWS.get(cell["id"])
    if row is not None and runner == "spring" and m6c._spring_unsafe(tmp_path):
        row.fix_unsafe = True


def test_matrix9_summary() -> None:
    m5.part_summary(ROWS, "matrix9", DOC, CELLS_FILE)
