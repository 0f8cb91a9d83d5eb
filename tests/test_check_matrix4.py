"""The check/fix matrix, fourth part (issue 12): a second set of configurations by an independent tester.

tests/fixtures/matrix4/cells.toml holds NEW app configurations (Rails ActionMailer, Mastodon, GitLab, Django 5.2
and 4.2, Flask-Mail, Nodemailer 6 and 10, msmtp, Symfony Mailer, Laravel 8), written from each framework's own
documentation and source without reading check's rules, and none a copy of matrices 1-3. They go through
matrix 3's machinery, imported and not copied (test_check_matrix3.run_cell, summarise, assert_floors): check
--json, the real framework against the lab, and `fix --write` then the real framework again when it failed.

Split as matrix 3: half = "heldout" when int(sha256(id).hexdigest(), 16) is odd, else "dev", recorded in the
file and checked here. The held-out half is reported as counts only; the dev half's disagreements are printed
(id, what check said, what really happened) so the developers can fix kinds. [measured.*] are the floors.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

HERE = Path(__file__).parent / "fixtures" / "matrix4"
DOC = tomllib.loads((HERE / "cells.toml").read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
RUNS: list[tuple[dict[str, Any], str]] = [
    (c, r) for c in CELLS for r in (("nodemailer6", "nodemailer10") if c["runner"] == "nodemailer" else (c["runner"],))]
ROWS: dict[str, m3.Row] = {}


def _older_configs() -> tuple[set[str], set[str]]:
    """Ids and file texts of matrices 1-3, so none of this matrix's configs repeats one of theirs."""
    cells: list[dict[str, Any]] = list(m3.CELLS)
    for name in ("matrix.toml", "matrix2.toml"):
        cells += tomllib.loads((Path(__file__).parent / "fixtures" / "check" / name).read_text("utf-8"))["cell"]
    return {c["id"] for c in cells}, {"".join(c["files"].values()).strip() for c in cells}


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 70
    older_ids, older_texts = _older_configs()
    assert not older_ids & set(ids)
    assert not older_texts & {"".join(c["files"].values()).strip() for c in CELLS}
    assert all(c["half"] == m3._half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS} == {"actionmailer", "mastodon", "gitlab", "django", "django42",
                                            "flask_mail", "nodemailer", "msmtp", "symfony", "laravel"}


@pytest.mark.parametrize(("cell", "runner"), RUNS,
                         ids=[c["id"] + (f"@{r}" if c["runner"] == "nodemailer" else "") for c, r in RUNS])
def test_matrix4_config(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    m3.run_half(cell, runner, lab, tmp_path, other_ca, monkeypatch, ROWS, DOC["lock"], "matrix4")


def test_matrix4_summary() -> None:
    if not ROWS:
        pytest.skip("no matrix4 config ran")
    report = Path(os.environ.get("SMTP_DOCTOR_MATRIX4_REPORT", "/tmp/smtp-doctor-matrix4.json"))
    m3.report_and_floors(ROWS, report, DOC, HERE / "cells.toml")
