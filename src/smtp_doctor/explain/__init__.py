"""Explain an SMTP/TLS error text or scan logs for them: knowledge in knowledge/errors.toml.

    from smtp_doctor.explain import explain
    result = explain("SSL_connect returned=1 errno=0 state=error: wrong version number")
    result.best.mode.id  # "implicit_tls_on_plain_port"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .engine import Evidence, Explanation, Match, explain
from .fields import Fields
from .knowledge import FRAMEWORKS, load

if TYPE_CHECKING:
    from .scan import Group, Scanner, ScanResult, scan_files

__all__ = ["FRAMEWORKS", "Evidence", "Explanation", "Fields", "Group", "Match", "ScanResult", "Scanner",
           "explain", "load", "scan_files"]


def __getattr__(name: str) -> Any:
    """The log scanner loads on first use (``explain --log``), not for one text (issue 16)."""
    if name in ("Group", "Scanner", "ScanResult", "scan_files"):
        from . import scan

        return getattr(scan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
