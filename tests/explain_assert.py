"""One assertion for the real-client tests of explain (Go, Java): what a cell's failure must be named."""

from __future__ import annotations

from smtp_doctor.explain import explain


def assert_named(cid: str, text: str, expect: str, ambiguous: bool) -> None:
    """``ambiguous``: the client prints the same words for several failures, so the right one must be among
    the candidates; otherwise it must be the answer."""
    assert text and text != "DELIVERED", f"{cid}: the cell should fail"
    exp = explain(text)
    assert exp.best is not None, f"{cid}: not recognised: {text!r}"
    if ambiguous:
        assert expect in {m.mode.id for m in exp.matches}, (cid, text, [m.mode.id for m in exp.matches])
    else:
        assert exp.best.mode.id == expect, (cid, text, [(m.mode.id, m.confidence) for m in exp.matches])
