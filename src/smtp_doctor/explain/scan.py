"""Stream log files and group the SMTP/TLS failures in them, in flat memory.

Why it is fast: files are read in 1 MiB blocks and one case-insensitive alternation of cheap literal needles
(errors.toml ``needles``) runs over each block in RE2 (google-re2: a DFA, ~600 MiB/s; Python's backtracking
``re`` tries every alternative at every byte, 17 MiB/s); only lines that contain a needle are decoded and
classified. Repeated
failures differ only in timestamps, ids and addresses, so classification is cached by the line with those
masked (and, for a line that names no host or port, by what the lines before it name).
Memory is one block plus bounded tables (groups, cache, samples).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import re2

from .engine import Explanation, explain
from .fields import host_port
from .knowledge import Knowledge, load, span_search

BLOCK = 1 << 20
MAX_LINE = 8192  #: longer lines are classified on their first 8 KiB (a minified blob is not an error line)
CONTEXT_LINES = 3  #: lines before a hit searched for host/port when the hit itself names none
CONTEXT_BYTES = 2048  #: of which at most this much
CONTEXT_SECONDS = 120  #: and only lines logged this close in time (when both carry a timestamp)
CACHE_SIZE = 4096
MAX_GROUPS = 1000
MAX_UNCLASSIFIED_SAMPLES = 5
MAX_FAILURE_LINES = 12  #: lines read as one failure at most (a longer stack trace is cut)
FOLLOW_LINES = 8  #: a line this close after a failure's last line, with no stamp of its own, belongs to it
LEADING = 40  #: a log line's own timestamp starts within this many characters

_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?"  # ISO 8601 / Rails / Python
    r"|\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"  # common log format
    r"|\b[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}\b"  # syslog
)
#: What varies between repeats of one failure: timestamps, pids, request ids, hex addresses, durations.
#: A lookahead on the first character, then anchored at a word start (``\b``), so that most positions fail at
#: once: this runs on every candidate line. Addresses are masked in a second pass, only in lines with an "@"
#: (one rejected recipient is like another).
_VOLATILE = re.compile(
    r"(?=[#0-9a-fA-Fp])(?:#\d+|\b(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b|\d{6,}\b|\d+(?:\.\d+)?\s?ms\b|pid=\d+))")
_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+")


def _masked(text: str) -> str:
    """The cache key of a failure's text: its volatile parts replaced by '#'."""
    text = _VOLATILE.sub("#", text)
    return _ADDRESS.sub("#", text) if "@" in text else text


#: Every hex digit as one letter: repeats of one log line with other ids, pids and times share this shape
_SHAPE = bytes.maketrans(b"0123456789abcdefABCDEF", b"h" * 22)


class _Masker:
    """``_masked`` without running its regex on every line of a failure storm: the volatile spans of the first
    line of each shape (hex digits folded, so ids of one length look alike) are kept and spliced into the next
    lines of that shape, each span checked to be volatile in this line too (else ``_masked`` runs). A line with
    an id where its shape's first line had none keeps that id in its key: a key of its own, a cache miss. So a
    key never joins two texts ``_masked`` would keep apart."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._spans: dict[bytes, list[tuple[int, int]]] = {}

    def __call__(self, text: str) -> str:
        if "@" in text:
            return _masked(text)  # addresses vary in length: no shape to share
        shape = text.encode("utf-8", "surrogateescape").translate(_SHAPE)  # bytes: one C pass, no dict
        spans = self._spans.get(shape)
        if spans is None:
            if len(self._spans) >= self.size:
                self._spans.clear()
            spans = self._spans[shape] = [m.span() for m in _VOLATILE.finditer(text)]
        if not spans:
            return text
        out, at = [], 0
        for a, b in spans:
            if _VOLATILE.fullmatch(text, a, b) is None:  # not an id here ("deadbeef" where "1eadbeef" was)
                return _masked(text)
            out.append(text[at:a])
            at = b
        out.append(text[at:])
        return "#".join(out)


def _leading_timestamp(line: str) -> str | None:
    """The timestamp the log line starts with (after a level letter or a bracket), else None."""
    m = _TIMESTAMP.search(line, 0, LEADING + 40)
    return m.group(0) if m is not None and m.start() < LEADING else None


def _seconds(line: str) -> float | None:
    """The line's timestamp in seconds (any epoch: only differences are used), or None."""
    m = _TIMESTAMP.search(line)
    if m is None:
        return None
    ts = m.group(0)
    for parse in (lambda: datetime.fromisoformat(ts.replace(" UTC", "+00:00").replace(",", ".")),
                  lambda: datetime.strptime(ts, "%d/%b/%Y:%H:%M:%S %z"),
                  lambda: datetime.strptime(f"2000 {ts}", "%Y %b %d %H:%M:%S")):  # a leap year: Feb 29 parses
        try:
            when = parse()
        except ValueError:
            continue
        return when.replace(tzinfo=when.tzinfo or UTC).timestamp()
    return None


