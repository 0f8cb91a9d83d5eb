"""The output boundary: text that came from outside (server banners, EHLO lines, replies, certificate
names, log lines, config values, argv) is made inert here before any renderer prints it.

A server or a log line must not be able to drive the terminal (window-title, clear-screen or hyperlink
escapes), reorder what people read (bidi overrides), hide text (zero-width characters), forge a line of
our own layout (a newline inside a certificate name), or be read as rich markup or ``:emoji:`` codes.
So every such character is written *visibly* (``\\x1b``, ``\\u202e``, ``\\n``), one logical value stays on
one line, and the secret filter runs on the same pass. JSON keeps values raw: its escaping is the
boundary there.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from rich.console import Console, RenderableType
from rich.markup import escape as _rich_escape
from rich.segment import Segment

from ..secrets import redact

__all__ = ["InertConsole", "escape", "escape_block", "inert", "inert_block", "json_inert", "md_code", "md_inline",
           "shown"]

#: Unicode categories that draw nothing or steer the terminal: controls (C0, DEL, C1 incl. ESC and CSI),
#: format characters (bidi embeddings/overrides/isolates/marks, zero-width spaces and joiners, BOM,
#: tags), line/paragraph separators, lone surrogates and unassigned code points.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SUSPECT = re.compile(r"[^\x20-\x7e]")
_NON_ASCII = re.compile(r"[^\x00-\x7e]")  # DEL too: json.dumps keeps it


def _visible(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _swap(m: re.Match[str]) -> str:
    ch = m.group(0)
    return _visible(ch) if unicodedata.category(ch) in _INVISIBLE else ch


def inert(value: object) -> str:
    """``value`` as one line of plain text: every control, bidi, zero-width and separator character
    (newlines too) written as a visible escape. Printable text of any script is kept as it is."""
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():
        return text
    return _SUSPECT.sub(_swap, text)


def inert_block(value: object) -> str:
    """Like :func:`inert` for text that is several lines by nature (a diff, a config file we show):
    line breaks are kept, everything else that steers the terminal is escaped."""
    text = value if isinstance(value, str) else str(value)
    return "\n".join(inert(line) for line in text.replace("\r\n", "\n").split("\n"))


def shown(value: object) -> str:
    """Outside text as it may be shown anywhere: secrets masked, then made inert (one line)."""
    return inert(redact(value if isinstance(value, str) else str(value)))


def escape(value: object) -> str:
    """Drop-in for ``rich.markup.escape`` at the output boundary: secrets masked, made inert, and
    ``[markup]`` shown literally. Use it for every value interpolated into a rich markup string."""
    return _rich_escape(shown(value))


def escape_block(value: object) -> str:
    """:func:`escape` for multi-line text (diffs, config files): line breaks kept."""
    return _rich_escape(inert_block(redact(value if isinstance(value, str) else str(value))))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!])")


def md_inline(value: object) -> str:
    """Outside text inside Markdown prose or a table cell: inert, secrets masked, and every character
    that could open a link, an image, HTML, emphasis or a new cell backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", shown(value))


def md_code(value: object) -> str:
    """Outside text as a Markdown code span, fenced with more backticks than it contains (CommonMark
    §6.1), so nothing in it is interpreted and it cannot close the span early."""
    text = shown(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class InertConsole(Console):
    """A rich console that is a second line of defence: no ``:emoji:`` codes, no highlighting, and any
    control or bidi character that reaches a text segment (a value some renderer forgot to pass
    through :func:`escape`) is written visibly. Our own colours travel in segment *styles*, never in
    the text, so they are untouched. Line breaks cannot be told apart here; :func:`escape` keeps each
    value on one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["emoji"] = False
        kwargs.setdefault("highlight", False)
        super().__init__(*args, **kwargs)

    def on_broken_pipe(self) -> None:
        """rich exits 1 when the reader of a pipe leaves (``| head``); let the CLI end with 0 instead."""
        raise BrokenPipeError

    def render(self, renderable: RenderableType, options: Any = None) -> Iterable[Segment]:
        for seg in super().render(renderable, options):
            if seg.control or seg.text.isascii() and seg.text.isprintable() or seg.text == "\n":
                yield seg
            else:
                yield Segment(inert_block(seg.text), seg.style, seg.control)


def json_inert(document: str) -> str:
    """A JSON text (``json.dumps(..., ensure_ascii=False)``) with every character :func:`inert` would
    escape written as a JSON ``\\u`` escape instead: the parsed values stay exactly the same, but a JSON
    printed on a terminal cannot steer it (C1 controls and bidi characters are not escaped by ``json``)."""
    if document.isascii() and "\x7f" not in document:
        return document
    return _NON_ASCII.sub(_json_swap, document)  # ASCII controls: json.dumps escaped them already


def _json_swap(m: re.Match[str]) -> str:
    ch = m.group(0)
    if unicodedata.category(ch) not in _INVISIBLE:
        return ch
    n = ord(ch)
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"
