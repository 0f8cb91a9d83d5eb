"""Load knowledge/lint_rules.toml: the rules (checked at load time). Provider facts are providers.toml's."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..findings import Severity
from ..frameworks import conditions as C
from ..frameworks import models

SCOPES = ("config", "key", "all_keys")
LINT_PREDICATES = frozenset({"truth_in", "text_matches", "not_in_values", "predicts", "credentials", "loopback",
                             "file_missing", "looks_like_ca", "provider_username", "provider_port", "unknown_key",
                             "noted", "key_under", "overrides_file"})
_ID = re.compile(r"^SD\d{3}$")


@dataclass(frozen=True)
class LintRule:
    id: str
    name: str
    severity: Severity
    scope: str
    when: Mapping[str, Any]
    source: str
    roles: tuple[str, ...] = ()
    at: tuple[str, ...] = ()
    failure: str | None = None
    frameworks: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleBook:
    rules: tuple[LintRule, ...]


def _rule(t: Mapping[str, Any]) -> LintRule:
    rid = t.get("id", "?")
    if not _ID.match(rid) or t.get("scope") not in SCOPES or not t.get("source"):
        raise ValueError(f"lint_rules.toml {rid}: needs an SDnnn id, a scope of {SCOPES} and a source")
    C.check(t["when"], set(C.BASE) | LINT_PREDICATES, f"lint_rules.toml {rid}")
    unknown_fw = set(t.get("frameworks", ())) - set(models())
    if unknown_fw:
        raise ValueError(f"lint_rules.toml {rid}: unknown frameworks {sorted(unknown_fw)}")
    return LintRule(id=rid, name=t["name"], severity=Severity(t["severity"]), scope=t["scope"], when=t["when"],
                    source=t["source"], roles=tuple(t.get("roles", ())), at=tuple(t.get("at", ())),
                    failure=t.get("failure"), frameworks=tuple(t.get("frameworks", ())))


@cache
def rulebook() -> RuleBook:
    text = (resources.files("smtp_doctor") / "knowledge" / "lint_rules.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    rules = tuple(_rule(t) for t in data["rule"])
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError("lint_rules.toml: duplicate rule ids")
    return RuleBook(rules=rules)
