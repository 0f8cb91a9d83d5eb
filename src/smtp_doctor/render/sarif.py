"""SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps): one run, every rule, one result per finding.

SARIF wants a rule table (id, name, descriptions, default level) and results that point at a file
region; our findings already carry ``file:line:col`` and a rule id, so this is a pure translation.
The words come from the catalogue in the current language.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..findings import Finding, Severity
from ..i18n import t
from ..lint import rulebook
from .inert import shown

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {Severity.OK: "none", Severity.INFO: "note", Severity.WARNING: "warning", Severity.ERROR: "error",
         Severity.CRITICAL: "error"}


def split_subject(subject: str) -> tuple[str, int, int]:
    """``path:line:col`` → (path, line, col); paths may themselves contain colons."""
    head, _, col = subject.rpartition(":")
    path, _, line = head.rpartition(":")
    if not (line.isdigit() and col.isdigit()):
        return subject, 1, 1
    return path, max(1, int(line)), max(1, int(col))


def _uri(path: str, base: Path) -> tuple[str, str | None]:
    """A relative URI under %SRCROOT% when the file is inside ``base``, else an absolute file URI."""
    p = Path(path)
    absolute = p if p.is_absolute() else (Path.cwd() / p)
    try:
        rel = absolute.resolve().relative_to(base.resolve())
        return quote(rel.as_posix()), "SRCROOT"
    except ValueError:
        return absolute.resolve().as_uri(), None


def _version() -> str:
    try:
        return metadata.version("smtp-doctor")
    except metadata.PackageNotFoundError:
        return "0"


def sarif(findings: Iterable[Finding], base: Path) -> dict[str, Any]:
    """The SARIF log for ``findings`` with paths relative to ``base`` (the repository root)."""
    rules = rulebook().rules
    index = {r.id: i for i, r in enumerate(rules)}
    descriptors = [{
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": t(f"lint.rule.{r.id}.title")},
        "fullDescription": {"text": t(f"lint.rule.{r.id}.title")},
        "help": {"text": f"{t(f'lint.rule.{r.id}.title')} (source: {r.source})"},
        "defaultConfiguration": {"level": LEVEL[r.severity]},
        "properties": {"tags": ["smtp", "tls", "configuration"], "source": r.source},
    } for r in rules]
    results = []
    for f in findings:
        path, line, col = split_subject(f.subject)
        uri, base_id = _uri(path, base)
        artifact: dict[str, Any] = {"uri": uri}
        if base_id:
            artifact["uriBaseId"] = base_id
        text = f.verdict()
        if (fix := f.fix()):
            text = f"{text}. {fix}" if not text.endswith((".", "。")) else f"{text} {fix}"
        result: dict[str, Any] = {
            "ruleId": f.id,
            "level": LEVEL[f.severity],
            "message": {"text": shown(text)},  # SARIF viewers print it: inert, secrets masked
            "locations": [{"physicalLocation": {"artifactLocation": artifact,
                                                "region": {"startLine": line, "startColumn": col}}}],
            "properties": {"severity": str(f.severity), **{k: shown(v) for k, v in f.details}},
        }
        if f.id in index:
            result["ruleIndex"] = index[f.id]
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "smtp-doctor", "version": _version(), "rules": descriptors}},
            "originalUriBaseIds": {"SRCROOT": {"uri": base.resolve().as_uri() + "/"}},
            "results": results,
        }],
    }
