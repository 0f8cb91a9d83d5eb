"""Click options more than one subcommand takes (public names: no cli module reaches into another's privates)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from .params import NonEmptyPath


def config_options(command: Callable[..., None]) -> Callable[..., None]:
    """PATH and the options check and fix share: where the config is, how to read it, which server to ask."""
    for option in reversed((
        click.argument("path", type=NonEmptyPath(path_type=Path)),
        click.option("--env", "env_file", type=click.Path(path_type=Path), default=None,
                     help="Resolve ENV[...] / process.env / os.environ from this dotenv file."),
        click.option("--framework", default=None, help="Read PATH as this framework (default: detect)."),
        click.option("--probe-host", "probe_target", default=None, metavar="HOST[:PORT]",
                     help="Probe this server instead of the one the config names (a staging copy, the lab)."),
        click.option("--ca-file", type=click.Path(), default=None,
                     help="A CA bundle to suggest when it verifies the server; stands in for the app's own CA "
                          "file when that one is not readable here."),
        click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
                     help="Deadline for probing one port, in seconds."),
    )):
        command = option(command)
    return command

