"""explain on real client output it was not written from: the corpus of tests/corpus/explain/ (real clients
against the lab in every scenario, at every verbosity), split once by (scenario, client) into a dev part and
a held-out part that is never tuned on (split.json). What is asserted is MEANING: the failure mode explain
names and the client whose fix lines it shows, never the bytes a client version prints.
"""

from __future__ import annotations

import hashlib
import json

from corpus.explain.score import CASES, SPLIT, load_cases, score

#: Measured on 2026-11-24 (docs/explain.md). A lower figure is a regression; raise them as explain improves.
#: Corpus 1 and 2 have both been read while tuning since their first figures (82.6 % and 81.0 %): they are
#: development data now, and so is corpus 3 (its held-out half was measured once: 92.3 %). The held-out figure of
#: issue 11 is corpus 4's held-out half (FOURTH_HELD_OUT_FLOOR).
DEV_FLOOR = 0.96  # 202/209
HELD_OUT_FLOOR = 0.96  # 111/115 (read since its first measurement, 95/115)
SECOND_FLOOR = 0.98  # 172/174 (read since its first measurement, 141/174)
#: Corpus 3 (cases3.json, 18 client families, 28 scenarios), split once by score.third_is_held_out. Its held-out
#: half was measured once, at 317c589, after the last tuning on its dev half: 360/390 = 92.3 % (issue 11 asks
#: 95 %: not reached). Nothing has been tuned on it since; a clean figure again needs a new, larger corpus.
THIRD_DEV_FLOOR = 0.96  # 392/406
THIRD_HELD_OUT_FLOOR = 0.92  # 360/390
#: Corpus 4 (cases4.json, 1,901 runs: real Postfix 3.7, Exim 4.96 and Dovecot 2.3 wordings plus the lab, 20
#: families), split once by score.fourth_is_held_out before any of it was scored. Held-out half: 726/785 = 92.5 %
#: untouched (at 221986e, the split's commit); after tuning on the dev half only, measured once: 752/785 = 95.8 %
#: (745/785 = 94.9 % with corpus 3's id normaliser, before it learned Exim ids and Message-IDs). docs/explain.md.
FOURTH_DEV_FLOOR = 0.96  # 796/821
FOURTH_HELD_OUT_FLOOR = 0.95  # 752/785


def test_split_is_the_recorded_one() -> None:
    """The split is deterministic and recorded: every (scenario, client) pair falls where the method says."""
    cases, held = load_cases()
    pairs = {(str(c["scenario"]), str(c["client"])) for c in cases}
    rule = {p for p in pairs if int(hashlib.sha256(f"{p[0]}|{p[1]}".encode()).hexdigest(), 16) % 3 == 0}
    assert held == rule
    assert 0.2 < len(held) / len(pairs) < 0.45


def test_corpus_covers_every_client_and_scenario() -> None:
    cases, held = load_cases()
    clients = {str(c["client"]) for c in cases}
    assert len(clients) >= 12, clients
    scenarios = {str(c["scenario"]) for c in cases}
    for must in ("silent_server", "unsafe_auth_in_clear", "unsafe_no_verify", "wrong_name", "tls_version"):
        assert must in scenarios
    held_scenarios = {s for s, _ in held}
    assert "silent_server" in held_scenarios or "unsafe_auth_in_clear" in held_scenarios


def test_no_secret_in_the_corpus() -> None:
    from smtp_doctor.lab import LAB_PASSWORD

    assert LAB_PASSWORD not in CASES.read_text(encoding="utf-8")
    assert "method" in json.loads(SPLIT.read_text(encoding="utf-8"))


def test_dev_part() -> None:
    s = score("dev")
    assert s.cases >= 150
    assert s.ratio >= DEV_FLOOR, (f"{s.right}/{s.cases}", s.wrong)


def test_held_out_part() -> None:
    s = score("held_out")
    assert s.cases >= 80 and len(s.clients) >= 10
    assert s.ratio >= HELD_OUT_FLOOR, (f"{s.right}/{s.cases}", s.wrong)


def test_a_clean_s_client_session_is_no_failure() -> None:
    """openssl s_client against a good server: its v:NotBefore line and report are no error."""
    cases, _ = load_cases()
    ok = [c for c in cases if c["client"] == "openssl" and str(c["scenario"]).startswith("ok_")]
    assert ok
    from smtp_doctor.explain import explain

    for c in ok:
        exp = explain(str(c["text"]))
        assert exp.best is None and exp.succeeded, (c["variant"], [m.mode.id for m in exp.matches])


def test_a_silent_server_is_not_use_465() -> None:
    """A greeting timeout from a silent server on a submission port is never "use implicit TLS on 465"."""
    cases, _ = load_cases()
    from smtp_doctor.explain import explain

    silent = [c for c in cases if c["scenario"] == "silent_server" and str(c["text"]).strip()]
    assert len(silent) >= 10
    for c in silent:
        exp = explain(str(c["text"]))
        assert exp.best is None or exp.best.mode.id != "plain_on_implicit_port", c["variant"]


