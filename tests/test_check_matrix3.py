"""The check/fix matrix, third part (issue 12): configurations written by an independent tester.

tests/fixtures/matrix3/cells.toml holds 78 NEW app configurations (Rails ActionMailer, Mastodon, GitLab, Django
5.2 and 4.2, Flask-Mail, Nodemailer 6 and 10, msmtp, Symfony Mailer, Laravel 8), written from each framework's
own documentation and source without reading check's rules, so they measure check on configurations it was not
shaped around. Each one goes through:

1. `smtp-doctor check --json` (the app's environment as `--env`): the predicted outcome and failure mode, and
   the exit code against docs/exit-codes.md;
2. the REAL framework with the same files and environment against the lab: delivered (found in the lab's
   mailbox) or its failure, read by `explain` (test_check_matrix.py's runners and judging, imported, so the
   three matrices judge alike; Laravel 8's own runner is tests/fixtures/matrix3/laravel_send.php, Django 4.2
   runs from /opt/smtp-doctor-peers/django42);
3. when the real framework failed: `fix --write` on a copy, then the real framework again.

Split, recorded in cells.toml and checked here: half = "heldout" when int(sha256(id).hexdigest(), 16) is odd,
else "dev" (a nodemailer config is one id, run with both majors). The floors in [measured.*] are what one full
run measured on each half; the summary asserts a run does no worse, so any regression fails it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import test_check_matrix as m1
import test_check_matrix2 as m2
from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import TIMEOUT, _agree, _app_env, _fill, _reading, other_ca
from test_check_real import DJANGO, _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

HERE = Path(__file__).parent / "fixtures" / "matrix3"
DOC = tomllib.loads((HERE / "cells.toml").read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
LARAVEL = HERE / "laravel_send.php"
DJANGO42 = Path("/opt/smtp-doctor-peers/django42/bin/python")
WRONG_PASSWORD = "wrong-Pw-matrix3-5d1e"  #: a password the lab refuses; it must never be printed either
TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "MAILER_DSN")

#: a nodemailer config runs with both majors (one id, one half)
RUNS: list[tuple[dict[str, Any], str]] = [
    (c, r) for c in CELLS for r in (("nodemailer6", "nodemailer10") if c["runner"] == "nodemailer" else (c["runner"],))]

#: what a written fix must not newly contain: verification off, TLS off (matrix 1's list plus the PHP, Mastodon,
#: GitLab and Laravel spellings)
UNSAFE = re.compile(
    r"verify_mode\W*(?:'none'|:none|\"none\")|verify_none|verify_mode=none|rejectunauthorized:\s*false"
    r"|^\s*tls\s+off\b|^\s*tls_certcheck\s+off\b|ignoretls:\s*true|verify_peer(?:_name)?=(?:0|false)"
    r"|'verify_peer(?:_name)?'\s*=>\s*false|allow_self_signed|^MAIL_ENCRYPTION=(?:null)?\s*$",
    re.IGNORECASE | re.MULTILINE)
#: Mastodon without STARTTLS is TLS off only when implicit TLS is not on either, wherever that line is (the
#: implicit-TLS fix writes SMTP_TLS=true before SMTP_ENABLE_STARTTLS=never: safe, once counted as unsafe)
_NEVER = re.compile(r"^SMTP_ENABLE_STARTTLS=never\s*$", re.IGNORECASE | re.MULTILINE)
_IMPLICIT = re.compile(r"^SMTP_(?:TLS|SSL)=true\s*$", re.IGNORECASE | re.MULTILINE)


def unsafe_count(text: str) -> int:
    """How many verification-off / TLS-off settings ``text`` holds."""
    return len(UNSAFE.findall(text)) + (0 if _IMPLICIT.search(text) else len(_NEVER.findall(text)))


def _half_of(cid: str) -> str:
    return "heldout" if int(hashlib.sha256(cid.encode()).hexdigest(), 16) % 2 else "dev"


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 48
    older = set()
    for name in ("matrix.toml", "matrix2.toml"):
        older |= {c["id"] for c in tomllib.loads(
            (Path(__file__).parent / "fixtures" / "check" / name).read_text(encoding="utf-8"))["cell"]}
    assert not older & set(ids)
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS} == {"actionmailer", "mastodon", "gitlab", "django", "django42",
                                            "flask_mail", "nodemailer", "msmtp", "symfony", "laravel"}


@dataclass
class Row:
    run: str
    half: str
    runner: str
    fixable: bool
    said: str = ""  #: check: "delivered", its failure mode, "unknown", or "exit <n>" when it did not predict
    real: str = ""  #: the real framework: "delivered" or explain's reading of its text
    agree: bool = False
    exit_code: int = -1
    exit_ok: bool = True  #: the exit code is the one docs/exit-codes.md gives for what check said
    fix_ran: bool = False
    fix_delivers: bool | None = None  #: counted for fixable configs only
    fix_after: bool | None = None  #: the real framework delivered after fix (any config fix ran on)
    fix_claimed: bool = False
    fix_unsafe: bool = False
    fix_clear_login: bool = False
    fix_exit_ok: bool = True  #: fix's exit code is one docs/exit-codes.md allows for what fix said
    notes: list[str] = field(default_factory=list)


ROWS: dict[str, Row] = {}

#: runners a later matrix brings (name → (why it cannot run or None, run it: (app, config, env, subject) →
#: DELIVERED / ERROR <text> / TIMEOUT)), so a new framework needs no edit here
EXTRA_RUNNERS: dict[str, tuple[Callable[[], str | None], Callable[[Path, Path, dict[str, str], str], str]]] = {}


def _available(runner: str) -> str | None:
    if runner in EXTRA_RUNNERS:
        return EXTRA_RUNNERS[runner][0]()
    if runner == "laravel":
        if shutil.which("php") is None or not Path("/usr/share/php/Illuminate/Mail/MailManager.php").is_file():
            return "php-laravel-framework is not installed (scripts/install-system-deps.sh)"
        return None
    if runner == "django42":
        return None if DJANGO42.is_file() else "Django 4.2 is not in /opt/smtp-doctor-peers/django42 " \
                                               "(scripts/install-system-deps.sh)"
    if runner in ("symfony", "mastodon", "gitlab"):
        return m2._available(runner)
    return m1._available(runner)


def _write_app(cell: dict[str, Any], runner: str, lab: LabInfo, app: Path, other: str,
               locks: dict[str, Any] | None = None) -> tuple[Path, dict[str, str]]:
    """``locks``: the cells file's [lock.*] tables (this file's when None; matrix 4 passes its own)."""
    files = dict((DOC["lock"] if locks is None else locks).get(runner, {})) if cell.get("lock", True) else {}
    files.update(cell["files"])
    for rel, text in files.items():
        path = app / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(text.replace("@WRONGPW@", WRONG_PASSWORD), cell, lab, app, other))
        if path.name == "msmtprc":
            path.chmod(0o600)
    env = {k: _fill(v.replace("@WRONGPW@", WRONG_PASSWORD), cell, lab, app, other)
           for k, v in cell.get("env", {}).items()}
    return app / cell["config"], env


def _php_like(argv: list[str], app: Path, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k not in TRUST_ENV}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
                              env=base | env, cwd=app)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
    return lines[-1] if lines else "ERROR " + (m1.crash_text(done.stderr) or "no output")


def _real(runner: str, app: Path, config: Path, env: dict[str, str], subject: str) -> str:
    """DELIVERED, ERROR <text> or TIMEOUT: what the real framework did with the app folder as it is now."""
    if runner in EXTRA_RUNNERS:
        return EXTRA_RUNNERS[runner][1](app, config, env, subject)
    if runner == "laravel":
        return _php_like(["php", str(LARAVEL), str(app), subject], app, env)
    if runner == "django42":
        script = app / "_app.py"
        script.write_text(DJANGO)
        return _php_like([str(DJANGO42), str(script), str(config.parent), subject], app, env)
    if runner in ("symfony", "mastodon", "gitlab"):
        return m2._real(runner, app, config, env, subject)
    return m1._real({"runner": runner}, app, config, env, subject)


def _read(real_text: str) -> str:
    """explain's reading of the real text; a framework's own "timed out" that explain does not read is a wait
    (SwiftMailer: "Connection to tcp://…:465 Timed Out"), the same as the runner's own timeout."""
    reading = _reading(real_text)
    if reading == "unrecognised" and re.search(r"timed? ?out", real_text, re.IGNORECASE):
        return "TIMEOUT"
    return reading


