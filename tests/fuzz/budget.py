"""How many examples each fuzz target runs, and the count of what actually ran.

``SMTP_DOCTOR_FUZZ_EXAMPLES`` sets the examples per target (default 200: the whole fuzz directory in
well under a minute on every ``make test``); ``make fuzz`` raises it. The network targets cost a real
connection per input and get ``SMTP_DOCTOR_FUZZ_NETWORK`` examples instead.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("SMTP_DOCTOR_FUZZ_EXAMPLES", "200"))
NETWORK_EXAMPLES = int(os.environ.get("SMTP_DOCTOR_FUZZ_NETWORK", "25"))
COUNTS: Counter[str] = Counter()

#: No deadline: a slow example on a loaded CI machine is not a bug; a hang is caught by pytest-timeout.
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
NETWORK = settings(max_examples=NETWORK_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


#: With ``SMTP_DOCTOR_FUZZ_COUNTS=FILE`` the counts are also written there every 10,000 inputs (long runs).
_PROGRESS = os.environ.get("SMTP_DOCTOR_FUZZ_COUNTS")


def count(target: str) -> None:
    COUNTS[target] += 1
    if _PROGRESS and COUNTS.total() % 10_000 == 0:
        with open(_PROGRESS, "a", encoding="utf-8") as fh:
            fh.write(f"{time.time():.0f} {COUNTS.total()} {dict(COUNTS)}\n")
