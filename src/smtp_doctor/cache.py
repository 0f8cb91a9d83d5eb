"""A small on-disk cache for what every process would otherwise rebuild from the package's own data files.

Why: a short command (``explain "…"``, ``--help`` in a pre-commit hook) spent most of its time parsing the
message catalogue's TOML and compiling the knowledge's regular expressions, identical on every run. The
result is stored with marshal (the format of ``.pyc`` files) under the user's cache directory, stamped
with the interpreter and each source file's size and mtime: any change to a source, or another Python,
rebuilds it. Anything unusual (no home, read-only disk, a damaged file) silently means "no cache":
the value is built as before, so the cache never changes what a command does.

``SMTP_DOCTOR_CACHE_DIR`` chooses the directory; set it to an empty string to turn the cache off.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
_FORMAT = 1


def cache_dir() -> Path | None:
    """Where cache files live; None when turned off (``SMTP_DOCTOR_CACHE_DIR=""``) or no home is known."""
    chosen = os.environ.get("SMTP_DOCTOR_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(os.path.expanduser("~"), ".cache"))
    return Path(base) / "smtp-doctor" if os.path.isabs(base) else None


def stamp(sources: Iterable[str | os.PathLike[str]]) -> tuple[Any, ...]:
    """What the cached value was built from: this interpreter and each source's path, size and mtime."""
    files = []
    for p in sources:
        st = os.stat(p)
        files.append((os.fspath(p), st.st_size, st.st_mtime_ns))
    return (_FORMAT, sys.hexversion, sys.implementation.cache_tag, tuple(files))


def read(name: str, key: tuple[Any, ...]) -> Any:
    """The value stored under ``name`` when it was built from ``key``; None otherwise."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        stored_key, value = marshal.loads((folder / f"{name}.marshal").read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return value if stored_key == key else None


def write(name: str, key: tuple[Any, ...], value: Any) -> None:
    """Store ``value`` atomically (concurrent processes never see half a file); failures are ignored."""
    folder = cache_dir()
    if folder is None:
        return
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        folder.parent.mkdir(mode=0o700, exist_ok=True)  # ~/.cache at most: never a missing home's parents
        folder.mkdir(mode=0o700, exist_ok=True)
        tmp.write_bytes(marshal.dumps((key, value)))
        os.replace(tmp, folder / f"{name}.marshal")
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            tmp.unlink()


def cached(name: str, sources: Iterable[str | os.PathLike[str]], build: Callable[[], T]) -> T:
    """``build()``, or its stored result when ``sources`` are unchanged. ``T`` must be marshal-able."""
    try:
        key = stamp(sources)
    except OSError:
        return build()
    value = read(name, key)
    if value is None:
        value = build()
        write(name, key, value)
    return value  # type: ignore[no-any-return]


# -- compiled regular expressions --------------------------------------------------------------------------------
# ``re.compile`` parses and compiles in Python (~0.15 ms a pattern); the knowledge holds hundreds. What it
# hands to the C engine (``_sre.compile``: pattern, flags, code, groups) is plain data, stored here per
# interpreter (the stamp holds sys.hexversion), so the pattern objects are exactly those re.compile makes
# (tests/test_api.py compares them with ``==``). Any surprise from the internals falls back to re.compile.


class RegexCache:
    """``compile(text, flags)`` from stored C-engine arguments when this interpreter compiled it before."""

    def __init__(self, name: str, sources: Iterable[str | os.PathLike[str]]) -> None:
        self.name, self.changed = name, False
        try:
            self.key: tuple[Any, ...] | None = stamp(sources)
        except OSError:
            self.key = None
        stored = read(name, self.key) if self.key is not None else None
        self.stored: dict[tuple[str, int], tuple[Any, ...]] = stored if isinstance(stored, dict) else {}

    def compile(self, text: str, flags: int = 0) -> re.Pattern[str]:
        flags = int(flags)
        args = self.stored.get((text, flags))
        try:
            import _sre

            if args is None:
                args = _engine_args(text, flags)
                self.stored[(text, flags)] = args
                self.changed = True
            compiled: re.Pattern[str] = _sre.compile(*args)
            return compiled
        except Exception:  # noqa: BLE001 - another Python's internals: the public way, same result
            self.stored.pop((text, flags), None)
            return re.compile(text, flags)

    def save(self) -> None:
        if self.changed and self.key is not None:
            write(self.name, self.key, self.stored)
            self.changed = False


def _engine_args(text: str, flags: int) -> tuple[Any, ...]:
    """What ``re._compiler.compile`` passes to ``_sre.compile`` (CPython 3.11+)."""
    from re import _compiler, _parser  # type: ignore[attr-defined]

    parsed = _parser.parse(text, flags)
    code = _compiler._code(parsed, flags)
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for group, index in groupindex.items():
        indexgroup[index] = group
    # plain ints: the code holds int subclasses (opcode names), which marshal refuses
    return (text, int(flags | parsed.state.flags), [int(c) for c in code], int(parsed.state.groups - 1),
            {str(k): int(v) for k, v in groupindex.items()}, tuple(indexgroup))


_active: list[RegexCache] = []


@contextlib.contextmanager
def regex_cache(name: str, sources: Iterable[str | os.PathLike[str]]) -> Iterator[RegexCache]:
    """While active, :func:`compile_regex` uses (and fills) the cache ``name``; stored when the block ends."""
    rc = RegexCache(name, sources)
    _active.append(rc)
    try:
        yield rc
    finally:
        _active.remove(rc)
        rc.save()


_shared: list[RegexCache] = []


def compile_regex(text: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile`` for the package's own fixed patterns (never for user input): through the active
    :func:`regex_cache`, else through one shared cache stored when the process ends."""
    if _active:
        return _active[-1].compile(text, flags)
    if not _shared:
        import atexit

        _shared.append(RegexCache("regexes", ()))
        atexit.register(_shared[0].save)
    return _shared[0].compile(text, flags)
