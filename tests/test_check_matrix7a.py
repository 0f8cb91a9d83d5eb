"""The check/fix matrix, seventh part A (issue 12): Rails, Mastodon, GitLab, msmtp, Laravel 8 and Symfony configs.

tests/fixtures/matrix7/cells_a.toml holds NEW app configurations written by an independent tester from each
framework's own documentation and source and from what users ask about in public, without reading check's rules,
and none a copy of matrices 1-6. They go through matrix 3's machinery, imported and not copied
(test_check_matrix3.run_half, report_and_floors): check --json, the real framework against the lab, and
`fix --write` then the real framework again when it failed. Matrix 5's placeholders (dead_ports: @CLOSED_PORT@,
@SILENT_PORT@, @HOSTILE_<NAME>@) are imported too.

Split by a new salt: half = "heldout" when int(sha256("7|" + id).hexdigest(), 16) is odd, else "dev", recorded in
the file and checked here, so the split is independent of matrices 3-6. The held-out half is reported as counts
only (a broken held-out run fails without details); the dev half's disagreements are printed. [measured.*] are
the floors.
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
DOC = tomllib.loads((HERE / "cells_a.toml").read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
ROWS: dict[str, m3.Row] = {}


def _half_of(cid: str) -> str:
    """This matrix's own salt, so its split is independent of matrices 3-6."""
    return "heldout" if int(hashlib.sha256(("7|" + cid).encode()).hexdigest(), 16) % 2 else "dev"


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 90
    older_ids, older_texts = m5.older_configs(m5.CELLS, m6a.CELLS, m6b.CELLS, m6c.CELLS)
    assert not older_ids & set(ids)
    assert not older_texts & {"".join(c["files"].values()).strip() for c in CELLS}
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    runners = ("actionmailer", "mastodon", "gitlab", "msmtp", "laravel", "symfony")
    assert {c["runner"] for c in CELLS} == set(runners)
    assert all(sum(c["runner"] == r for c in CELLS) >= 12 for r in runners)


@pytest.mark.parametrize("cell", CELLS, ids=[c["id"] for c in CELLS])
def test_matrix7a_config(cell: dict[str, Any], lab: LabInfo, tmp_path: Path, other_ca: str,
                         monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str]) -> None:
    m5.run_part_cell(cell, cell["runner"], dead_ports, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC["lock"], "matrix7a")


def test_matrix7a_summary() -> None:
    m5.part_summary(ROWS, "matrix7a", DOC, HERE / "cells_a.toml")
