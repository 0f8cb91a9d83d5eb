"""The check/fix matrix, fifth part (issue 12): a third, larger set of configurations by an independent tester.

tests/fixtures/matrix5/cells.toml holds NEW app configurations (Rails ActionMailer, Mastodon, GitLab, Django 5.2
and 4.2, Flask-Mail, Nodemailer 6 and 10, msmtp, Symfony Mailer, Laravel 8), written from each framework's own
documentation and source without reading check's rules, and none a copy of matrices 1-4. They go through
matrix 3's machinery, imported and not copied (test_check_matrix3.run_cell, summarise, assert_floors): check
--json, the real framework against the lab, and `fix --write` then the real framework again when it failed.

Two placeholders are this file's own, for what the lab has no server for: @CLOSED_PORT@ (a port bound on
127.0.0.1 with no listener: the connection is refused) and @SILENT_PORT@ (a listener that never accepts: the
TCP connection opens and no greeting ever comes). A cell with ``closed_port = 25`` relies on a framework's
default port 25 being closed on 127.0.0.1 and is skipped where something listens there.

Split by a new salt: half = "heldout" when int(sha256("5|" + id).hexdigest(), 16) is odd, else "dev", recorded
in the file and checked here. The held-out half is reported as counts only (a broken held-out run fails
without details); the dev half's disagreements are printed. [measured.*] are the floors.
"""

from __future__ import annotations

import copy
import hashlib
import os
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix3 as m3
import test_check_matrix4 as m4
from smtp_doctor.lab import LabInfo
from test_check_matrix import other_ca

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

