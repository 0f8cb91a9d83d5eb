"""Load knowledge/errors.toml into compiled, validated rules (once per process).

The TOML is the knowledge; this module only checks its shape and compiles the regexes, so a typo in
the data fails at load time with the entry's id, not later as a silent non-match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cache
from pathlib import Path
from typing import Any

import re2

from ..cache import cached, compile_regex, regex_cache

FRAMEWORKS = ("actionmailer", "mastodon", "gitlab", "django", "smtplib", "nodemailer", "phpmailer", "symfony",
              "jakarta", "dotnet", "go")
_FLAGS = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True)
class Pattern:
    mode: str
    index: int
    regex: re.Pattern[str] | None
    code: int | None
    enhanced: str | None
    conf: float
    client: str
    lib: str
    openssl: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.mode}#{self.index}"


@dataclass(frozen=True)
class When:
    """A mode shown by the session's facts: all of ``all`` hold and none of ``none``."""

    all: frozenset[str]
    none: frozenset[str]
    conf: float
    source: str


@dataclass(frozen=True)
class Mode:
    id: str
    category: str
    fix: str
    next: str
    generic: bool
    ports_likely: frozenset[int]
    ports_unlikely: frozenset[int]
    also_consider: tuple[str, ...]
    probe_confirms: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    #: [[fact]] ids (structure.py) that make this mode more likely (+0.15 each) or contradict it (-0.35 each)
    support: tuple[str, ...] = ()
    contradict: tuple[str, ...] = ()
    when: tuple[When, ...] = ()  #: matched by facts about the session, not by words (unsafe successes)


@dataclass(frozen=True)
class Client:
    id: str
    regex: re.Pattern[str]
    frameworks: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Fact:
    """Something the text shows about the session (who printed it, what it was set to, how far it got).
    Either a regex over the text, or derived: every fact of ``all`` and none of ``none`` (what a transcript
    does NOT show is evidence too: a client's EHLO with no AUTH after it means no password was ever sent)."""

    id: str
    regex: re.Pattern[str] | None
    source: str
    all: frozenset[str] = frozenset()
    none: frozenset[str] = frozenset()

    def holds(self, text: str, found: set[str]) -> bool:
        if self.regex is not None:
            return self.regex.search(text) is not None
        return self.all <= found and not self.none & found


@dataclass(frozen=True)
class FieldRule:
    regex: re.Pattern[str]
    source: str


@dataclass(frozen=True)
class Knowledge:
    modes: dict[str, Mode]
    clients: tuple[Client, ...]
    framework_hints: tuple[tuple[str, re.Pattern[str]], ...]
    fields: tuple[FieldRule, ...]
    needles: tuple[str, ...]
    facts: tuple[Fact, ...] = ()
    #: openssl's X.509 verify result codes (s_client "Verify return code: N") -> mode id
    verify_codes: dict[int, str] = dataclass_field(default_factory=dict)
    #: True when some [[field]] rule may match the text: one RE2 pass (the rules with their lookarounds
    #: dropped, so a superset) spares the ~30 Python regexes on the many log lines that name no host or port
    field_screen: Callable[[str], bool] = lambda _text: True

    @property
    def patterns(self) -> list[Pattern]:
        return [p for m in self.modes.values() for p in m.patterns]


def _compile(text: str, where: str) -> re.Pattern[str]:
    try:
        return compile_regex(text, _FLAGS)  # compiled once per interpreter, then from the cache (issue 16)
    except re.error as exc:
        raise ValueError(f"errors.toml: bad regex in {where}: {exc}") from exc


def _pattern(mode: str, index: int, raw: dict[str, Any]) -> Pattern:
    where = f"mode {mode} pattern {index}"
    if "re" not in raw and "code" not in raw:
        raise ValueError(f"errors.toml: {where} has neither re nor code")
    conf = float(raw["conf"])
    if not 0 < conf < 1:
        raise ValueError(f"errors.toml: {where}: conf must be in (0, 1); certainty is never claimed")
    return Pattern(mode, index, _compile(raw["re"], where) if "re" in raw else None,
                   int(raw["code"]) if "code" in raw else None, raw.get("enhanced"), conf,
                   raw.get("client", ""), raw.get("lib", ""), raw.get("openssl", ""), raw["source"])


_LOOKAROUND = re.compile(r"\(\?<?[=!][^()]*(?:\([^()]*\)[^()]*)*\)")


def _screen(rules: tuple[FieldRule, ...]) -> Callable[[str], bool]:
    """A superset test for all field rules at once (see Knowledge.field_screen); every rule if RE2 refuses."""
    parts = [_LOOKAROUND.sub("", r.regex.pattern).replace("(?P<", "(?:<") for r in rules]
    parts = [re.sub(r"\(\?:<\w+>", "(?:", p) for p in parts]
    try:
        rx = re2.compile("(?im)" + "|".join(f"(?:{p})" for p in parts))
    except Exception:  # an RE2-incompatible rule: no screen, every rule runs (slower, same answers)
        return lambda _text: True
    search = span_search(rx)
    return lambda text: search(text.encode("utf-8", "surrogateescape"), 0) is not None


