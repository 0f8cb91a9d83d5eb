"""Kept for imports that predate the one secret filter: :mod:`smtp_doctor.secrets` is where credentials
in echoed text are recognised (issue 17), for explain and every other output path."""

from __future__ import annotations

from ..secrets import redact

__all__ = ["redact"]
