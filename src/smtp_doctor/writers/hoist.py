"""Move the line that loads the env file above the first line that reads the environment.

``require('dotenv').config()`` or ``load_dotenv()`` below ``host: process.env.SMTP_HOST`` fills the environment
after the settings were read: the app connects to its defaults (readers/loaded_env.py, lint SD121). The fix is
the same statement, earlier: it and any statement above it that imports the loader (``const dotenv =
require('dotenv')``, ``from dotenv import load_dotenv``) move, whole and in order, in front of the first
module-level statement that reads the environment. Only loaders whose call needs nothing else the module
defines (python-dotenv, dotenv, Node's ``process.loadEnvFile``); django-environ's ``env.read_env()`` needs its
``env = environ.Env()`` first and is left to the user.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..readers.loaded_env import loaded_env

#: a module-level statement that reads the process environment
_READS = {"python": re.compile(r"\bos\.(?:environ|getenv)\b|\bgetenv\s*\(|\benviron\s*[\[.]"),
          "javascript": re.compile(r"\bprocess\.env\b")}
#: a statement that only brings the loader into scope (it moves with the call)
_IMPORTS = {"python": re.compile(r"^\s*(?:from\s+dotenv\s+import\b|import\s+dotenv\b)"),
            "javascript": re.compile(r"""\brequire\s*\(\s*['"]dotenv['"]\s*\)\s*;?\s*$""")}
#: loaders that need nothing else of the module
_MOVABLE = {"python": re.compile(r"\bload_dotenv\s*\("),
            "javascript": re.compile(r"""\bdotenv['"]?\s*\)?\s*\.config\s*\(|\bloadEnvFile\s*\("""
                                     r"""|['"]dotenv/config['"]""")}


def _statements(path: Path, text: str, syntax: str) -> list[tuple[int, int]]:
    """(first, last) line of each module-level statement, in order."""
    if syntax == "python":
        import ast

        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return []
        return [(n.lineno, n.end_lineno or n.lineno) for n in tree.body]
    from ..readers._ts import parser, script_grammar

    root = parser(script_grammar(path)).parse(text.encode("utf-8")).root_node
    return [(n.start_point[0] + 1, n.end_point[0] + 1) for n in root.children if n.type != "comment"]


def hoist_env_load(path: Path, text: str, syntax: str) -> str | None:
    """``text`` with its env-file loader moved above the first statement that reads the environment; None
    when it loads none, loads it in time, or the loader cannot be moved alone."""
    if syntax not in _READS:
        return None
    loaded = loaded_env(path, text, syntax)
    if loaded is None or not loaded.line:
        return None
    lines = text.splitlines(keepends=True)
    spans = _statements(path, text, syntax)
    loader = next((s for s in spans if s[0] <= loaded.line <= s[1]), None)
    if loader is None or not _MOVABLE[syntax].search("".join(lines[loader[0] - 1:loader[1]])):
        return None
    body = [(s, "".join(lines[s[0] - 1:s[1]])) for s in spans if s[1] < loader[0]]
    target = next((s for s, chunk in body if _READS[syntax].search(chunk)), None)
    if target is None:
        return None
    moved = [s for s, chunk in body if s[0] > target[0] and _IMPORTS[syntax].search(chunk)] + [loader]
    cut = {n for first, last in moved for n in range(first, last + 1)}
    block = [lines[n - 1] if lines[n - 1].endswith("\n") else lines[n - 1] + "\n" for n in sorted(cut)]

    def blank(n: int) -> bool:
        return 1 <= n <= len(lines) and not lines[n - 1].strip()

    if blank(target[0] - 1):
        block.append("\n")  # set apart as the file sets apart its statements
    cut |= {last + 1 for first, last in moved if blank(first - 1) and blank(last + 1)}  # not two blanks in a row
    out: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n == target[0]:
            out += block
        if n not in cut:
            out.append(line)
    return "".join(out)
