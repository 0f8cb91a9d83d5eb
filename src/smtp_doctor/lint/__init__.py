"""Lint an application's mail configuration: rules in knowledge/lint_rules.toml, words in messages/lint.toml."""

from .engine import lint
from .rules import LintRule, RuleBook, rulebook

__all__ = ["LintRule", "RuleBook", "lint", "rulebook"]
