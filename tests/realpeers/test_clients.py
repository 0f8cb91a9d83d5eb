"""Real clients in every wrong configuration against real Postfix and Exim: what happened vs smtp-doctor.

Each cell (server, client, scenario) is run once per session by capture.run_matrix (a real client
process against a real server on loopback, bounded by capture.KILL_AFTER). Per cell this module asserts:
the real outcome is the one the scenario must produce (a delivery really landed in the mailbox; a bad
configuration really failed), and ``smtp-doctor explain --json`` names the failure mode the scenario
is (or the generic mode of that family when the client's text carries no detail). The fixtures in
tests/fixtures/realpeers/ must match what the clients print today, and docs/compatibility.md is written
from the results (never by hand).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from smtp_doctor.explain import explain, load
from smtp_doctor.explain.render import explanation_dict

from . import capture
from .capture import CLIENTS, SCENARIOS, SERVERS, Record
from .peers import RealPeer

# The whole matrix runs in the setup of the first cell: give it room beyond the suite's 120 s default.
pytestmark = pytest.mark.timeout(300)

DOC = capture.ROOT / "docs" / "compatibility.md"
UPDATE = bool(os.environ.get("SMTP_DOCTOR_UPDATE_FIXTURES"))

# What each scenario must end in, per server: "delivered" or the failure mode (knowledge/errors.toml).
EXPECTED: dict[str, dict[str, str]] = {
    "starttls_ok": {"postfix": "delivered", "exim": "delivered"},
    "implicit_ok": {"postfix": "delivered", "exim": "cert_expired"},  # Exim's 465-style port: expired cert
    "implicit_on_587": {"postfix": "implicit_tls_on_plain_port", "exim": "implicit_tls_on_plain_port"},
    "starttls_on_465": {"postfix": "plain_on_implicit_port", "exim": "plain_on_implicit_port"},
    "no_ca": {"postfix": "cert_unknown_issuer", "exim": "cert_unknown_issuer"},
    "wrong_host": {"postfix": "cert_hostname_mismatch", "exim": "cert_hostname_mismatch"},
    "bad_password": {"postfix": "auth_bad_credentials", "exim": "auth_bad_credentials"},
    # Postfix: AUTH only after STARTTLS. Exim: AUTH in clear is accepted, so a TLS-less client succeeds.
    "tls_off": {"postfix": "starttls_required", "exim": "delivered"},
    "plaintext_port": {"exim-plain": "starttls_not_offered"},
}

# Where a client really behaves otherwise than the scenario suggests (found by this tier; the fixtures
# show the texts). (client, scenario, server or "*") -> (expected, why).
CLIENT_BEHAVIOUR: dict[tuple[str, str, str], tuple[str, str]] = {
    ("swaks", "wrong_host", "*"): (
        "delivered", "swaks 20201014 --tls-verify checks the chain but not the host name"),
    ("actionmailer", "tls_off", "*"): (
        "cert_unknown_issuer", "ActionMailer 6.1 / mail 2.7.1 with net-smtp 0.3: enable_starttls_auto: false does not "
        "switch STARTTLS off (net-smtp's own default is :auto), and that STARTTLS uses net-smtp's default context, "
        "without smtp_settings' ca_file"),
    ("msmtp", "tls_off", "exim"): (
        "starttls_required", "msmtp will not send PLAIN/LOGIN without TLS, although Exim offers them in clear"),
}

# Cells where smtp-doctor's explain does not (yet) name the right mode. Kept visible: each is an xfail
# that turns into a failure the day explain gets it right (strict), and each is in the report.
# Cells where `smtp-doctor check` predicts otherwise than the real client did (strict xfails, reported).
KNOWN_CHECK_GAPS: dict[tuple[str, str, str], str] = {
}
KNOWN_GAPS: dict[tuple[str, str, str], str] = {
}


def expected(server: str, client: str, scenario: str) -> tuple[str, str]:
    """(expected outcome or mode, why it differs from the scenario's default or "")."""
    for key in ((client, scenario, server), (client, scenario, "*")):
        if key in CLIENT_BEHAVIOUR:
            return CLIENT_BEHAVIOUR[key]
    return EXPECTED[scenario][server], ""


def cells() -> list[tuple[str, str, str]]:
    """Every (server, client, scenario) the matrix defines."""
    return [(server, c.id, s.id) for s in SCENARIOS for server in s.servers for c in CLIENTS]


# --- running the matrix once per session -------------------------------------------------------------

@dataclass
class Verdict:
    best: str | None  #: explain's best failure mode
    alternatives: list[str]
    agreement: str  #: "delivered", "exact", "generic", "alternative", "wrong", "unrecognised", "unexpected"


@dataclass
class Matrix:
    records: dict[tuple[str, str, str], Record]
    verdicts: dict[tuple[str, str, str], Verdict]
    checks: dict[tuple[str, str, str], Verdict]  #: only for clients whose configuration check reads
    peers: dict[str, RealPeer]
    seconds: float


def _explain_json(text: str) -> dict[str, object]:
    """What ``smtp-doctor explain - --json`` prints for the text (same engine and renderer, in-process:
    the CLI costs 0.7 s of start-up per text; test_cli_agrees_with_engine runs the real CLI on a sample)."""
    return dict(explanation_dict(explain(text), None, None))


def _explain_cli(text: str) -> dict[str, object]:
    """``smtp-doctor explain - --json`` on the text, as a user would run it."""
    done = subprocess.run([sys.executable, "-m", "smtp_doctor", "explain", "-", "--json"], input=text,
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode not in (0, 1):
        raise AssertionError(f"smtp-doctor explain exited {done.returncode}: {done.stderr[-500:]}")
    return dict(json.loads(done.stdout))


def judge(rec: Record, want: str, out: dict[str, object] | None) -> Verdict:
    """How smtp-doctor's verdict compares with what the scenario is."""
    if rec.outcome == "delivered":
        return Verdict(None, [], "delivered" if want == "delivered" else "unexpected")
    if want == "delivered" or out is None:
        return Verdict(None, [], "unexpected")
    modes = load().modes
    best = out.get("best")
    raw = out.get("matches")
    matches = [m for m in raw if isinstance(m, dict)] if isinstance(raw, list) else []
    alternatives = [str(m["id"]) for m in matches if m.get("id") != best]
    if best is None:
        return Verdict(None, alternatives, "unrecognised")
    best = str(best)
    if best == want:
        agreement = "exact"
    elif modes[best].generic and modes[best].category == modes[want].category:
        agreement = "generic"  # e.g. "certificate verify failed" with no reason: the family is right
    elif best == "greeting_timeout" and want == "plain_on_implicit_port" and want in alternatives:
        agreement = "generic"  # the text names no port or setting: both causes named, --probe decides (issue 11)
    elif want in alternatives:
        agreement = "alternative"
    else:
        agreement = "wrong"
    return Verdict(best, alternatives, agreement)


def judge_check(pred: dict[str, object], want: str) -> Verdict:
    """How `smtp-doctor check`'s prediction for the client's configuration compares with what happened."""
    modes = load().modes
    verdict, failure = pred.get("verdict"), pred.get("failure")
    best = str(failure) if failure else str(verdict)
    if want == "delivered":
        return Verdict(best, [], "exact" if verdict == "delivered" else "wrong")
    if verdict == "fails" and failure == want:
        return Verdict(best, [], "exact")
    if verdict == "fails" and isinstance(failure, str) and failure in modes and modes[failure].generic \
            and modes[failure].category == modes[want].category:
        return Verdict(best, [], "generic")
    if verdict == "delivered" and want == "auth_bad_credentials":
        return Verdict(best, [], "untested")  # check does not try the password: it cannot know it is wrong
    return Verdict(best, [], "wrong")


@pytest.fixture(scope="session")
def matrix(postfix_peer: RealPeer, exim_peer: RealPeer, exim_plain_peer: RealPeer) -> Matrix:
    import time

    t0 = time.monotonic()
    peers = {"postfix": postfix_peer, "exim": exim_peer, "exim-plain": exim_plain_peer}
    records = {r.key: r for r in capture.run_matrix(peers)}
    errors = [r for r in records.values() if r.outcome != "delivered"]
    outs = {r.key: _explain_json(r.text) for r in errors}
    verdicts = {key: judge(rec, expected(*key)[0], outs.get(key)) for key, rec in records.items()}
    checks = {key: judge_check(rec.check, expected(*key)[0]) for key, rec in records.items() if rec.check}
    return Matrix(records, verdicts, checks, peers, time.monotonic() - t0)


# --- per cell ------------------------------------------------------------------------------------------

RESULTS: dict[tuple[str, str, str], tuple[Record, Verdict, str, str]] = {}


@pytest.mark.parametrize("cell", cells(), ids=lambda c: "-".join(c))
def test_cell(cell: tuple[str, str, str], matrix: Matrix) -> None:
    rec, verdict = matrix.records[cell], matrix.verdicts[cell]
    want, why = expected(*cell)
    RESULTS[cell] = (rec, verdict, want, why)
    shown = f"{rec.outcome} after {rec.seconds} s; text:\n{rec.text[-1500:]}"
    if want == "delivered":
        assert rec.outcome == "delivered", f"{cell}: expected a delivery, got {shown}"
        return
    assert rec.outcome in ("error", "timed out"), f"{cell}: expected a failure ({want}), got {shown}"
    ok = verdict.agreement in ("exact", "generic")
    if cell in KNOWN_GAPS:
        assert not ok, f"{cell}: explain now agrees ({verdict.best}); remove it from KNOWN_GAPS"
        pytest.xfail(f"known gap: {KNOWN_GAPS[cell]}")
    assert ok, (f"{cell}: smtp-doctor explain says {verdict.best} (alternatives {verdict.alternatives}), "
                f"the scenario is {want}; the client printed ({rec.outcome}):\n{rec.text[-1500:]}")


CHECK_CELLS = [c for c in cells() if c[1] in capture.CHECK_CONFIGS]
CHECKED: dict[tuple[str, str, str], Verdict] = {}


@pytest.mark.parametrize("cell", CHECK_CELLS, ids=lambda c: "-".join(c))
def test_check_predicted(cell: tuple[str, str, str], matrix: Matrix) -> None:
    """`smtp-doctor check` on the same configuration (msmtprc, mailer.js, production.rb) predicted this."""
    rec, verdict = matrix.records[cell], matrix.checks[cell]
    CHECKED[cell] = verdict
    want, _ = expected(*cell)
    assert rec.check is not None
    said = f"check says {rec.check.get('verdict')}/{rec.check.get('failure')} ({rec.check.get('why')})"
    if verdict.agreement == "untested":
        assert rec.check.get("verdict") == "delivered", said  # and says the password was not tried
        return
    ok = verdict.agreement in ("exact", "generic")
    if cell in KNOWN_CHECK_GAPS:
        assert not ok, f"{cell}: check now agrees; remove it from KNOWN_CHECK_GAPS"
        pytest.xfail(f"known check gap: {KNOWN_CHECK_GAPS[cell]}")
    assert ok, f"{cell}: real outcome {rec.outcome} ({want}); {said}"


def test_cli_agrees_with_engine(matrix: Matrix) -> None:
    """The real `smtp-doctor explain - --json`, on one failing text per client and scenario kind."""
    sample: dict[tuple[str, str], Record] = {}
    for rec in matrix.records.values():
        if rec.outcome != "delivered":
            sample.setdefault((rec.client, rec.scenario), rec)
    picked = list(sample.values())[::4]  # a spread over clients and scenarios, bounded in cost
    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = list(pool.map(lambda r: _explain_cli(r.text), picked))
    assert len(picked) >= 10
    for rec, out in zip(picked, outs, strict=True):
        assert out["best"] == _explain_json(rec.text)["best"], rec.key


def test_no_secret_in_captured_texts(matrix: Matrix) -> None:
    """The texts go into fixtures and docs: the test user's real password must never be in them."""
    from smtp_doctor.credentials import wire_forms

    for rec in matrix.records.values():
        peer = matrix.peers[rec.server]
        leaked = [f for f in wire_forms(peer.user, peer.password) if len(f) >= 6 and f in rec.text]
        assert not leaked, f"{rec.key}: secret in the captured text"


def test_every_run_was_bounded(matrix: Matrix) -> None:
    """A client that hangs is killed at KILL_AFTER and recorded as timed out, never waited for."""
    for rec in matrix.records.values():
        assert rec.seconds < capture.KILL_AFTER + 2, rec.key
        assert (rec.exit_code is None) == (rec.outcome == "timed out"), rec.key


# --- fixtures stay true --------------------------------------------------------------------------------

@pytest.mark.parametrize("client", [c.id for c in CLIENTS])
def test_fixture_matches_todays_client(client: str, matrix: Matrix) -> None:
    """tests/fixtures/realpeers/<client>.json holds what the client printed when it was captured; today's
    client must MEAN the same: same cells, same outcome, and explain names the same failure mode for today's
    text as for the stored one. The words may differ (another patch release of PHP, OpenSSL or Node words it
    otherwise): that must not fail the suite unless explain gets the new words wrong.

    Refresh with SMTP_DOCTOR_UPDATE_FIXTURES=1 (or `python -m tests.realpeers.capture --write` as root).
    """
    cl = next(c for c in CLIENTS if c.id == client)
    records = [r for r in matrix.records.values() if r.client == client]
    ports = {key: sorted(p.ports.values()) for key, p in matrix.peers.items()}
    fresh = capture.fixture_doc(cl, records, ports)
    path = capture.fixture_path(client)
    if UPDATE or not path.exists():
        capture.write_fixture(path, fresh)
        if not UPDATE:
            pytest.fail(f"{path} did not exist; written now: review and commit it")
        return
    stored = json.loads(path.read_text())
    hint = "(refresh: SMTP_DOCTOR_UPDATE_FIXTURES=1 .venv/bin/pytest tests/realpeers/test_clients.py)"
    hint = f"({client} {stored['version']} in the fixture, {fresh['version']} today) {hint}"
    old = {(c["server"], c["scenario"]): c for c in stored["cases"]}
    cases = fresh["cases"]
    assert isinstance(cases, list)
    new = {(c["server"], c["scenario"]): c for c in cases}
    assert old.keys() == new.keys(), hint
    for key, case in new.items():
        assert old[key]["outcome"] == case["outcome"], f"{client} {key}: outcome changed {hint}"
        if case["outcome"] == "delivered":
            continue
        then, now = explain(old[key]["text"]), explain(case["text"])
        said_then = then.best.mode.id if then.best else None
        said_now = now.best.mode.id if now.best else None
        assert said_then == said_now, (
            f"{client} {key}: explain said {said_then} for the stored text, {said_now} for today's {hint}:\n"
            f"{case['text'][-1500:]}")


# --- docs/compatibility.md -----------------------------------------------------------------------------

MARK = {"delivered": "✓", "exact": "✓", "generic": "✓ (family)", "alternative": "✗ (as alternative)",
        "wrong": "✗", "unrecognised": "✗ (not recognised)", "unexpected": "✗ (unexpected outcome)",
        "untested": "○ (password not tried)"}


def _cell_text(rec: Record, verdict: Verdict, why: str, check: Verdict | None) -> str:
    """"delivered" (found in the mailbox) or "<outcome> → `<explain's mode>`", the mark, † = see notes;
    then what `check` predicted for the same configuration, where check reads that client's config."""
    said = "delivered" if rec.outcome == "delivered" else f"{rec.outcome} → `{verdict.best or '—'}`"
    text = f"{said} {MARK[verdict.agreement]}" + (" †" if why else "")
    if check is not None:
        text += f"<br>check: `{check.best}` {MARK[check.agreement]}"
    return text


def render(results: dict[tuple[str, str, str], tuple[Record, Verdict, str, str]],
           checked: dict[tuple[str, str, str], Verdict]) -> str:
    versions = {r.client: r.client_version for r, *_ in results.values()}
    servers = {r.server: r.server_version for r, *_ in results.values()}
    counts: dict[str, int] = {}
    for _, verdict, *_ in results.values():
        counts[verdict.agreement] = counts.get(verdict.agreement, 0) + 1
    agree = sum(counts.get(k, 0) for k in ("delivered", "exact", "generic"))
    check_counts: dict[str, int] = {}
    for v in checked.values():
        check_counts[v.agreement] = check_counts.get(v.agreement, 0) + 1
    check_agree = sum(check_counts.get(k, 0) for k in ("exact", "generic"))
    lines = [
        "# Compatibility: real clients × real servers × wrong configurations",
        "",
        "<!-- GENERATED by tests/realpeers/test_clients.py on every run of the real-peer tier. Do not edit. -->",
        "",
        "Every cell is one real client process run against one real server on 127.0.0.1 (see",
        "docs/dev/realpeers.md), bounded to "
        f"{capture.KILL_AFTER:g} s. The cell shows what really happened and the failure mode",
        "`smtp-doctor explain` gives for the client's own error text (\"delivered\" = found in the",
        "recipient's mailbox); ✓ = the mode the scenario is",
        "(\"family\": the client's text names no reason, smtp-doctor names the generic mode of the right family",
        "and sends you to `probe`), ✗ = disagreement (listed under Gaps). The captured texts are in",
        "tests/fixtures/realpeers/<client>.json.",
        "",
        "`check:` (msmtp, nodemailer, ActionMailer: the clients whose configuration `smtp-doctor check` reads)",
        "is what `smtp-doctor check` predicted, before any mail was sent, for the same configuration written",
        "as the app would write it (msmtprc, mailer.js, config/environments/production.rb); ○ = check does",
        "not try the password, so it cannot foresee a wrong one.",
        "",
        f"**explain: {agree} of {len(results)} cells agree** "
        + "(" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + ").",
        "",
        f"**check: {check_agree} of {len(checked)} predictions agree** "
        + "(" + ", ".join(f"{k}: {v}" for k, v in sorted(check_counts.items())) + ").",
        "",
        "Servers: " + "; ".join(f"{SERVERS[k][0]} = {v}" for k, v in sorted(servers.items())) + ".",
        "",
        "Clients: " + "; ".join(f"{c.name}: {versions[c.id]}" for c in CLIENTS if c.id in versions) + ".",
        "",
        "Scenarios: " + "; ".join(f"`{s.id}` = {s.title}" for s in SCENARIOS) + ".",
        "",
    ]
    for server, (title, _) in SERVERS.items():
        scen = [s for s in SCENARIOS if server in s.servers]
        if not scen:
            continue
        lines += [f"## {title} ({servers.get(server, '?')})", "",
                  "| client | " + " | ".join(f"`{s.id}`" for s in scen) + " |",
                  "|---|" + "---|" * len(scen)]
        lines += ["| expected | " + " | ".join(
            "delivered" if EXPECTED[s.id][server] == "delivered" else f"`{EXPECTED[s.id][server]}`"
            for s in scen) + " |"]
        for c in CLIENTS:
            row = []
            for s in scen:
                rec, verdict, _, why = results[(server, c.id, s.id)]
                row.append(_cell_text(rec, verdict, why, checked.get((server, c.id, s.id))))
            lines.append(f"| {c.name} | " + " | ".join(row) + " |")
        lines.append("")
    notes = [(k, v) for k, v in results.items() if v[3]]
    if notes:
        lines += ["## † Where a client behaves otherwise (the cell's expectation differs from the row above)", ""]
        seen = set()
        for (_server, client, scenario), (_, _, want, why) in notes:
            if (client, scenario, why) in seen:
                continue
            seen.add((client, scenario, why))
            lines.append(f"- {client}, `{scenario}`: expected `{want}`. {why}.")
        lines.append("")
    gaps = [(k, v) for k, v in results.items() if v[1].agreement not in ("delivered", "exact", "generic")]
    lines += ["## Gaps", ""]
    if not gaps:
        lines.append("None: smtp-doctor's verdict agrees in every cell.")
    for (server, client, scenario), (_rec, verdict, want, _) in gaps:
        why = KNOWN_GAPS.get((server, client, scenario), "")
        lines.append(f"- explain, {SERVERS[server][0]} / {client} / `{scenario}`: explain says `{verdict.best}`, "
                     f"the scenario is `{want}`. {why}".rstrip())
    for (server, client, scenario), v in checked.items():
        if v.agreement in ("exact", "generic", "untested"):
            continue
        why = KNOWN_CHECK_GAPS.get((server, client, scenario), "")
        lines.append(f"- check, {SERVERS[server][0]} / {client} / `{scenario}`: check predicts `{v.best}`, the client "
                     f"really ended in `{results[(server, client, scenario)][2]}`. {why}".rstrip())
    lines.append("")
    return "\n".join(lines)


def test_zz_compatibility_doc(matrix: Matrix) -> None:
    """Writes docs/compatibility.md from this run's cell results; fails if any cell lacks a test result.

    Runs last in this module (pytest keeps definition order), after every test_cell.
    """
    missing = [c for c in cells() if c not in RESULTS] + [c for c in CHECK_CELLS if c not in CHECKED]
    if not RESULTS:
        pytest.skip("no cell was run in this session (selected subset)")
    assert not missing, f"cells without a test result: {missing}"
    extra = set(RESULTS) - set(cells())
    assert not extra, f"results for cells the matrix does not define: {extra}"
    assert set(matrix.records) == set(cells()), "the run and the matrix definition disagree"
    text = render(RESULTS, CHECKED)
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith(("| expected",
                                                                                                   "| client"))]
    body = [cell for row in rows for cell in row.strip("| ").split(" | ")[1:]]
    assert len(body) == len(cells()), "every defined cell appears in the table exactly once"
    assert sum("<br>check:" in cell for cell in body) == len(CHECK_CELLS), "every check prediction is shown"
    DOC.write_text(text)