def test_second_corpus_all_held_out() -> None:
    """cases2.json: refused, DNS, no common AUTH mechanism, slow greeting, STARTTLS missing, closed on connect,
    421 busy — captured after the first held-out figure, never tuned on."""
    s = score("second")
    assert s.cases >= 150 and len(s.clients) >= 12 and len(s.scenarios) == 7
    assert s.ratio >= SECOND_FLOOR, (f"{s.right}/{s.cases}", s.wrong)


def test_third_corpus_split() -> None:
    """Corpus 3's split: by (scenario, client), about half each side, every scenario and >= 12 families held out."""
    from corpus.explain.score import CASES_3, third_is_held_out

    cases = json.loads(CASES_3.read_text(encoding="utf-8"))["cases"]
    pairs = {(str(c["scenario"]), str(c["client"])) for c in cases}
    held = {p for p in pairs if third_is_held_out(*p)}
    assert 0.35 < len(held) / len(pairs) < 0.65
    assert {s for s, _ in held} == {s for s, _ in pairs}  # every scenario has a held-out part
    assert len({c for _, c in held}) >= 12


def test_third_dev_half() -> None:
    s = score("third_dev")
    assert s.cases >= 350 and len(s.clients) >= 16
    assert s.ratio >= THIRD_DEV_FLOOR, (f"{s.right}/{s.cases}", s.wrong)


def test_third_held_out_half() -> None:
    """The figure issue 11 reports. A failure here prints counts by scenario, not the texts: whoever fixes a
    regression must not tune on this half."""
    s = score("third_held_out")
    assert s.cases >= 350 and len(s.clients) >= 12
    for must in ("silent_server", "unsafe_auth_in_clear", "unsafe_no_verify", "ok_starttls"):
        assert must in s.scenarios
    assert s.ratio >= THIRD_HELD_OUT_FLOOR, (f"{s.right}/{s.cases}", dict(s.right_by_scenario))


def test_fourth_corpus_split() -> None:
    """Corpus 4's split: by (scenario, client), about half each side, every scenario held out on real servers."""
    from corpus.explain.score import CASES_4, fourth_is_held_out
    from smtp_doctor.lab import LAB_PASSWORD

    assert LAB_PASSWORD not in CASES_4.read_text(encoding="utf-8")
    cases = json.loads(CASES_4.read_text(encoding="utf-8"))["cases"]
    pairs = {(str(c["scenario"]), str(c["client"])) for c in cases}
    held = {p for p in pairs if fourth_is_held_out(*p)}
    assert 0.35 < len(held) / len(pairs) < 0.65
    assert {s for s, _ in held} == {s for s, _ in pairs}
    assert len({c for _, c in held}) >= 15
    assert {str(c["server"]) for c in cases} >= {"postfix", "exim", "dovecot-submission", "lab"}


def test_fourth_dev_half() -> None:
    s = score("fourth_dev")
    assert s.cases >= 700 and len(s.clients) >= 18
    assert s.ratio >= FOURTH_DEV_FLOOR, (f"{s.right}/{s.cases}", s.wrong)


def test_fourth_held_out_half() -> None:
    """The figure issue 11 reports. A failure prints counts by scenario, never the texts: do not tune on it."""
    s = score("fourth_held_out")
    assert s.cases >= 700 and len(s.clients) >= 15
    for must in ("silent_server", "unsafe_auth_in_clear", "unsafe_no_verify", "ok_starttls", "bad_password"):
        assert must in s.scenarios
    assert s.ratio >= FOURTH_HELD_OUT_FLOOR, (f"{s.right}/{s.cases}", dict(s.right_by_scenario))


def _every_case() -> list[dict[str, object]]:
    from corpus.explain.score import all_cases

    return all_cases()


def test_no_clean_s_client_session_of_any_corpus_is_a_failure() -> None:
    """Every working s_client session of all three corpora (-brief, -quiet, -showcerts, plain) gets no failure."""
    from smtp_doctor.explain import explain

    ok = [c for c in _every_case() if c["client"] == "openssl" and str(c["scenario"]).startswith("ok_")]
    assert len(ok) >= 8
    for c in ok:
        best = explain(str(c["text"])).best
        assert best is None, (c["variant"], best.mode.id)


def test_no_silent_or_slow_server_of_any_corpus_is_use_465() -> None:
    from smtp_doctor.explain import explain

    silent = [c for c in _every_case() if c["scenario"] in ("silent_server", "slow_greeting")
              and str(c["text"]).strip()]
    assert len(silent) >= 100
    for c in silent:
        best = explain(str(c["text"])).best
        assert best is None or best.mode.id != "plain_on_implicit_port", c["variant"]