def span_search(rx: Any) -> Callable[[bytes, int], tuple[int, int] | None]:
    """``search(data, pos)`` -> the span of RE2 pattern ``rx``'s next match in UTF-8 ``data``, or None.
    RE2's Python wrapper builds a generator and a Match object per call (a fifth of a failure storm's
    ``explain --log``); its compiled pattern answers the same question directly. Falls back to the public
    ``search`` where that object is not there (another google-re2 release)."""
    raw = getattr(rx, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if raw is None or anchor is None or not hasattr(raw, "Match"):
        def public(data: bytes, pos: int) -> tuple[int, int] | None:
            m = rx.search(data if isinstance(rx.pattern, bytes) else data.decode("utf-8", "surrogateescape"),
                          pos)
            return None if m is None else (m.start(), m.end())
        return public

    def direct(data: bytes, pos: int) -> tuple[int, int] | None:
        span = raw.Match(anchor, data, pos, len(data))[0]
        return None if span[0] < 0 else (span[0], span[1])
    return direct


def parse(data: dict[str, Any]) -> Knowledge:
    modes: dict[str, Mode] = {}
    for raw in data["mode"]:
        mid = raw["id"]
        if mid in modes:
            raise ValueError(f"errors.toml: mode {mid} defined twice")
        pats = tuple(_pattern(mid, i, p) for i, p in enumerate(raw.get("pattern", [])))
        modes[mid] = Mode(mid, raw["category"], raw["fix"], raw.get("next", "none"), bool(raw.get("generic")),
                          frozenset(raw.get("ports_likely", ())), frozenset(raw.get("ports_unlikely", ())),
                          tuple(raw.get("also_consider", ())), tuple(raw.get("probe_confirms", ())), pats,
                          tuple(raw.get("support", ())), tuple(raw.get("contradict", ())),
                          tuple(When(frozenset(w.get("all", ())), frozenset(w.get("none", ())), float(w["conf"]),
                                     w["source"]) for w in raw.get("when", [])))
    for m in modes.values():
        unknown = [a for a in m.also_consider if a not in modes]
        if unknown:
            raise ValueError(f"errors.toml: mode {m.id} also_consider names unknown {unknown}")
    # A mode no text reveals on its own (a missing intermediate reads like an unknown CA) must be reachable
    # as another mode's alternative; the probe (probe_confirms) is what tells it apart.
    named = {a for m in modes.values() for a in m.also_consider}
    for m in modes.values():
        if not m.patterns and not m.when and m.id not in named:
            raise ValueError(f"errors.toml: mode {m.id} has no pattern and is no mode's alternative")
    clients = tuple(Client(c["id"], _compile(c["re"], f"client {c['id']}"), tuple(c.get("frameworks", ())),
                           c.get("source", "")) for c in data["client"])
    hints = tuple((h["id"], _compile(h["re"], f"framework_hint {h['id']}")) for h in data["framework_hint"])
    for fid, _ in hints:
        if fid not in FRAMEWORKS:
            raise ValueError(f"errors.toml: framework_hint {fid} is not one of {FRAMEWORKS}")
    fields = tuple(FieldRule(_compile(f["re"], f"field {i}"), f.get("source", ""))
                   for i, f in enumerate(data["field"]))
    facts = tuple(Fact(f["id"], _compile(f["re"], f"fact {f['id']}") if "re" in f else None, f["source"],
                       frozenset(f.get("all", ())), frozenset(f.get("none", ()))) for f in data.get("fact", []))
    known: set[str] = set()
    for fact in facts:  # a derived fact names only facts defined before it: evaluated in order
        if fact.regex is None and (not fact.all or not (fact.all | fact.none) <= known):
            raise ValueError(f"errors.toml: derived fact {fact.id} needs `all` of facts defined before it")
        known.add(fact.id)
    for m in modes.values():
        unknown = [x for x in (*m.support, *m.contradict, *(f for w in m.when for f in w.all | w.none))
                   if x not in known]
        if unknown:
            raise ValueError(f"errors.toml: mode {m.id} names unknown facts {unknown}")
    verify = {int(v["code"]): v["mode"] for v in data.get("verify_code", [])}
    for code, mode in verify.items():
        if mode not in modes:
            raise ValueError(f"errors.toml: verify_code {code} names unknown mode {mode}")
    return Knowledge(modes, clients, hints, fields, tuple(n.lower() for n in data["scan"]["needles"]),
                     facts, verify, _screen(fields))


@cache
def load() -> Knowledge:
    path = Path(__file__).parent.parent / "knowledge" / "errors.toml"
    data = cached("errors-toml", [path], lambda: _toml(path))  # TOML parsed once per change (cache.py)
    with regex_cache("errors-regex", [path]):
        return parse(data)


def _toml(path: Path) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))
