"""Find and read every mail configuration under the paths a user named (the readers stage of the pipeline).

Shared by lint, check and fix so that all three see the same configs in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import UserError
from .settings import RawConfig


def collect(paths: Iterable[Path], env: dict[str, str] | None, framework: str | None) -> list[RawConfig]:
    """A file is read as it is; a folder is searched (``read_tree``), keeping ``framework``'s configs only."""
    from .readers import read_file, read_tree

    configs: list[RawConfig] = []
    for path in paths:
        if not path.exists():
            raise UserError("lint.cli.path_missing", path=str(path))
        if path.is_dir():
            found = read_tree(path, env=env)
            configs += [c for c in found if framework is None or c.framework == framework]
        else:
            configs += read_file(path, framework=framework, env=env)
    return configs

