"""Helpers shared by the reader tests (no tests here): fixture paths and a compact view of one value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smtp_doctor.settings import RawConfig

FIX = Path(__file__).parent / "fixtures" / "configs"


def at(config: RawConfig, key: str) -> tuple[Any, str, int, int]:
    """(value, kind, line, column) of ``key``: the four facts every reader test asserts."""
    v = config.values[key]
    assert v.origin is not None
    return v.value, str(v.kind), v.origin.line, v.origin.column


def only(configs: list[RawConfig], framework: str) -> RawConfig:
    picked = [c for c in configs if c.framework == framework]
    assert len(picked) == 1, [c.framework for c in configs]
    return picked[0]
