"""Findings: what the diagnosis concluded, in the shape internet.nl uses.

A finding is data (an id, a severity, the parameters that fill its sentences and raw technical
details); the words live in the catalogue under ``finding.<id>.verdict`` / ``.explanation`` /
``.fix``, so the same finding renders in English, Japanese, JSON, SARIF or Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import i18n


class Severity(StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True)
class Finding:
    """One conclusion. ``id`` names its catalogue entries; ``details`` are untranslated facts."""

    id: str
    severity: Severity
    params: Mapping[str, Any] = field(default_factory=dict)
    details: tuple[tuple[str, str], ...] = ()
    subject: str = ""

    def _text(self, part: str, lang: str | None = None) -> str | None:
        key = f"finding.{self.id}.{part}"
        return i18n.t(key, lang=lang, **self.params) if i18n.has(key) else None

    def verdict(self, lang: str | None = None) -> str:
        return self._text("verdict", lang) or self.id

    def explanation(self, lang: str | None = None) -> str | None:
        return self._text("explanation", lang)

    def fix(self, lang: str | None = None) -> str | None:
        return self._text("fix", lang)

    def to_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": str(self.severity),
            "subject": self.subject or None,
            "verdict": self.verdict(lang),
            "explanation": self.explanation(lang),
            "fix": self.fix(lang),
            "params": {k: _plain(v, lang) for k, v in self.params.items()},
            "details": [{"name": k, "value": v} for k, v in self.details],
        }


def _plain(value: Any, lang: str | None) -> Any:
    """A parameter as JSON shows it: catalogue terms by key, bilingual knowledge in the output language."""
    if isinstance(value, i18n.Term):
        return value.key
    if isinstance(value, i18n.Localized):
        return value.get(lang or i18n.current_language())
    return value


def worst(findings: Iterable[Finding]) -> Severity:
    """The most severe level among ``findings`` (OK when there are none)."""
    return max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.OK)
