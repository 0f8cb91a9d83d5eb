"""``smtp-doctor demo``: the whole story offline — start the lab, probe every server, explain."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .. import probe_async
from ..credentials import Credentials
from ..diagnose.host import HostReport
from ..facts import AuthOutcome
from ..i18n import t
from ..lab import Lab, LabInfo
from ..probe import ProbeOptions
from ..readers import read_file
from ..render.inert import escape_block
from ..render.text import badge, render_port
from .common import console


@click.command("demo")
@click.option("--all", "show_all", is_flag=True, help="Also probe the hostile servers.")
def command(show_all: bool) -> None:
    """Start the embedded lab and probe each of its servers."""
    out = console()

    async def run() -> None:
        with tempfile.TemporaryDirectory(prefix="smtp-doctor-demo-") as tmp:
            async with Lab(Path(tmp), with_hostile=show_all) as lab:
                opts = ProbeOptions(ca_file=str(lab.ca_file), timeout=15, greeting_timeout=10)
                targets = dict(lab.servers) | (dict(lab.hostile) if show_all else {})
                out.print(f"[bold]{t('demo.intro', count=len(targets))}[/]")
                out.print(t("lab.ca", path=str(lab.ca_file)))
                out.print()
                reports: list[tuple[str, HostReport]] = []
                # The lab's own test login, so AUTH is tried too (and refused where it would be unsafe).
                creds = Credentials(lab.user, lab.password, lab.oauth_token)
                for name, srv in targets.items():
                    report = await probe_async(srv.host, [srv.port], opts, creds if name in lab.servers else None)
                    key = f"lab.server.{name}" if name in lab.servers else f"lab.hostile.{name}"
                    out.rule(f"[bold]{name}[/] — {t(key)}", align="left")
                    render_port(out, report.ports[0])
                    reports.append((name, report))
                table = Table(title=t("demo.summary"), box=None, header_style="bold")
                for col in ("lab.col.name", "label.mode", "label.verdict", "demo.col.auth", "demo.col.seconds"):
                    table.add_column(t(col))
                for name, report in reports:
                    d = report.ports[0]
                    works = [a.mechanism for a in d.facts.auth_attempts if a.outcome is AuthOutcome.OK]
                    auth = " ".join(works) or (t("demo.auth_refused") if d.facts.auth_attempts else "-")
                    table.add_row(name, t(f"modename.{d.facts.mode}"), badge(d.severity), auth,
                                  f"{d.facts.detect_seconds or 0:.3f}")
                out.print(table)
                await _story(out, lab, Path(tmp))
            # the receiving side, after the sending lab is stopped (lab/demo_domain.py)
            from ..lab.demo_domain import show_domain_demo

            await show_domain_demo(out, Path(tmp) / "domain")

    asyncio.run(run())


#: The seed article's trap: implicit TLS (`tls:` with a port number) against a STARTTLS port.
SEED = """Rails.application.configure do
  config.action_mailer.delivery_method = :smtp
  config.action_mailer.smtp_settings = {
    address: '127.0.0.1',
    port: {port},
    user_name: ENV['SMTP_USERNAME'],
    password: ENV['SMTP_PASSWORD'],
    authentication: :plain,
    tls: 587
  }
end
"""


async def _story(out: Console, lab: LabInfo, tmp: Path) -> None:
    """The rest of the story: an app's config read, its failure predicted, the corrected file shown."""
    from ..render.fix import render_repair
    from ..repair import repair

    config = tmp / "app" / "config" / "environments" / "production.rb"
    config.parent.mkdir(parents=True)
    config.write_text(SEED.replace("{port}", str(lab.servers["starttls"].port)))
    out.print()
    out.rule(f"[bold]{t('demo.story')}[/]", align="left")
    out.print(escape_block(config.read_text()), highlight=False)
    [raw] = read_file(config, framework="actionmailer")
    # check/fix run their own event loop: a worker thread keeps this one serving the lab meanwhile
    result = await asyncio.to_thread(repair, raw, None, None, str(lab.ca_file), 15.0)
    render_repair(out, result)
