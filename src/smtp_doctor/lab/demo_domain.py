"""The demo's last part: the domain check on the domain lab's clean domain and on one broken one.

Why only two cases: the demo is a story, not the test suite, and each lab case costs a signed zone
and an MX probe. The broken case is the mistake the issue names first — MTA-STS ``enforce`` with an
MX whose certificate is for another name — because its finding says what senders will do (defer).
Kept out of cli/demo.py so the CLI only calls it; it needs NSD and Unbound and says so in one line
when they are missing, without changing the demo's exit code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from ..domain import DomainOptions, DomainReport, check_domain
from ..domain.render import render_text
from ..i18n import t
from ..render.inert import escape
from .dns import binaries_missing
from .domain import DomainLab
from .domain_cases import case

#: (lab case, what the demo expects it to show): the clean domain first, then the broken one
DEMO_CASES = ("clean", "sts-mx-cert")


@dataclass
class DomainDemo:
    """What the domain part did: why it was skipped, or each domain's report, and its wall time."""

    skipped: str | None = None  #: the missing binaries, when the part did not run
    reports: dict[str, DomainReport] = field(default_factory=dict)  #: by domain name
    seconds: float = 0.0


async def run_domain_demo(directory: Path, timeout: float = 10.0) -> DomainDemo:
    """Start a two-case domain lab, check both domains, stop the lab: no output here (the caller renders)."""
    if missing := binaries_missing():
        return DomainDemo(skipped=", ".join(missing))
    started = time.monotonic()
    cases = tuple(case(name) for name in DEMO_CASES)
    result = DomainDemo()
    async with DomainLab(directory, cases) as lab:
        opts = DomainOptions(resolver=lab.resolver, port=lab.smtp_port, policy_port=lab.https_port,
                             ca_file=str(lab.ca_file), timeout=timeout)
        for c in cases:
            result.reports[c.domain] = await check_domain(c.domain, opts)
    result.seconds = time.monotonic() - started
    return result


async def show_domain_demo(out: Console, directory: Path) -> DomainDemo:
    """The demo's domain part, rendered: a heading, each domain's report, the time it took."""
    out.print()
    out.rule(f"[bold]{t('demo.domain.title')}[/]", align="left")
    result = await run_domain_demo(directory)
    if result.skipped is not None:
        out.print(escape(t("demo.domain.skipped", detail=result.skipped)), highlight=False)
        return result
    for name, domain in zip(DEMO_CASES, result.reports, strict=True):
        out.print()
        out.print(f"[dim]{escape(t(f'demo.domain.case.{name}', domain=domain))}[/]", highlight=False)
        render_text(out, result.reports[domain])
    out.print(f"[dim]{escape(t('demo.domain.seconds', seconds=f'{result.seconds:.1f}'))}[/]", highlight=False)
    return result
