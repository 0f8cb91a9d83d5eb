"""How explain does on the corpus (cases.json): top-1 failure mode with the right client's fix, per part.

Shared by tests/test_explain_corpus.py (the assertions) and bench/explain_log.py (the printed figure), so
the figure in docs/explain.md, the benchmark output and the test are the same computation.

A case counts when the client printed something to paste: a bare success line ("sent", "DELIVERED") or
nothing at all (a client killed while it waited) is not a text anyone can explain, and is reported as
"not pasteable". A case is right when explain's answer is the scenario's mode (or one of the modes its
scenario declares indistinguishable by text, capture.Scenario.accept), "no failure" for a session that
worked, AND every framework fix it shows belongs to the client that printed the text.

Some clients print the very same bytes for different failures (PHP's "certificate verify failed" for an
expired, a self-signed and an untrusted certificate alike; PHPMailer's "Could not connect to SMTP host" for a
refused port and a 421). No reader of the text can tell those apart, so the corpus itself says which cases
are ambiguous: a case whose text the same variant also printed in a scenario with another truth. For such a
case any truth of that group is right, and so is a generic mode (errors.toml ``generic = true``) whose
``also_consider`` names every truth of the group -- the answer that says "one of these; --probe decides".
"The same text" is compared without what no real log carries as evidence: timestamps, runs of 4+ digits (queue and
message ids, pids), the lab's banner (it
names the lab server's scenario; a real server's does not) and lines of TLS bytes a client printed as text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from smtp_doctor.explain import explain
from smtp_doctor.explain.knowledge import Mode, load
from smtp_doctor.explain.render import fixes

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.json"
CASES_2 = HERE / "cases2.json"  #: the second corpus: scenarios nobody looked at while building; all held out
SPLIT = HERE / "split.json"
CASES_3 = HERE / "cases3.json"  #: the third corpus, split once by third_is_held_out()
CASES_4 = HERE / "cases4.json"  #: corpus 4 (real Postfix, Exim, Dovecot wordings), split by fourth_is_held_out()
CORPORA = (CASES, CASES_2, CASES_3, CASES_4)
NOT_PASTEABLE = ("", "sent", "DELIVERED")
#: the framework fix columns that belong to each client family (explain.fix.<group>.<framework>)
CLIENT_FIXES: dict[str, frozenset[str]] = {
    "smtplib": frozenset({"smtplib", "django"}), "aiosmtplib": frozenset({"smtplib", "django"}),
    "django": frozenset({"smtplib", "django"}), "ruby": frozenset({"actionmailer", "mastodon", "gitlab"}),
    "actionmailer": frozenset({"actionmailer", "mastodon", "gitlab"}), "nodemailer": frozenset({"nodemailer"}),
    "php": frozenset({"phpmailer", "symfony"}), "phpmailer": frozenset({"phpmailer", "symfony"}),
    "go": frozenset({"go"}), "jakarta": frozenset({"jakarta"}),
    "curl": frozenset(), "swaks": frozenset(), "msmtp": frozenset(), "openssl": frozenset(),
    # corpus 3's new families: another library of the same language gets that language's columns, as
    # aiosmtplib does (the symfony column is "Symfony Mailer / Laravel"); Perl and s-nail have none
    "flask": frozenset({"smtplib", "django"}), "emailjs": frozenset({"nodemailer"}),
    "symfony": frozenset({"phpmailer", "symfony"}), "laravel": frozenset({"phpmailer", "symfony"}),
    "perl": frozenset(), "mailx": frozenset(),
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


def _truths(case: dict[str, object]) -> set[str]:
    return {str(case["expect"]), *(str(a) for a in case.get("accept", []))}  # type: ignore[attr-defined]


_STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?|\b\d\d:\d\d:\d\d(?:\.\d+)?")
#: queue/message ids, pids, addresses: not evidence. Postfix queue ids are 10-12 hex digits, Exim's message ids
#: three base-62 parts ("1xVvcU-0zd-2N"), a Message-ID header random (the last two added with corpus 4)
_LONG_NUMBER = re.compile(r"0x[0-9a-fA-F]+|\b[0-9A-F]{8,}\b|[0-9A-F]{12,}|\d{4,}"
                          r"|\b[0-9A-Za-z]{6}-[0-9A-Za-z]{2,6}-[0-9A-Za-z]{2,4}\b|<[^<>@\s]+@[^<>\s]+>")
_LAB_BANNER = re.compile(r"smtp-doctor lab \([^)\n]*\)")


def same_text_key(text: str) -> str:
    """The text as evidence: timestamps, the lab banner's scenario name and binary lines taken out."""
    text = _LAB_BANNER.sub("smtp-doctor lab", _STAMP.sub("T", text))
    return _LONG_NUMBER.sub("0", "\n".join(ln for ln in text.splitlines() if ln.isascii()))


