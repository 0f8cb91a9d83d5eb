"""tree-sitter plumbing: one cached parser per grammar, syntax-error location, node positions.

tree-sitter parses without running anything, and keeps going after errors, so the readers can
refuse malformed files with a precise line instead of guessing with regular expressions.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

import tree_sitter

from ..settings import Origin
from ._common import Lines, syntax_error


def script_grammar(path: Path) -> str:
    """The grammar a JavaScript-family file is parsed with: TypeScript and TSX by their suffixes."""
    suffix = path.suffix.lower()
    return "tsx" if suffix == ".tsx" else "typescript" if suffix in (".ts", ".mts", ".cts") else "javascript"


@cache
def parser(grammar: str) -> tree_sitter.Parser:
    """A parser for ``ruby``, ``javascript``, ``typescript``, ``tsx`` or ``php``."""
    if grammar == "ruby":
        import tree_sitter_ruby as mod

        lang = mod.language()
    elif grammar == "javascript":
        import tree_sitter_javascript as js

        lang = js.language()
    elif grammar in ("typescript", "tsx"):
        import tree_sitter_typescript as ts

        lang = ts.language_typescript() if grammar == "typescript" else ts.language_tsx()
    elif grammar == "php":
        import tree_sitter_php as php

        lang = php.language_php()
    else:  # pragma: no cover - programming error
        raise ValueError(grammar)
    return tree_sitter.Parser(tree_sitter.Language(lang))


class Source:
    """A parsed file: its tree plus helpers that turn nodes into text and origins."""

    def __init__(self, path: Path, text: str, grammar: str) -> None:
        self.path = path
        self.file = str(path)
        self.lines = Lines(text)
        self.tree = parser(grammar).parse(text.encode("utf-8"))
        self.root = self.tree.root_node
        if self.root.has_error:
            bad = first_error(self.root)
            row, col = bad.start_point if bad is not None else (0, 0)
            raise syntax_error(path, row + 1, self.lines.column(row, col))

    def text(self, node: tree_sitter.Node) -> str:
        return (node.text or b"").decode("utf-8", "replace")

    def origin(self, node: tree_sitter.Node, key: str) -> Origin:
        row, col = node.start_point
        return Origin(self.file, row + 1, self.lines.column(row, col), key)


def first_error(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The first ERROR or MISSING node in document order (bounded by the tree's size)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            return n
        if n.has_error:
            stack.extend(reversed(n.children))
    return None


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """All nodes below ``node`` in document order, without recursion (deep files cannot overflow)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))
