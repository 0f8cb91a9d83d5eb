"""Env files the app's own code loads at start-up (``load_dotenv(...)``, ``process.loadEnvFile(...)``).

Settings modules and transport files often read every value from ``os.environ`` / ``process.env`` after a line
that fills it from a ``.env`` beside them. Without that file the reader sees only variables, so check would
judge a config the app never runs. Every loader named here leaves a variable that is already set alone
(python-dotenv ``override=False``, dotenv's ``override: false``, Node's ``loadEnvFile``), so the app's own
environment (``--env``) still wins over the file, unless the call says ``override``.

Which file: the call's string literals up to the first that names an env file, joined as a path
(``path.join(__dirname, 'config', '.env')``), else ``.env`` (decouple: always ``.env``); looked
for beside the config, then in up to three parent folders (python-dotenv's ``find_dotenv`` walks up from the
calling file; Node's loaders read the working directory, the app's root, which holds the config or is
above it). A call whose file is not there loads nothing, as in the app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import UserError
from .envfile import load_env_file

#: syntax → calls that fill the process environment from an env file
#: python: python-dotenv load_dotenv (dotenv/main.py, override=False unless override=True); django-environ
#:         Env.read_env (environ/environ.py: setdefault, the environment wins); python-decouple's config()
#:         reads the .env beside the caller itself (decouple.py AutoConfig; os.environ wins), which the Python
#:         reader already treats as a variable lookup
#: javascript: dotenv config() and the 'dotenv/config' preload (lib/main.js: existing keys kept unless
#:         override); Node >= 20.12 process.loadEnvFile (doc/api/process.md: does not override)
_LOADERS: dict[str, re.Pattern[str]] = {
    "python": re.compile(r"\b(?:load_dotenv|read_env)\s*\((?P<args>[^)]*(?:\([^)]*\)[^)]*)*)\)"
                         r"|(?P<preload>\bfrom\s+decouple\s+import\b|^import\s+decouple\b)", re.MULTILINE),
    "javascript": re.compile(
        r"""(?:\bdotenv['"]?\s*\)?\s*\.config|\bloadEnvFile|\bconfigDotenv)\s*\((?P<args>[^)]*(?:\([^)]*\)[^)]*)*)\)"""
        r"""|(?P<preload>(?:require\s*\(\s*|import\s+)['"]dotenv/config['"])"""),
}
#: variables a runtime reads once, before the app's code runs: setting them from a loaded file changes nothing
#: (nodejs.org/api/cli.html NODE_EXTRA_CA_CERTS: "only read when the Node.js process is first launched")
STARTUP_ONLY: dict[str, frozenset[str]] = {"javascript": frozenset({"NODE_EXTRA_CA_CERTS"})}
_LITERAL = re.compile(r"""['"`]([^'"`]*)['"`]""")
#: a file name with "env" in it: .env, .env.production, prod.env, .flaskenv (Flask's own file)
_ENV_NAME = re.compile(r"(?:^|/)[\w.\-]*env[\w.\-]*$", re.IGNORECASE)
#: load_dotenv(override=True), dotenv config({override: true}), django-environ Env.read_env(overwrite=True)
_OVERRIDE = re.compile(r"\bover(?:ride|write)\s*[=:]\s*(?:True|true)\b")
_UP = 3  #: parent folders looked in


@dataclass(frozen=True)
class Loaded:
    """The variables the app's own code adds to its environment, and the file they come from."""

    file: Path
    values: dict[str, str]
    override: bool = False  #: load_dotenv(override=True) / read_env(overwrite=True): the file wins
    line: int = 0  #: the loading call's line when it runs as the module runs (0: it fills the environment first)
    functions: tuple[tuple[int, int], ...] = ()  #: the lines of the module's function bodies (run later)

    def too_late_for(self, line: int) -> bool:
        """Whether a variable read at ``line`` is read before the file is loaded: a module-level read above a
        module-level loading call sees only the process's environment (a function body runs when called)."""
        return line < self.line and not self.inside(line)

    def inside(self, line: int) -> bool:
        return any(first <= line <= last for first, last in self.functions)


def loaded_env(path: Path, text: str, syntax: str) -> Loaded | None:
    """The env file ``text`` (the config at ``path``) loads, read; None when it loads none or it is not there."""
    pattern = _LOADERS.get(syntax)
    m = pattern.search(text) if pattern else None
    if m is None:
        return None
    name = _file_name(m.group("args") or "")
    for folder in (path.parent, *list(path.parent.parents)[:_UP]):
        candidate = folder / name  # an absolute name stays itself
        if candidate.is_file():
            try:
                values = load_env_file(candidate)
            except UserError:
                return None  # a file the app's loader fails on: the reader goes on without it
            loaded = Loaded(candidate, values, _OVERRIDE.search(m.group("args") or "") is not None)
            if syntax == "python" and m.group("preload"):
                return loaded  # decouple reads its .env itself, whenever config() is called
            loaded = replace(loaded, functions=_function_lines(path, text, syntax))
            line = text.count("\n", 0, m.start()) + 1
            return loaded if loaded.inside(line) else replace(loaded, line=line)  # called in main(): not told
    return None


def _function_lines(path: Path, text: str, syntax: str) -> tuple[tuple[int, int], ...]:
    """(first, last) line of each function body: code there runs when called, after the module's own lines."""
    if syntax == "python":
        import ast

        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return ()
        return tuple((n.lineno, n.end_lineno or n.lineno) for n in ast.walk(tree)
                     if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))
    from ._ts import parser, script_grammar

    root = parser(script_grammar(path)).parse(text.encode("utf-8")).root_node
    kinds = {"function_declaration", "function_expression", "function", "arrow_function", "method_definition",
             "generator_function_declaration", "generator_function"}
    spans, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.type in kinds:
            spans.append((node.start_point[0] + 1, node.end_point[0] + 1))
        stack.extend(node.children)
    return tuple(spans)


def _file_name(args: str) -> str:
    """The path the call names: its string literals up to the first that names an env file, joined as
    ``path.join(__dirname, 'config', '.env')`` and ``BASE_DIR / "config" / ".env"`` join them; else ``.env``."""
    parts: list[str] = []
    for literal in _LITERAL.findall(args):
        parts.append(literal)
        if _ENV_NAME.search(literal):
            return str(Path(*parts))
    return ".env"


class PartialEnv(dict[str, str]):
    """What is known of the app's environment when only the file its code loads is: a variable not in it is
    unknown (it may be set where the app runs), not unset."""


def not_known(env: Mapping[str, str] | None, name: str) -> bool:
    """True when the app's value of ``name`` cannot be known here (no environment given, or only part of it)."""
    return env is None or (isinstance(env, PartialEnv) and name not in env)


def with_loaded(loaded: Loaded | None, env: Mapping[str, str] | None, syntax: str) -> Mapping[str, str] | None:
    """The environment the settings are read with: the loaded file under the app's own (which wins)."""
    if loaded is None:
        return env
    late = STARTUP_ONLY.get(syntax, frozenset())
    values = {k: v for k, v in loaded.values.items() if k not in late}
    if env is None:
        return PartialEnv(values)
    return {**env, **values} if loaded.override else {**values, **env}
