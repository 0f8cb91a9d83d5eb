"""docs/lint.md is generated from the rule data; it must be regenerated whenever a rule changes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gen_lint_docs.py"


def test_docs_lint_md_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen_lint_docs", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0, "run: .venv/bin/python scripts/gen_lint_docs.py"
    text = mod.DOC.read_text(encoding="utf-8")
    assert "| SD116 |" in text and "wrong version number" in text  # rule table and real example output
