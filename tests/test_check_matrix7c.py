"""The check/fix matrix, seventh part C (issue 12): a second, independent set of Spring Boot mail configurations.

tests/fixtures/matrix7/cells_c.toml holds NEW Spring Boot configurations (application.properties / .yml / .yaml,
profile files in several locations, SPRING_MAIL_* and the JVM's option variables, JavaMail keys under
spring.mail.properties, pom.xml / build.gradle naming a Boot version or none), written from Spring Boot's and
JavaMail's documentation and from what users post, without reading check's rules, and none a copy of matrices
1-6. They go through matrix 3's machinery (run_half, report_and_floors) with matrix 6c's real sender, imported and
not copied: Spring's JavaMailSenderImpl over javax.mail 1.6.5 (tests/fixtures/matrix6/spring/SpringSend.java,
compiled by test_check_matrix6c's ``spring`` fixture, which also makes the @TRUSTSTORE@ / @OTHER_TRUSTSTORE@
PKCS12 stores), and matrix 5's @CLOSED_PORT@ / @SILENT_PORT@ / @HOSTILE_<NAME>@ ports.

Why a second Spring set: matrix 6c's cells were the ones the lead fixed check against (its dev half), so a new set
by another tester says whether those fixes hold for configurations check was not shaped around.

Split by a new salt: half = "heldout" when int(sha256("7|" + id).hexdigest(), 16) is odd, else "dev", recorded
in the file and checked here. The held-out half is reported as counts only; the dev half's disagreements are
printed. [measured.*] are the floors.
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
from test_check_matrix6c import spring

__all__ = ["dead_ports", "other_ca", "spring"]  # the fixtures, imported so pytest finds them here

HERE = Path(__file__).parent / "fixtures" / "matrix7"
CELLS_FILE = HERE / "cells_c.toml"
DOC = tomllib.loads(CELLS_FILE.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
ROWS: dict[str, m3.Row] = {}


def _half_of(cid: str) -> str:
    """This matrix's own salt, so its split is independent of matrices 3-6."""
    return "heldout" if int(hashlib.sha256(("7|" + cid).encode()).hexdigest(), 16) % 2 else "dev"


def _text(cell: dict[str, Any]) -> str:
    return "".join(cell["files"].values()).strip()


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 45
    older_ids, older_texts = m5.older_configs(m5.CELLS, m6a.CELLS, m6b.CELLS, m6c.CELLS)
    assert not older_ids & set(ids)
    assert not older_texts & {_text(c) for c in CELLS}
    assert len({_text(c) for c in CELLS}) == len(CELLS)
    assert all(cid.startswith("spring7-") for cid in ids)
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS} == {"spring"}
    assert min(sum(c["half"] == h for c in CELLS) for h in ("dev", "heldout")) >= 15


@pytest.mark.parametrize("cell", CELLS, ids=[c["id"] for c in CELLS])
def test_matrix7c_config(cell: dict[str, Any], lab: LabInfo, tmp_path: Path, other_ca: str,
                         monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str],
                         spring: dict[str, str]) -> None:
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)  # the app's JVM options are the cell's, given with --env
    m5.run_part_cell(cell, "spring", dead_ports | spring, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC.get("lock", {}), "matrix7c")
    row = ROWS.get(cell["id"])
    if row is not None and m6c._spring_unsafe(tmp_path):
        row.fix_unsafe = True


def test_matrix7c_summary() -> None:
    m5.part_summary(ROWS, "matrix7c", DOC, CELLS_FILE)
