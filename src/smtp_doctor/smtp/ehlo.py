"""EHLO capabilities (RFC 5321 §4.1.1.1) as structured data."""

from __future__ import annotations

from dataclasses import dataclass, field

from .reply import Reply


@dataclass(frozen=True)
class Capabilities:
    """What a server advertised in one EHLO reply. Keywords are upper-cased; params kept as sent."""

    greeting_line: str = ""
    keywords: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, ...] = ()

    @property
    def starttls(self) -> bool:
        return "STARTTLS" in self.keywords

    @property
    def size(self) -> int | None:
        value = self.keywords.get("SIZE", "")
        return int(value) if value.isdigit() else None

    def has(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    def to_dict(self) -> dict[str, object]:
        return {"keywords": dict(self.keywords), "auth": list(self.auth), "size": self.size,
                "starttls": self.starttls}


def parse_ehlo(reply: Reply) -> Capabilities:
    """Parse a 250 EHLO reply. ``AUTH=PLAIN LOGIN`` (pre-RFC 4954 syntax) counts as AUTH too."""
    keywords: dict[str, str] = {}
    auth: list[str] = []
    for line in reply.lines[1:]:
        word, _, params = line.strip().partition(" ")
        if not word:
            continue
        if word.upper().startswith("AUTH="):
            params, word = word[5:] + (" " + params if params else ""), "AUTH"
        key = word.upper()
        keywords.setdefault(key, params.strip())
        if key == "AUTH":
            auth.extend(m.upper() for m in params.split() if m.upper() not in auth)
    return Capabilities(reply.lines[0] if reply.lines else "", keywords, tuple(auth))
