"""The scan's terminal side: a progress line with rate and ETA, and the summary table (both on stderr)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .. import i18n
from .summary import ScanSummary


class _Rate(ProgressColumn):
    """Targets per second. The language is fixed when the bar is built: rich redraws from its own thread."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = i18n.current_language()

    def render(self, task: Task) -> Text:
        return Text(i18n.t("scan.rate", lang=self.lang, rate=f"{task.speed or 0:.0f}"))


@contextmanager
def progress(console: Console, total: int | None, enabled: bool) -> Iterator[Any]:
    """Yields a callback for each record; a no-op when disabled (not a tty, or --quiet)."""
    if not enabled:
        yield lambda _line: None
        return
    bar = Progress(TextColumn(i18n.t("scan.progress")), BarColumn(), MofNCompleteColumn(), _Rate(),
                   TimeRemainingColumn(), console=console, transient=True, speed_estimate_period=10)
    task = bar.add_task("scan", total=total)
    with bar:
        yield lambda _line: bar.advance(task)


def summary_table(s: ScanSummary) -> Table:
    table = Table(title=i18n.t("scan.summary.title", targets=s.targets, new=s.new, seconds=f"{s.seconds:.1f}"))
    table.add_column(i18n.t("scan.summary.what"))
    table.add_column(i18n.t("scan.summary.count"), justify="right")
    for kind, counter in (("status", s.status), ("mode", s.modes), ("cert", s.cert_problems),
                          ("unsafe", s.unsafe)):
        for name, count in counter.most_common():
            table.add_row(Text(i18n.t(f"scan.summary.{kind}", name=name)), str(count))
    return table
