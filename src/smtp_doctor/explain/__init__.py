"""Explain an SMTP/TLS error text or scan logs for them: knowledge in knowledge/errors.toml.

    from smtp_doctor.explain import explain
    result = explain("SSL_connect returned=1 errno=0 state=error: wrong version number")
    result.best.mode.id  # "implicit_tls_on_plain_port"
"""

from __future__ import annotations

from .engine import Evidence, Explanation, Match, explain
from .fields import Fields
from .knowledge import FRAMEWORKS, load
from .scan import Group, Scanner, ScanResult, scan_files

__all__ = ["FRAMEWORKS", "Evidence", "Explanation", "Fields", "Group", "Match", "ScanResult", "Scanner",
           "explain", "load", "scan_files"]
