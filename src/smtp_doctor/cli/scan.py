"""``smtp-doctor scan [FILE]``: many targets, one JSONL record each, resumable (docs/scan.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import i18n
from ..errors import ExitCode, UserError
from ..probe.many import Politeness
from ..probe.options import ProbeOptions, default_ehlo_name
from ..render.inert import InertConsole
from ..scan import DEFAULT_SCAN_PORTS, Output, ScanConfig, scan
from ..scan.render import progress, summary_table
from ..scan.targets import Exclusions, read_lines
from .common import exit_code


def _ports(text: str | None) -> tuple[int, ...]:
    if not text:
        return DEFAULT_SCAN_PORTS
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and 0 < int(p) < 65536 for p in parts):
        raise UserError("scan.bad_ports", ports=text)
    return tuple(int(p) for p in parts)


def _read(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise UserError("scan.input_missing", path=path, error=exc.strerror or str(exc)) from None


@click.command("scan")
@click.argument("targets", default="-", metavar="[FILE|-]")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="JSONL file to append to; re-running with the same file resumes (default: stdout).")
@click.option("--ports", "-p", default=None, metavar="LIST", help="Ports for lines without one (default 25).")
@click.option("--quick", is_flag=True, help="One connection per port: mode, STARTTLS, TLS version, certificate.")
@click.option("--implicit-ports", default="465", show_default=True, metavar="LIST",
              help="--quick: ports where TLS starts at once.")
@click.option("--tls-versions", is_flag=True, help="Full probe: also try each TLS version alone.")
@click.option("--mx", is_flag=True, help="A line without port is a domain: scan its MX hosts (needs dnspython).")
@click.option("--nameserver", default=None, metavar="ADDR[:PORT]", help="--mx: ask this DNS resolver.")
@click.option("--concurrency", type=click.IntRange(1, 5000), default=200, show_default=True,
              help="Probes in flight per worker.")
@click.option("--per-ip", type=click.IntRange(0), default=4, show_default=True, help="Connections per IP (0: no cap).")
@click.option("--per-provider", type=click.IntRange(0), default=16, show_default=True,
              help="Connections per provider, the MX suffix (0: no cap).")
@click.option("--rate", type=click.FloatRange(0), default=0.0, help="New connections per second in all (0: no limit).")
@click.option("--ip-rate", type=click.FloatRange(0), default=20.0, show_default=True,
              help="New connections per second per IP (0: no limit).")
@click.option("--ehlo-name", default=None, help="Name sent in EHLO (default: this host's FQDN).")
@click.option("--exclude", type=click.Path(dir_okay=False), default=None,
              help="Opt-out list: names, .domains, IPs, networks never contacted.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True, help="Per port, seconds.")
@click.option("--ca-file", type=click.Path(exists=True), default=None, help="Also verify against this CA bundle.")
@click.option("--workers", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Processes (local) or lanes (dask), one event loop each.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None, metavar="ADDR", help="Dask scheduler, e.g. tcp://10.0.0.5:8786.")
@click.option("--shard-size", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def command(targets: str, output: str | None, ports: str | None, quick: bool, implicit_ports: str,
            tls_versions: bool, mx: bool, nameserver: str | None,
            concurrency: int, per_ip: int, per_provider: int, rate: float, ip_rate: float, ehlo_name: str | None,
            exclude: str | None, timeout: float, ca_file: str | None, workers: int, engine: str,
            scheduler: str | None, shard_size: int, quiet: bool, strict: bool) -> None:
    """Scan many mail servers; one JSON line per target, exit code by the worst finding."""
    if scheduler and engine != "dask":
        raise UserError("scan.scheduler_without_dask")
    port_list = _ports(ports)
    config = ScanConfig(
        options=ProbeOptions(timeout=timeout, ca_file=ca_file, ehlo_name=ehlo_name or default_ehlo_name(),
                             tls_versions=tls_versions, connect_timeout=min(5.0, timeout)),
        politeness=Politeness(per_ip=per_ip, per_provider=per_provider, rate=rate, ip_rate=ip_rate),
        quick=quick, implicit_ports=frozenset(_ports(implicit_ports)), concurrency=concurrency,
        exclude=Exclusions(_read(exclude) if exclude else ()), nameserver=nameserver)
    out = Output(Path(output) if output else None)
    if output:
        try:
            Path(output).touch()
        except OSError as exc:
            raise UserError("scan.output_unwritable", path=output, error=exc.strerror or str(exc)) from None
    if targets == "-":
        source, total = sys.stdin, None
    else:
        if not os.path.isfile(targets):
            raise UserError("scan.input_missing", path=targets, error="not a file")
        with open(targets, encoding="utf-8", errors="replace") as fh:
            total = sum(1 for _ in read_lines(fh)) * (1 if mx else len(port_list))
        source = open(targets, encoding="utf-8", errors="replace")  # noqa: SIM115 - streamed, closed below
    err = InertConsole(stderr=True)  # the output boundary (issue 17), as for every other command
    try:
        with progress(err, total, err.is_terminal and not quiet) as tick:
            summary = scan(source, out, config, port_list, workers=workers, engine=engine, scheduler=scheduler,
                           shard_size=shard_size, mx=mx, on_record=tick)
    except KeyboardInterrupt:
        if output:
            click.echo(i18n.t("scan.interrupted", done=len(out.done()), path=output), err=True)
        raise SystemExit(130) from None
    finally:
        if source is not sys.stdin:
            source.close()
    if not quiet:
        err.print(summary_table(summary))
    if summary.targets == 0:
        raise SystemExit(int(ExitCode.OK))
    raise SystemExit(int(exit_code(summary.worst, summary.reachable, strict)))
