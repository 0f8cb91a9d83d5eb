"""How many examples each fuzz target runs, and the count of what actually ran.

``SMTP_DOCTOR_FUZZ_EXAMPLES`` sets the examples per target (default 200: the whole fuzz directory in
well under a minute on every ``make test``); ``make fuzz`` raises it. The network targets cost a real
connection per input and get ``SMTP_DOCTOR_FUZZ_NETWORK`` examples instead.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")

EXAMPLES = int(os.environ.get("SMTP_DOCTOR_FUZZ_EXAMPLES", "200"))
#: The cheap targets take a batch of 1..BATCH inputs an example: hypothesis spends ~3 ms to make an
#: example, a parser well under 0.1 ms to read one, so batches are what makes a million inputs affordable.
BATCH = int(os.environ.get("SMTP_DOCTOR_FUZZ_BATCH", "4"))
#: explain, the log scanner (5-100 ms an input: 187 knowledge regexes) and the rich renderers (~7 ms) get
#: their own number of examples.
SLOW_EXAMPLES = int(os.environ.get("SMTP_DOCTOR_FUZZ_SLOW", str(EXAMPLES)))
NETWORK_EXAMPLES = int(os.environ.get("SMTP_DOCTOR_FUZZ_NETWORK", "25"))
COUNTS: Counter[str] = Counter()

#: No deadline: a slow example on a loaded CI machine is not a bug; a hang is caught by pytest-timeout.
_COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck)}
FAST = settings(max_examples=EXAMPLES, **_COMMON)  # type: ignore[arg-type]
SLOW = settings(max_examples=SLOW_EXAMPLES, **_COMMON)  # type: ignore[arg-type]
NETWORK = settings(max_examples=NETWORK_EXAMPLES, **_COMMON)  # type: ignore[arg-type]


#: With ``SMTP_DOCTOR_FUZZ_COUNTS=FILE`` the counts are also written there every 10,000 inputs (long runs).
_PROGRESS = os.environ.get("SMTP_DOCTOR_FUZZ_COUNTS")


def batch(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[list[T]]:
    """1..BATCH inputs drawn from ``strategy``, for one example of a cheap target."""
    return st.lists(strategy, min_size=1, max_size=BATCH)


def count(target: str, n: int = 1) -> None:
    before = COUNTS.total()
    COUNTS[target] += n
    if _PROGRESS and before // 10_000 != COUNTS.total() // 10_000:
        with open(_PROGRESS, "a", encoding="utf-8") as fh:
            fh.write(f"{time.time():.0f} {COUNTS.total()} {dict(COUNTS)}\n")