HERE = Path(__file__).parent / "fixtures" / "matrix5"
DOC = tomllib.loads((HERE / "cells.toml").read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
RUNS: list[tuple[dict[str, Any], str]] = [
    (c, r) for c in CELLS for r in (("nodemailer6", "nodemailer10") if c["runner"] == "nodemailer" else (c["runner"],))]
ROWS: dict[str, m3.Row] = {}


def _half_of(cid: str) -> str:
    """This matrix's own salt, so its split is independent of matrices 3 and 4."""
    return "heldout" if int(hashlib.sha256(("5|" + cid).encode()).hexdigest(), 16) % 2 else "dev"


def older_configs(*later: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Ids and file texts of matrices 1-4 (and of the ``later`` matrices' cells a newer one passes), so none of
    a matrix's configs repeats one of theirs."""
    cells: list[dict[str, Any]] = list(m3.CELLS) + list(m4.CELLS) + [c for more in later for c in more]
    for name in ("matrix.toml", "matrix2.toml"):
        cells += tomllib.loads((Path(__file__).parent / "fixtures" / "check" / name).read_text("utf-8"))["cell"]
    return {c["id"] for c in cells}, {"".join(c["files"].values()).strip() for c in cells}


def assert_new_split(cells: list[dict[str, Any]], salt: str, least: int, *older: list[dict[str, Any]]) -> None:
    """A newer matrix's split as recorded: at least ``least`` unique ids, none an id or file text of matrices
    1-4 or of ``older``, and each half the one the matrix's own salt gives (sha256(salt + id) odd: held-out)."""
    ids = [c["id"] for c in cells]
    assert len(set(ids)) == len(ids) >= least
    older_ids, older_texts = older_configs(*older)
    assert not older_ids & set(ids)
    assert not older_texts & {"".join(c["files"].values()).strip() for c in cells}
    assert all(c["half"] == ("heldout" if int(hashlib.sha256((salt + c["id"]).encode()).hexdigest(), 16) % 2
                             else "dev") for c in cells)


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 100
    older_ids, older_texts = older_configs()
    assert not older_ids & set(ids)
    assert not older_texts & {"".join(c["files"].values()).strip() for c in CELLS}
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS} == {"actionmailer", "mastodon", "gitlab", "django", "django42",
                                            "flask_mail", "nodemailer", "msmtp", "symfony", "laravel"}


@pytest.fixture(scope="module")
def dead_ports(lab: LabInfo) -> Iterator[dict[str, str]]:
    """A refused port (bound, never listening) and a silent one (listening, never accepting), on 127.0.0.1, and
    the lab's hostile servers by name (@HOSTILE_BUSY_421@ …, which matrix 6 uses): the placeholders later
    matrices share."""
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        closed.bind(("127.0.0.1", 0))
        silent.bind(("127.0.0.1", 0))
        silent.listen(32)
        ports = {"@CLOSED_PORT@": str(closed.getsockname()[1]), "@SILENT_PORT@": str(silent.getsockname()[1])}
        ports |= {f"@HOSTILE_{name.upper().replace('-', '_')}@": str(server.port)
                  for name, server in lab.hostile.items()}
        yield ports
    finally:
        closed.close()
        silent.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _with_ports(cell: dict[str, Any], ports: dict[str, str]) -> dict[str, Any]:
    """The cell with this file's own port placeholders filled (the rest are the harness's)."""
    out = copy.deepcopy(cell)

    def fill(text: str) -> str:
        for key, value in ports.items():
            text = text.replace(key, value)
        return text

    out["files"] = {name: fill(text) for name, text in out["files"].items()}
    out["env"] = {name: fill(value) for name, value in out.get("env", {}).items()}
    return out


# ---- what the later matrices' part modules (6a-8c) share: their runs, one cell's run, their summary ----------
def runs_of(cells: list[dict[str, Any]]) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """(cell, runner) pairs and their test ids: a Nodemailer config runs on both majors (id@nodemailer6 …)."""
    runs = [(c, r) for c in cells
            for r in (("nodemailer6", "nodemailer10") if c["runner"] == "nodemailer" else (c["runner"],))]
    return runs, [c["id"] + (f"@{r}" if c["runner"] == "nodemailer" else "") for c, r in runs]


def run_part_cell(cell: dict[str, Any], runner: str, ports: dict[str, str], lab: LabInfo, tmp_path: Path,
                  other_ca: str, monkeypatch: pytest.MonkeyPatch, rows: dict[str, m3.Row], locks: dict[str, Any],
                  tag: str) -> None:
    """One cell of a part module through matrix 3's run_half, its placeholders (``ports``) filled; skipped when
    the refused default port it relies on (``closed_port``) has a listener on this machine."""
    if "closed_port" in cell and _listening(cell["closed_port"]):
        pytest.skip(f"something listens on 127.0.0.1:{cell['closed_port']}, the default this config relies on")
    m3.run_half(_with_ports(cell, ports), runner, lab, tmp_path, other_ca, monkeypatch, rows, locks, tag)


def part_summary(rows: dict[str, m3.Row], tag: str, doc: dict[str, Any], cells_file: Path) -> None:
    """A part's report (SMTP_DOCTOR_<TAG>_REPORT, else /tmp/smtp-doctor-<tag>.json) and its floors."""
    if not rows:
        pytest.skip(f"no {tag} config ran")
    report = Path(os.environ.get(f"SMTP_DOCTOR_{tag.upper()}_REPORT", f"/tmp/smtp-doctor-{tag}.json"))
    m3.report_and_floors(rows, report, doc, cells_file)


@pytest.mark.parametrize(("cell", "runner"), RUNS,
                         ids=[c["id"] + (f"@{r}" if c["runner"] == "nodemailer" else "") for c, r in RUNS])
def test_matrix5_config(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                        monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str]) -> None:
    if "closed_port" in cell and _listening(cell["closed_port"]):
        pytest.skip(f"something listens on 127.0.0.1:{cell['closed_port']}, the default this config relies on")
    m3.run_half(_with_ports(cell, dead_ports), runner, lab, tmp_path, other_ca, monkeypatch, ROWS, DOC["lock"],
                "matrix5")


def test_matrix5_summary() -> None:
    if not ROWS:
        pytest.skip("no matrix5 config ran")
    report = Path(os.environ.get("SMTP_DOCTOR_MATRIX5_REPORT", "/tmp/smtp-doctor-matrix5.json"))
    m3.report_and_floors(ROWS, report, DOC, HERE / "cells.toml")