def _entry(doc: dict[str, Any], port: int) -> int:
    """Which of check's configs is the one the app sends with: an msmtprc gives one per account, and msmtp
    (run without -a) uses the default account, which every cell points at the cell's own server."""
    configs = doc.get("configs") or []
    ports = [((c.get("settings") or {}).get("port") or {}).get("value") for c in configs]
    return ports.index(port) if len(configs) > 1 and port in ports else 0


def _said(doc: dict[str, Any], code: int, entry: int = 0) -> str:
    configs = doc.get("configs") or []
    pred = configs[entry].get("prediction") if configs else None
    if pred is None:
        return "unknown" if configs else f"exit {code}"
    if pred["verdict"] == "delivered":
        return "delivered"
    return "unknown" if pred["verdict"] == "unknown" else pred.get("failure") or "unknown"


def _want_exit(doc: dict[str, Any]) -> int:
    """docs/exit-codes.md (check): 0 delivers, 1 fails / lint error / cannot be told, 3 unreachable; a Symfony
    transport list's code is the list's verdict (its transports are one app)."""
    configs = doc.get("configs") or []
    if not configs:
        return 1
    pred = configs[0].get("prediction") or {}
    lint_error = any(f["severity"] in ("error", "critical") for c in configs for f in c.get("lint", []))
    verdict = (configs[0].get("transport_list") or {}).get("verdict") or pred.get("verdict", "unknown")
    return 1 if verdict in ("fails", "unknown") or lint_error else 3 if verdict == "unreachable" else 0


