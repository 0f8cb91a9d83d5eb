"""Text → ranked failure modes, each with a confidence and the evidence that produced it. Pure: no I/O.

Scoring, in plain terms: a mode scores the confidence of its strongest matching pattern, a little more
for each further independent pattern (+0.05, at most +0.1), ±0.25 when the port in the text is typical
or atypical for it, +0.15 for each fact about the session that supports it and -0.35 for each that
contradicts it (structure.py: who printed it, what it was set to, how far it got). Patterns run on the
text with traceback source lines blanked: code is not what happened. An ``openssl s_client`` report's
verify result names the certificate failure; a session that worked is no failure (``succeeded``), unless
it worked unsafely (AUTH in clear, no certificate check: the ``unsafe`` modes).
Scores stay below 1: a text is evidence, not proof, and the live server (``--probe``) is what confirms.
A catch-all mode (``generic``) steps aside when a specific mode of its category matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import Fields, extract, host_port, nearby_host_port
from .knowledge import Knowledge, Mode, Pattern, load
from .structure import Reading, read

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
    reading: Reading = field(default_factory=Reading)

    @property
    def succeeded(self) -> bool:
        """The text shows a session that worked, with no failure and nothing unsafe in it."""
        return not self.matches and self.reading.succeeded

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


def _score(mode: Mode, hits: list[tuple[Pattern, Evidence]], f: Fields, facts: set[str],
           floor: float = 0.0) -> float:
    best = max([p.conf for p, _ in hits] + [floor])
    score = best + min(0.1, 0.05 * (len(hits) - 1)) if hits else best
    score += 0.15 * len(facts.intersection(mode.support)) - 0.35 * len(facts.intersection(mode.contradict))
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
    reading = read(text, kb)
    message = reading.message_text  # traceback source lines blanked: code is not what happened
    f = extract(message, kb)
    if f.host is None or f.port is None:  # a host or port in the app's own code line still says where
        host, port = host_port(text, kb)
        f.host = f.host or host
        f.port = f.port if f.port is not None else port
    if context and (f.host is None or f.port is None):
        host, port = nearby_host_port(context[-4096:], kb)
        f.host = f.host or host
        f.port = f.port if f.port is not None else port
    facts = reading.facts
    found: list[Match] = []
    for mode in kb.modes.values():
        hits = _distinct([(p, ev) for p in mode.patterns if (ev := _pattern_hits(p, message, f)) is not None])
        whens = [w for w in mode.when if w.all <= facts and not w.none & facts]
        if hits or whens:
            floor = max((w.conf for w in whens), default=0.0)
            evidence = [ev for _, ev in hits] + [Evidence(f"{mode.id}#when", (0, 0), ", ".join(sorted(w.all)), "", "",
                                                          "", w.source) for w in whens]
            found.append(Match(mode, _score(mode, hits, f, facts, floor), evidence))
    if reading.s_client and reading.verify_code and reading.verify_code in kb.verify_codes:
        found = _s_client_verdict(found, reading, kb)
    if reading.succeeded and not any(m.mode.category == "unsafe" for m in found):
        found = []  # the session worked: its words (a 535 retried, a NotBefore date) are no failure
    elif any(m.mode.category == "unsafe" for m in found) and "failed" not in facts:
        found = [m for m in found if m.mode.category == "unsafe"]
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
    if not found and not reading.succeeded:
        near = [n for n in kb.needles if n in text.lower()]
        found = _closest(near, kb)
    return Explanation(text, f, found, near, reading)


def _s_client_verdict(found: list[Match], reading: Reading, kb: Knowledge) -> list[Match]:
    """openssl s_client reports the verify result itself ("Verify return code: 10 (certificate has
    expired)"): that names the certificate failure, whatever other words its report contains."""
    mode = kb.modes[kb.verify_codes[reading.verify_code or 0]]
    ev = Evidence(f"{mode.id}#verify", (0, 0), f"verify error {reading.verify_code}: {reading.verify_text}", "openssl",
                  "", "", "openssl s_client verify result (X509_V_ERR_* codes, openssl verify(1))")
    rest = [m for m in found if m.mode.id != mode.id and m.mode.category != "certificate"]
    return [Match(mode, 0.92, [ev])] + rest


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
