"""EHLO capabilities (RFC 5321 §4.1.1.1) as structured data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .reply import Reply

#: RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), ASCII only.
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
#: RFC 1870: SIZE takes ASCII digits; 20 of them already exceed any real limit (no 4300-digit int()).
_SIZE = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class Capabilities:
    """What a server advertised in one EHLO reply. Keywords are upper-cased; params kept as sent."""

    greeting_line: str = ""
    keywords: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, ...] = ()
    #: EHLO lines that are not ``keyword [params]`` as RFC 5321 spells it (kept for a finding, never fatal).
    invalid: tuple[str, ...] = ()

    @property
    def starttls(self) -> bool:
        return "STARTTLS" in self.keywords

    @property
    def size(self) -> int | None:
        value = self.keywords.get("SIZE", "")
        return int(value) if _SIZE.fullmatch(value) else None

    @property
    def size_invalid(self) -> bool:
        """SIZE was advertised with a parameter that is not a number (``SIZE ²``, ``SIZE 10MB``)."""
        value = self.keywords.get("SIZE")
        return value is not None and value != "" and self.size is None

    def has(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    def to_dict(self) -> dict[str, object]:
        return {"keywords": dict(self.keywords), "auth": list(self.auth), "size": self.size,
                "starttls": self.starttls, "invalid": list(self.invalid)}


def parse_ehlo(reply: Reply) -> Capabilities:
    """Parse a 250 EHLO reply. ``AUTH=PLAIN LOGIN`` (pre-RFC 4954 syntax) counts as AUTH too."""
    keywords: dict[str, str] = {}
    auth: list[str] = []
    invalid: list[str] = []
    for line in reply.lines[1:]:
        word, _, params = line.strip().partition(" ")
        if not word:
            continue
        if word.upper().startswith("AUTH="):
            params, word = word[5:] + (" " + params if params else ""), "AUTH"
        if not _KEYWORD.fullmatch(word):
            invalid.append(line[:200])
            continue
        key = word.upper()
        keywords.setdefault(key, params.strip())
        if key == "AUTH":
            auth.extend(m.upper() for m in params.split() if m.upper() not in auth)
    return Capabilities(reply.lines[0] if reply.lines else "", keywords, tuple(auth), tuple(invalid))