def _secrets_kept(text: str, lab: LabInfo) -> None:
    assert lab.password not in text and WRONG_PASSWORD not in text


@pytest.mark.parametrize(("cell", "runner"), RUNS,
                         ids=[c["id"] + (f"@{r}" if c["runner"] == "nodemailer" else "") for c, r in RUNS])
def test_matrix3_config(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    run_cell(cell, runner, lab, tmp_path, other_ca, monkeypatch, ROWS, DOC["lock"], "matrix3")


def run_cell(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
             monkeypatch: pytest.MonkeyPatch, rows: dict[str, Row], locks: dict[str, Any], tag: str) -> None:
    """One config through check, the real framework, and fix → the real framework; its Row goes in ``rows``
    (matrix 4 calls this with its own cells, rows and lock files)."""
    if (why := _available(runner)) is not None:
        pytest.skip(why)
    if os.environ.get("SMTP_DOCTOR_MATRIX_HALF", cell["half"]) != cell["half"]:
        pytest.skip("the other half (SMTP_DOCTOR_MATRIX_HALF)")
    for var in TRUST_ENV:
        monkeypatch.delenv(var, raising=False)  # the app's environment is the config's, given with --env
    run = cell["id"] + (f"@{runner}" if cell["runner"] == "nodemailer" else "")
    app = tmp_path / "app"
    config, env = _write_app(cell, runner, lab, app, other_ca, locks)
    shutil.copytree(app, tmp_path / "pristine")
    result = CliRunner().invoke(cli, ["check", str(config), "--json", "--timeout", "15", *_app_env(app, env)])
    _secrets_kept(result.output, lab)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    try:
        doc = json.loads(result.output)
    except json.JSONDecodeError:
        doc = {}
    entry = _entry(doc, lab.servers[cell["server"]].port)
    row = Row(run, cell["half"], runner, cell["fixable"], said=_said(doc, result.exit_code, entry),
              exit_code=result.exit_code)
    rows[run] = row
    subject = f"{tag}-{uuid.uuid4()}"
    real_text = _real(runner, app, config, env, subject)
    row.real = _read(real_text)
    # docs/exit-codes.md: 2 for malformed input, one line, no report; right only when the app cannot run it either
    row.exit_ok = result.exit_code == _want_exit(doc) if doc else result.exit_code == 2 and row.real != "delivered"
    if row.real == "delivered":
        assert _delivered(lab, subject), real_text
    row.agree = _agree(row.said, row.real)
    row.notes.append(real_text[:300])
    if row.real == "delivered":
        return
    fixed = tmp_path / "fixed"
    fconfig, fenv = _write_app(cell, runner, lab, fixed, other_ca, locks)
    result = CliRunner().invoke(cli, ["fix", str(fconfig), "--write", "--json", "--timeout", "15", "--ca-file",
                                      str(lab.ca_file), *_app_env(fixed, fenv)])
    _secrets_kept(result.output, lab)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    row.fix_ran = True
    try:
        fconfigs = json.loads(result.output)["configs"]
        fdoc = fconfigs[entry if len(fconfigs) == len(doc.get("configs") or []) else 0]
    except (json.JSONDecodeError, KeyError, IndexError):
        row.notes.append(f"fix: exit {result.exit_code}, no JSON config: {result.output[:200]}")
        row.fix_exit_ok = result.exit_code in (1, 2, 3)
        row.fix_delivers = False if cell["fixable"] else None
        return
    written = "".join(p.read_text(errors="replace") for p in sorted(fixed.rglob("*"))
                      if p.is_file() and not p.name.startswith("_app"))
    original = "".join(p.read_text(errors="replace") for p in sorted((tmp_path / "pristine").rglob("*"))
                       if p.is_file())
    fix_env = [str(line) for line in fdoc.get("env", [])]
    fix_unset = [str(name) for name in fdoc.get("unset", [])]  # variables fix says to remove (docs/fix.md)
    row.fix_unsafe = unsafe_count(written + "\n".join(fix_env)) > unsafe_count(original)
    subject2 = f"{tag}-fix-{uuid.uuid4()}"
    run_env = {k: v for k, v in fenv.items() if k not in fix_unset} | {
        line.split("=", 1)[0]: line.split("=", 1)[1] for line in fix_env}
    after = _real(runner, fixed, fconfig, run_env, subject2)
    was = {ln.strip() for ln in original.splitlines()}
    added = "; ".join(sorted({ln.strip() for ln in written.splitlines()} - was))
    added = added.replace(lab.password, "***").replace(WRONG_PASSWORD, "***")  # the report keeps no password
    row.notes.append("fix wrote: " + added[:300]
                     + (" | env: " + "; ".join(ln.split("=", 1)[0] for ln in fix_env) if fix_env else "")
                     + (" | unset: " + "; ".join(fix_unset) if fix_unset else ""))
    delivered = after == "DELIVERED" and _delivered(lab, subject2)
    row.fix_claimed = bool(fdoc.get("delivers"))
    # docs/exit-codes.md (fix): 0 when what --write wrote is predicted to deliver; 1 when it fails, or when what
    # is left to do cannot be written (environment lines for the app: either code is documented then)
    allowed = ({0, 1} if fix_env or fix_unset else {0}) if row.fix_claimed else {1, 3}
    row.fix_exit_ok = result.exit_code in allowed
    row.fix_after = delivered
    row.fix_delivers = delivered if cell["fixable"] else None
    # a login in clear: the fixed app delivered through the server without TLS with the app's user name
    row.fix_clear_login = delivered and cell["server"] == "plain" and "@USER@" in "".join(cell["files"].values())
    row.notes.append(f"fix (exit {result.exit_code}, claims {'delivery' if row.fix_claimed else 'nothing'}): "
                     + after[:200])
    if row.fix_claimed and not delivered:
        row.notes.append("FALSE FIX CLAIM")


def _rate(rows: list[Row], attr: str) -> list[int]:
    hits = [getattr(r, attr) for r in rows if getattr(r, attr) is not None]
    return [sum(bool(h) for h in hits), len(hits)]


def _figures(rows: list[Row]) -> dict[str, Any]:
    fails = [r for r in rows if r.real != "delivered"]
    return {
        "configs": len({r.run.split("@")[0] for r in rows}), "runs": len(rows),
        "check_agree": _rate(rows, "agree"),
        "fix_delivers": _rate([r for r in fails if r.fixable], "fix_delivers"),
        "false_delivered": [r.run for r in rows if r.said == "delivered" and r.real != "delivered"],
        "false_fix_claims": [r.run for r in fails if r.fix_claimed and not r.fix_after],
        "unsafe_fixes": [r.run for r in rows if r.fix_unsafe],
        "clear_login_fixes": [r.run for r in rows if r.fix_clear_login],
        "exit_mismatches": [r.run for r in rows if not r.exit_ok or not r.fix_exit_ok],
        "by_runner": {run: {"check_agree": _rate([r for r in rows if r.runner == run], "agree"),
                            "fix_delivers": _rate([r for r in fails if r.runner == run and r.fixable],
                                                  "fix_delivers")}
                      for run in sorted({r.runner for r in rows})},
    }


def test_matrix3_summary() -> None:
    if not ROWS:
        pytest.skip("no matrix3 config ran")
    out = summarise(ROWS, Path(os.environ.get("SMTP_DOCTOR_MATRIX3_REPORT", "/tmp/smtp-doctor-matrix3.json")))
    assert_floors(out, DOC["measured"])


def summarise(all_rows: dict[str, Row], report: Path) -> dict[str, Any]:
    """Both halves' figures, written to ``report``: the dev half with every row, the held-out half counts only."""
    out: dict[str, Any] = {}
    for half in ("dev", "heldout"):
        rows = [r for r in all_rows.values() if r.half == half]
        out[half] = _figures(rows)
        if half == "heldout":  # counts only: which held-out configs miss is not shown to anyone tuning check
            out[half] = {k: len(v) if isinstance(v, list) and k not in ("check_agree", "fix_delivers") else v
                         for k, v in out[half].items()}
            continue
        out[half]["rows"] = {r.run: {"check": r.said, "real": r.real, "agree": r.agree, "exit": r.exit_code,
                                     "fixable": r.fixable, "fix_delivers": r.fix_delivers,
                                     "fix_claimed": r.fix_claimed, "notes": r.notes} for r in rows}
    report.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps({h: {k: v for k, v in o.items() if k != "rows"} for h, o in out.items()}))
    return out


