"""Click parameter types that refuse bad local input at the command line, before any work starts."""

from __future__ import annotations

from typing import Any

import click


class NonEmptyPath(click.Path):
    """``click.Path`` that refuses ``""``: ``Path("")`` is ``.``, so an unset shell variable
    (``smtp-doctor lint "$APP_DIR"``) would silently lint the current directory instead."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            from ..errors import UserError

            raise UserError("input.empty_path")  # one line, exit 2, like every other bad input
        return super().convert(value, param, ctx)
