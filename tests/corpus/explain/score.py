"""How explain does on the corpus (cases.json): top-1 failure mode with the right client's fix, per part.

Shared by tests/test_explain_corpus.py (the assertions) and bench/explain_log.py (the printed figure), so
the figure in docs/explain.md, the benchmark output and the test are the same computation.

A case counts when the client printed something to paste: a bare success line ("sent", "DELIVERED") or
nothing at all (a client killed while it waited) is not a text anyone can explain, and is reported as
"not pasteable". A case is right when explain's answer is the scenario's mode (or one of the modes its
scenario declares indistinguishable by text, capture.Scenario.accept), "no failure" for a session that
worked, AND every framework fix it shows belongs to the client that printed the text.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from smtp_doctor.explain import explain
from smtp_doctor.explain.render import fixes

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.json"
CASES_2 = HERE / "cases2.json"  #: the second corpus: scenarios nobody looked at while building; all held out
SPLIT = HERE / "split.json"
NOT_PASTEABLE = ("", "sent", "DELIVERED")
#: the framework fix columns that belong to each client family (explain.fix.<group>.<framework>)
CLIENT_FIXES: dict[str, frozenset[str]] = {
    "smtplib": frozenset({"smtplib", "django"}), "aiosmtplib": frozenset({"smtplib", "django"}),
    "django": frozenset({"smtplib", "django"}), "ruby": frozenset({"actionmailer", "mastodon", "gitlab"}),
    "actionmailer": frozenset({"actionmailer", "mastodon", "gitlab"}), "nodemailer": frozenset({"nodemailer"}),
    "php": frozenset({"phpmailer", "symfony"}), "phpmailer": frozenset({"phpmailer", "symfony"}),
    "go": frozenset({"go"}), "jakarta": frozenset({"jakarta"}),
    "curl": frozenset(), "swaks": frozenset(), "msmtp": frozenset(), "openssl": frozenset(),
}


@dataclass
class Score:
    part: str
    cases: int = 0
    right: int = 0
    right_mode: int = 0  #: the mode right, whatever fix lines were shown
    not_pasteable: int = 0
    clients: set[str] = field(default_factory=set)
    scenarios: set[str] = field(default_factory=set)
    wrong: list[tuple[str, str, str, str]] = field(default_factory=list)  #: scenario, variant, expected, said
    by_scenario: Counter[str] = field(default_factory=Counter)
    right_by_scenario: Counter[str] = field(default_factory=Counter)

    @property
    def ratio(self) -> float:
        return self.right / self.cases if self.cases else 0.0


def load_cases() -> tuple[list[dict[str, object]], set[tuple[str, str]]]:
    cases = json.loads(CASES.read_text(encoding="utf-8"))["cases"]
    held = {(str(a), str(b)) for a, b in json.loads(SPLIT.read_text(encoding="utf-8"))["held_out"]}
    return cases, held


def judge(case: dict[str, object]) -> tuple[bool, bool, str]:
    """(mode right, fix lines right, what explain said) for one case."""
    exp = explain(str(case["text"]))
    said = exp.best.mode.id if exp.best else "none"
    mode_ok = said in {str(case["expect"]), *(str(a) for a in case.get("accept", []))}  # type: ignore[union-attr]
    fix_ok = True
    if exp.best is not None:
        _, shown = fixes(exp.best, exp.fields.frameworks)
        fix_ok = {fw for fw, _ in shown} <= CLIENT_FIXES.get(str(case["client"]), frozenset())
    return mode_ok, fix_ok, said


def score(part: str) -> Score:
    """``part``: "dev" or "held_out" (corpus 1), or "second" (all of corpus 2)."""
    if part == "second":
        cases: list[dict[str, object]] = json.loads(CASES_2.read_text(encoding="utf-8"))["cases"]
        held: set[tuple[str, str]] = {(str(c["scenario"]), str(c["client"])) for c in cases}
        part_of = "held_out"
    else:
        cases, held = load_cases()
        part_of = part
    s = Score(part)
    for case in cases:
        if ((str(case["scenario"]), str(case["client"])) in held) != (part_of == "held_out"):
            continue
        if str(case["text"]).strip() in NOT_PASTEABLE:
            s.not_pasteable += 1
            continue
        s.cases += 1
        s.clients.add(str(case["client"]))
        s.scenarios.add(str(case["scenario"]))
        s.by_scenario[str(case["scenario"])] += 1
        mode_ok, fix_ok, said = judge(case)
        s.right_mode += mode_ok
        if mode_ok and fix_ok:
            s.right += 1
            s.right_by_scenario[str(case["scenario"])] += 1
        else:
            s.wrong.append((str(case["scenario"]), str(case["variant"]), str(case["expect"]),
                            said + ("" if fix_ok else " (another client's fix)")))
    return s
