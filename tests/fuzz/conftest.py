"""Fuzz targets print how many inputs each ran (measured, not estimated) at the end of the session."""

from __future__ import annotations

import pytest

from .budget import COUNTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        total = sum(COUNTS.values())
        terminalreporter.write_line(f"fuzz inputs: {total} in all: " +
                                    ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))
