"""Counting what a scan found, from its records only (so a resumed scan's summary covers every line)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from ..findings import Severity
from .record import UNSAFE


@dataclass
class ScanSummary:
    targets: int = 0
    new: int = 0  #: written by this run (the rest were resumed from the file)
    status: Counter[str] = field(default_factory=Counter)  #: ok, unreachable, rate_limited, excluded, invalid, error
    modes: Counter[str] = field(default_factory=Counter)
    cert_problems: Counter[str] = field(default_factory=Counter)  #: finding id → targets
    unsafe: Counter[str] = field(default_factory=Counter)
    worst: Severity = Severity.OK
    seconds: float = 0.0

    def add(self, line: str, new: bool = True) -> None:
        rec = json.loads(line)
        self.targets += 1
        self.new += new
        self.status[rec["status"]] += 1
        if rec["status"] == "ok" and rec["facts"]:
            self.modes[rec["facts"]["mode"]] += 1
        severity = Severity(rec["severity"])
        if severity.rank > self.worst.rank:
            self.worst = severity
        for f in rec["findings"]:
            bad = Severity(f["severity"]).rank >= Severity.WARNING.rank
            if f["id"].startswith("cert.") and bad:
                self.cert_problems[f["id"]] += 1
            elif f["id"] in UNSAFE or (f["id"].startswith(("tls.", "starttls.")) and bad):
                self.unsafe[f["id"]] += 1

    @property
    def reachable(self) -> bool:
        """False only when targets were probed and not one answered (exit 3, as for probe)."""
        return self.status["ok"] + self.status["rate_limited"] > 0 or self.status["unreachable"] == 0