@dataclass
class Group:
    mode: str
    host: str | None
    port: int | None
    confidence: float
    count: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    first_where: str = ""  #: "file:line"
    last_where: str = ""
    sample: str = ""
    explanation: Explanation | None = None


@dataclass
class ScanResult:
    files: list[str] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0
    candidate_lines: int = 0  #: lines that passed the needle prefilter
    failures: int = 0
    groups: list[Group] = field(default_factory=list)
    unclassified: int = 0
    unclassified_samples: list[str] = field(default_factory=list)
    groups_truncated: bool = False


def needle_regex(kb: Knowledge) -> Any:
    """One RE2 pattern for every needle, case-insensitive, over raw bytes (offsets are byte offsets)."""
    options = re2.Options()
    options.max_mem = 64 << 20  # the DFA cache: too small and RE2 falls back to its slower NFA
    return re2.compile(b"(?i)" + b"|".join(re.escape(n.lower()).encode() for n in sorted(set(kb.needles))),
                       options)


class Scanner:
    """Feed it files one after another; ``result`` holds the groups, in order of first occurrence."""

    def __init__(self, kb: Knowledge | None = None, max_line: int = MAX_LINE) -> None:
        self.kb = kb or load()
        self.needles = needle_regex(self.kb)
        self._search = span_search(self.needles)
        self._mask = _Masker()
        self.max_line = max_line
        self.result = ScanResult()
        self._groups: dict[tuple[str, str | None, int | None], Group] = {}
        self._cache: OrderedDict[str, tuple[tuple[str | None, int | None],
                                            dict[tuple[str | None, int | None] | None, Explanation]]] = OrderedDict()
        #: host/port and timestamp of recently seen lines, by their exact text: in a failure storm the lines
        #: before a failure are earlier failures, already read once (bounded like the cache)
        self._lines: dict[str, tuple[tuple[str | None, int | None], float | None | bool]] = {}
        self._tail = b""  #: end of the previous block, for the context of a block's first lines
        #: the failure being read: its lines, where it starts, the lines before it, its last line number.
        #: Lines with no timestamp of their own right after it (a stack trace, Node's `code: 'ETIMEDOUT'`,
        #: JavaMail's debug lines) are part of it: one failure, one group.
        self._pending: list[str] = []
        self._pending_at: tuple[str, bytes, int, str | None] = ("", b"", -10, None)  #: where, before, last, stamp

    def _classify(self, line: str, before: bytes, stamp: str | None = None) -> Explanation:
        """Cached by the line with its volatile parts masked. A line that names no host or port borrows them
        from the lines before it (``before``, decoded only then), so for such a line what those lines name is
        part of the key."""
        # the line's own leading stamp is known: dropping it is a string replace, not a regex pass
        key = self._mask(line.replace(stamp, "", 1) if stamp else _TIMESTAMP.sub("", line, count=2))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = (host_port(line, self.kb), {})
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        own, by_context = entry
        self._remember(line, own)
        borrows = None in own
        where = None
        context = ""
        if borrows and before:
            context, where = self._borrow(line, before)
        exp = by_context.get(where)
        if exp is None:
            exp = by_context[where] = explain(line, self.kb, context)
        return exp

    def _borrow(self, line: str, before: bytes) -> tuple[str, tuple[str | None, int | None] | None]:
        """The host and port a failure borrows from the last CONTEXT_LINES lines before it, nearest first,
        from lines logged close in time (a host named by an event an hour earlier is not where this failure
        happened; lines without a timestamp stay); stops at the first line that completes both. Returns the
        lines used (the context explain gets) and what they name."""
        used: list[str] = []
        host: str | None = None
        port: int | None = None
        at: float | None | bool = False  # the failure's own time, parsed only if a line names something
        for raw in reversed(before.split(b"\n")[-CONTEXT_LINES - 1:]):
            if not raw.strip():
                continue
            text = raw.decode("utf-8", "replace")
            h, pt = self._host_port(text)
            if h is None and pt is None:
                continue
            if at is False:
                at = self._seconds(line)
            if isinstance(at, float) and (t := self._seconds(text)) is not None and abs(at - t) > CONTEXT_SECONDS:
                continue
            used.append(text)
            host = host or h
            port = port if port is not None else pt
            if host is not None and port is not None:
                break
        if not used:
            return "", None
        return "\n".join(reversed(used)), (host, port)

    def _remember(self, line: str, hp: tuple[str | None, int | None], secs: float | None | bool = False) -> None:
        if len(self._lines) >= CACHE_SIZE:
            self._lines.clear()  # bounded; refilled by the next lines
        self._lines[line] = (hp, secs)

    def _host_port(self, line: str) -> tuple[str | None, int | None]:
        known = self._lines.get(line)
        if known is not None:
            return known[0]
        hp = host_port(line, self.kb)
        self._remember(line, hp)
        return hp

    def _seconds(self, line: str) -> float | None:
        known = self._lines.get(line)
        if known is not None and known[1] is not False:
            return known[1]  # type: ignore[return-value]
        secs = _seconds(line)
        self._remember(line, known[0] if known is not None else host_port(line, self.kb), secs)
        return secs

    def _record(self, line: str, where: str, before: bytes, stamp: str | None) -> None:
        r = self.result
        exp = self._classify(line, before, stamp)
        best = exp.best
        if best is None:
            r.unclassified += 1
            if len(r.unclassified_samples) < MAX_UNCLASSIFIED_SAMPLES:
                r.unclassified_samples.append(line[:300])
            return
        r.failures += 1
        line = line.split("\n", 1)[0]  # a failure's own first line is its sample and its time
        key = (best.mode.id, exp.fields.host, exp.fields.port)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= MAX_GROUPS:
                r.groups_truncated = True
                return
            group = self._groups[key] = Group(best.mode.id, exp.fields.host, exp.fields.port, best.confidence,
                                              first_where=where, sample=line[:500], explanation=exp)
            r.groups.append(group)
        group.count += 1
        group.last_where = where
        ts = stamp  # the log's own leading stamp: never a date quoted in the message (a certificate's)
        if ts:
            group.first_ts = group.first_ts or ts
            group.last_ts = ts

    def feed(self, stream: BinaryIO, name: str) -> None:
        """Scan one binary stream, block by block."""
        r = self.result
        r.files.append(name)
        self._tail = b""
        carry = b""
        lineno = 0  # lines fully consumed before the current block
        while True:
            chunk = stream.read(BLOCK)
            r.bytes += len(chunk)
            if not chunk and not carry:
                break
            block = carry + chunk
            if chunk:
                cut = block.rfind(b"\n")
                if cut < 0:  # inside one enormous line: keep only its head, so memory stays bounded
                    carry = block[: self.max_line]
                    continue
                carry, block = block[cut + 1:], block[: cut + 1]
            else:
                carry = b""
            self._scan_block(block, name, lineno)
            self._tail = (self._tail + block)[-CONTEXT_BYTES:]
            lineno += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        self._flush()
        r.lines += lineno

    def _scan_block(self, block: bytes, name: str, lineno: int) -> None:
        pos_line = 0  # offset of the line start whose number is `lineno`
        search = self._search
        m = search(block, 0)
        while m is not None:
            start = block.rfind(b"\n", 0, m[0]) + 1
            end = block.find(b"\n", m[1])
            end = len(block) if end < 0 else end
            lineno += block.count(b"\n", pos_line, start)
            pos_line = start
            raw = block[start:min(end, start + self.max_line)]
            before = block[max(0, start - CONTEXT_BYTES):start]
            if len(before) < CONTEXT_BYTES:
                before = (self._tail + before)[-CONTEXT_BYTES:]
            self._take(raw.decode("utf-8", "replace").rstrip("\r"), name, lineno, before)
            m = search(block, end + 1) if end + 1 < len(block) else None  # the next line with a needle

    def _take(self, line: str, name: str, lineno: int, before: bytes) -> None:
        """A candidate line: part of the failure being read, or the start of the next one."""
        self.result.candidate_lines += 1
        where, context, last, first_stamp = self._pending_at
        stamp = _leading_timestamp(line)
        # a line of the same failure: close after it, with no stamp of its own (a stack frame, an error object's
        # fields); a stamped line is a new log record, even in the same second
        if self._pending and lineno - last <= FOLLOW_LINES and len(self._pending) < MAX_FAILURE_LINES \
                and stamp is None:
            self._pending.append(line)
            self._pending_at = (where, context, lineno, first_stamp)
            return
        self._flush()
        self._pending = [line]
        self._pending_at = (f"{name}:{lineno + 1}", before, lineno, stamp)

    def _flush(self) -> None:
        if self._pending:
            where, before, _, stamp = self._pending_at
            self._record("\n".join(self._pending), where, before, stamp)
            self._pending = []

    def finish(self) -> ScanResult:
        self.result.groups.sort(key=lambda g: -g.count)
        return self.result


def scan_files(paths: Iterable[str], kb: Knowledge | None = None) -> ScanResult:
    scanner = Scanner(kb)
    for path in paths:
        with open(path, "rb") as fh:
            scanner.feed(fh, path)
    return scanner.finish()