def ambiguity(cases: list[dict[str, object]]) -> dict[tuple[str, str], set[str]]:
    """(variant, text) -> every truth the same variant printed that exact text for."""
    groups: dict[tuple[str, str], set[str]] = {}
    for c in cases:
        groups.setdefault((str(c["variant"]), same_text_key(str(c["text"]))), set()).update(_truths(c))
    return groups


def accepted(case: dict[str, object], groups: dict[tuple[str, str], set[str]]) -> set[str]:
    """The answers that are right for ``case``: its own truths, widened to its ambiguity group's."""
    own = _truths(case)
    group = groups.get((str(case["variant"]), same_text_key(str(case["text"]))), own)
    if group == own:
        return own
    generic = {m.id for m in _modes().values()
               if m.generic and group <= {m.id, *m.also_consider}}
    return group | generic


def _modes() -> dict[str, Mode]:
    return load().modes


def all_cases() -> list[dict[str, object]]:
    """Every stored case of every corpus: a variant that printed one text for two truths anywhere makes it
    ambiguous everywhere."""
    out: list[dict[str, object]] = []
    for path in CORPORA:
        if path.exists():
            out += json.loads(path.read_text(encoding="utf-8"))["cases"]
    return out


def judge(case: dict[str, object], groups: dict[tuple[str, str], set[str]] | None = None
          ) -> tuple[bool, bool, str]:
    """(mode right, fix lines right, what explain said) for one case."""
    exp = explain(str(case["text"]))
    said = exp.best.mode.id if exp.best else "none"
    mode_ok = said in (accepted(case, groups) if groups is not None else _truths(case))
    fix_ok = True
    if exp.best is not None:
        _, shown = fixes(exp.best, exp.fields.frameworks)
        fix_ok = {fw for fw, _ in shown} <= CLIENT_FIXES.get(str(case["client"]), frozenset())
    return mode_ok, fix_ok, said


def third_is_held_out(scenario: str, client: str) -> bool:
    """Corpus 3's split, made once before anyone read its texts: sha256('<scenario>|<client>') even -> held out.
    Every variant (verbosity, version) of one client in one scenario falls on the same side."""
    return int(hashlib.sha256(f"{scenario}|{client}".encode()).hexdigest(), 16) % 2 == 0


def fourth_is_held_out(scenario: str, client: str) -> bool:
    """Corpus 4's split, made once before anyone read its texts: sha256('4|<scenario>|<client>') even -> held
    out. By scenario and client, not server: a held-out pair is unseen on every server, every version."""
    return int(hashlib.sha256(f"4|{scenario}|{client}".encode()).hexdigest(), 16) % 2 == 0


def score(part: str) -> Score:
    """``part``: "dev" or "held_out" (corpus 1), "second" (all of corpus 2), or "third_dev" / "third_held_out"
    (corpus 3), "fourth_dev" / "fourth_held_out" (corpus 4, the one whose held-out half is reported for
    issue 11)."""
    if part == "second":
        cases: list[dict[str, object]] = json.loads(CASES_2.read_text(encoding="utf-8"))["cases"]
        held: set[tuple[str, str]] = {(str(c["scenario"]), str(c["client"])) for c in cases}
        part_of = "held_out"
    elif part.startswith(("third_", "fourth_")):
        nth, part_of = part.split("_", 1)
        path, held_out = (CASES_3, third_is_held_out) if nth == "third" else (CASES_4, fourth_is_held_out)
        cases = json.loads(path.read_text(encoding="utf-8"))["cases"] if path.exists() else []
        held = {(str(c["scenario"]), str(c["client"])) for c in cases
                if held_out(str(c["scenario"]), str(c["client"]))}
    else:
        cases, held = load_cases()
        part_of = part
    s = Score(part)
    groups = ambiguity(all_cases())
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
        mode_ok, fix_ok, said = judge(case, groups)
        s.right_mode += mode_ok
        if mode_ok and fix_ok:
            s.right += 1
            s.right_by_scenario[str(case["scenario"])] += 1
        else:
            s.wrong.append((str(case["scenario"]), str(case["variant"]), str(case["expect"]),
                            said + ("" if fix_ok else " (another client's fix)")))
    return s
