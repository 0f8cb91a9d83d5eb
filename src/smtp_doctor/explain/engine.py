"""Text → ranked failure modes, each with a confidence and the evidence that produced it. Pure: no I/O.

Scoring, in plain terms: a mode scores the confidence of its strongest matching pattern, a little more
for each further independent pattern (+0.05, at most +0.1), ±0.25 when the port in the text is typical
or atypical for it. Scores stay below 1: a text is evidence, not proof, and the live server (``--probe``)
is what confirms. A catch-all mode (``generic``) steps aside when a specific mode of its category matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import Fields, extract, nearby_host_port
from .knowledge import Knowledge, Mode, Pattern, load

#: At or above this a match is reported as the answer; below, as "not recognised" with candidates.
RECOGNISED = 0.5
HIGH = 0.8
MAX_TEXT = 256 * 1024  #: longer input is cut (a pasted error is never this long; a log goes to --log)


@dataclass(frozen=True)
class Evidence:
    pattern: str  #: pattern id, "<mode>#<index>"
    span: tuple[int, int]
    text: str  #: the matched part of the input
    client: str
    lib: str
    openssl: str
    source: str


@dataclass
class Match:
    mode: Mode
    confidence: float
    evidence: list[Evidence] = field(default_factory=list)
    alternative: bool = False  #: listed only because a better match names it in also_consider

    @property
    def level(self) -> str:
        return "high" if self.confidence >= HIGH else "medium" if self.confidence >= RECOGNISED else "low"


@dataclass
class Explanation:
    text: str
    fields: Fields
    matches: list[Match]  #: best first
    near_misses: list[str] = field(default_factory=list)  #: keywords seen when nothing matched

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches and self.matches[0].confidence >= RECOGNISED else None

    @property
    def recognised(self) -> bool:
        return self.best is not None


def _pattern_hits(p: Pattern, text: str, f: Fields) -> Evidence | None:
    if p.code is not None:
        if not any(r.code == p.code and (p.enhanced is None or r.enhanced == p.enhanced) for r in f.replies):
            return None
    elif p.enhanced is not None and not any(r.enhanced == p.enhanced for r in f.replies):
        return None
    if p.regex is not None:
        m = p.regex.search(text)
        if m is None:
            return None
        span, quoted = m.span(), m.group(0)
    else:
        reply = next(r for r in f.replies if r.code == p.code)
        quoted = str(reply)
        at = text.find(str(reply.code))
        span = (at, at + len(str(reply.code))) if at >= 0 else (0, 0)
    return Evidence(p.id, span, quoted[:300], p.client, p.lib, p.openssl, p.source)


def _distinct(hits: list[tuple[Pattern, Evidence]]) -> list[tuple[Pattern, Evidence]]:
    """Strongest first; a hit inside the span of a kept one is the same evidence, not more of it."""
    hits.sort(key=lambda h: (-h[0].conf, -(h[1].span[1] - h[1].span[0])))
    kept: list[tuple[Pattern, Evidence]] = []
    for p, ev in hits:
        a, b = ev.span
        if not any(k.span[0] <= a and b <= k.span[1] and b > a for _, k in kept):
            kept.append((p, ev))
    return kept


def _score(mode: Mode, hits: list[tuple[Pattern, Evidence]], f: Fields) -> float:
    best = max(p.conf for p, _ in hits)
    score = best + min(0.1, 0.05 * (len(hits) - 1))
    if f.port is not None:
        if f.port in mode.ports_likely:
            score += 0.25
        elif f.port in mode.ports_unlikely:
            score -= 0.25
    return round(max(0.05, min(0.97, score)), 2)


def explain(text: str, kb: Knowledge | None = None, context: str = "") -> Explanation:
    """Classify ``text`` (one error, a traceback, a debug transcript).

    ``context`` (the log lines just before) only supplies a host or port the text itself lacks.
    """
    kb = kb or load()
    text = text[:MAX_TEXT]
    f = extract(text, kb)
    if context and (f.host is None or f.port is None):
        host, port = nearby_host_port(context[-4096:], kb)
        f.host = f.host or host
        f.port = f.port if f.port is not None else port
    found: list[Match] = []
    for mode in kb.modes.values():
        hits = _distinct([(p, ev) for p in mode.patterns if (ev := _pattern_hits(p, text, f)) is not None])
        if hits:
            found.append(Match(mode, _score(mode, hits, f), [ev for _, ev in hits]))
    specific = {m.mode.category for m in found if not m.mode.generic}
    # A catch-all steps aside for a specific mode of its own category; a wrapper for any specific mode.
    found = [m for m in found if not m.mode.generic or not specific
             or (m.mode.category not in specific and m.mode.category != "wrapper")]
    found.sort(key=lambda m: (-m.confidence, m.mode.id))
    seen = {m.mode.id for m in found}
    if found:
        for alt in found[0].mode.also_consider:
            if alt not in seen:
                found.append(Match(kb.modes[alt], round(found[0].confidence * 0.5, 2), alternative=True))
                seen.add(alt)
    near: list[str] = []
    if not found:
        near = [n for n in kb.needles if n in text.lower()]
        found = _closest(near, kb)
    return Explanation(text, f, found, near)


def _closest(words: list[str], kb: Knowledge) -> list[Match]:
    """Modes whose patterns share words with an unmatched text: candidates, never an answer."""
    scored = []
    for mode in kb.modes.values():
        source = " ".join(p.regex.pattern.lower() for p in mode.patterns if p.regex is not None)
        shared = sum(1 for w in words if w in source)
        if shared:
            scored.append((shared, mode))
    scored.sort(key=lambda s: (-s[0], s[1].id))
    return [Match(mode, round(min(0.3, 0.1 * shared), 2), alternative=True) for shared, mode in scored[:3]]