def run_half(cell: dict[str, Any], runner: str, lab: LabInfo, tmp_path: Path, other_ca: str,
             monkeypatch: pytest.MonkeyPatch, rows: dict[str, Row], locks: dict[str, Any], tag: str) -> None:
    """run_cell for a later matrix: a held-out config that breaks the run fails without a traceback, so no text
    or outcome of it is shown to anyone tuning check."""
    if cell["half"] == "dev":
        run_cell(cell, runner, lab, tmp_path, other_ca, monkeypatch, rows, locks, tag)
        return
    broke = False
    try:
        run_cell(cell, runner, lab, tmp_path, other_ca, monkeypatch, rows, locks, tag)
    except Exception:  # pytest's skip is a BaseException and passes through
        broke = True
    if broke:
        pytest.fail("a held-out config broke the run (an assertion or an error; details withheld)", pytrace=False)


def report_and_floors(rows: dict[str, Row], report: Path, doc: dict[str, Any], cells: Path) -> None:
    """A later matrix's summary: the report written, the dev half's disagreements printed (never the held-out
    half's), and the run held to the file's [measured.*] floors."""
    out = summarise(rows, report)
    for run, row in out["dev"]["rows"].items():
        if not row["agree"]:
            print(f"dev disagreement {run}: check said {row['check']}, the framework: {row['real']}")
    if "measured" not in doc:
        pytest.fail(f"no [measured.*] floors in {cells} yet: record this first run's figures")
    assert_floors(out, doc["measured"])


def assert_floors(out: dict[str, Any], measured: dict[str, Any]) -> None:
    """A run does no worse than the recorded [measured.*] floors (rates for agreement and fix delivery)."""
    for half, o in out.items():
        floor = measured[half]
        agree, n = o["check_agree"]
        shown = {k: v for k, v in o.items() if k != "rows"}
        if n and o["runs"] == floor["runs"]:  # a partial run (a runtime missing) proves nothing either way
            assert agree * floor["check_agree"][1] >= floor["check_agree"][0] * n, (half, shown)
            delivers, fixes = o["fix_delivers"]
            assert delivers * max(floor["fix_delivers"][1], 1) >= floor["fix_delivers"][0] * fixes, (half, shown)
        for key in ("false_delivered", "false_fix_claims", "unsafe_fixes", "clear_login_fixes", "exit_mismatches"):
            count = o[key] if isinstance(o[key], int) else len(o[key])
            assert count <= floor[key], (half, key, o[key])
