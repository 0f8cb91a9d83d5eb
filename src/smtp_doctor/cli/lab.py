"""``smtp-doctor lab``: run the local servers until Ctrl-C (or --duration)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from pathlib import Path

import click
from rich.table import Table

from ..i18n import t
from ..lab import Lab, LabInfo
from .common import console


def lab_table(info: LabInfo, hostile: bool) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column(t("lab.col.name"))
    table.add_column(t("lab.col.address"))
    table.add_column(t("lab.col.shows"))
    for name, srv in info.servers.items():
        table.add_row(name, srv.address, t(f"lab.server.{name}"))
    if hostile:
        for name, srv in info.hostile.items():
            table.add_row(name, srv.address, t(f"lab.hostile.{name}"), style="dim")
    return table


def info_json(info: LabInfo) -> dict[str, object]:
    return {"host": info.host, "ca_file": str(info.ca_file), "user": info.user, "password": info.password,
            "servers": {n: s.port for n, s in info.servers.items()},
            "hostile": {n: s.port for n, s in info.hostile.items()}}


@click.command("lab")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Where to write the lab CA and certificates (default: a new temporary directory).")
@click.option("--hostile/--no-hostile", default=True, show_default=True, help="Also run the hostile servers.")
@click.option("--duration", type=click.FloatRange(0.1), default=None, help="Stop after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the lab's addresses as JSON.")
@click.option("--domain", "domain_lab", is_flag=True,
              help="Start the domain lab instead: signed DNS (NSD + Unbound), MTA-STS over HTTPS, MX servers.")
def command(directory: str | None, hostile: bool, duration: float | None, as_json: bool, domain_lab: bool) -> None:
    """Start local SMTP servers on 127.0.0.1 showing every failure mode (offline test bed)."""
    base = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="smtp-doctor-lab-"))
    if domain_lab:
        from .domain import serve_lab

        return serve_lab(base, duration, as_json)

    async def run() -> None:
        async with Lab(base, with_hostile=hostile) as info:
            if as_json:
                click.echo(json.dumps(info_json(info), indent=2))
            else:
                out = console()
                out.print(f"[bold]{t('lab.title')}[/]")
                out.print(lab_table(info, hostile))
                out.print(t("lab.ca", path=str(info.ca_file)))
                out.print(t("lab.credentials", user=info.user, password=info.password))
                example = info.servers["starttls"].address
                out.print(t("lab.try", command=f"smtp-doctor probe {example} --ca-file {info.ca_file}"))
                out.print(f"[dim]{t('lab.stop')}[/]")
            await asyncio.sleep(duration if duration is not None else 10**9)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
