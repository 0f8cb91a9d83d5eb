"""Provider knowledge (knowledge/providers.toml): who runs this host, and what do they expect?

Used by every report: expected vs observed mode per port, the provider's login convention, the
provider-specific meaning of an AUTH or policy reply, and which clouds block outbound SMTP.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

MODES = ("starttls", "implicit")
USERNAME_KINDS = ("address", "literal", "pattern", "token", "any", "none")
CONFIDENCE = ("documented", "third-party", "unverified")


@dataclass(frozen=True)
class Reply:
    pattern: re.Pattern[str]
    meaning: dict[str, str]


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    hosts: tuple[str, ...]
    ports: dict[int, str]
    auth: tuple[str, ...]
    username: str
    note: dict[str, str]
    source: str
    confidence: str
    replies: tuple[Reply, ...] = ()
    username_literal: str | None = None
    username_pattern: re.Pattern[str] | None = None
    username_hint: dict[str, str] | None = None
    match_port: int | None = None

    def mode_for(self, port: int) -> str | None:
        return self.ports.get(port)


@dataclass(frozen=True)
class Cloud:
    id: str
    name: str
    blocked: tuple[int, ...]
    note: dict[str, str]
    source: str


def _provider(raw: dict[str, Any]) -> Provider:
    return Provider(
        id=raw["id"], name=raw["name"], hosts=tuple(h.lower() for h in raw["hosts"]),
        ports={int(k): v for k, v in raw["ports"].items()}, auth=tuple(raw.get("auth", ())),
        username=raw["username"], note=raw["note"], source=raw["source"], confidence=raw["confidence"],
        replies=tuple(Reply(re.compile(r["pattern"]), r["meaning"]) for r in raw.get("replies", ())),
        username_literal=raw.get("username_literal"),
        username_pattern=re.compile(raw["username_pattern"]) if "username_pattern" in raw else None,
        username_hint=raw.get("username_hint"), match_port=raw.get("match_port"),
    )


@cache
def load() -> tuple[tuple[Provider, ...], tuple[Cloud, ...]]:
    data = tomllib.loads((resources.files("smtp_doctor") / "knowledge" / "providers.toml").read_text("utf-8"))
    providers = tuple(_provider(p) for p in data["provider"])
    clouds = tuple(Cloud(c["id"], c["name"], tuple(c["blocked"]), c["note"], c["source"]) for c in data["cloud"])
    return providers, clouds


def identify(host: str, port: int | None = None) -> Provider | None:
    """The provider behind ``host`` (and ``port``, for local bridges), or None."""
    name = host.lower().rstrip(".").strip("[]")
    for provider in load()[0]:
        if provider.match_port is not None and port != provider.match_port:
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in provider.hosts):
            return provider
    return None


def reply_meaning(provider: Provider, text: str) -> dict[str, str] | None:
    """The provider's own meaning of a server reply (e.g. Gmail 534 5.7.9 = app password needed)."""
    return next((r.meaning for r in provider.replies if r.pattern.search(text)), None)


def username_mismatch(provider: Provider, username: str) -> bool:
    """True when ``username`` breaks the provider's documented login convention."""
    if provider.username == "literal":
        return username != provider.username_literal
    if provider.username == "pattern" and provider.username_pattern is not None:
        return not provider.username_pattern.match(username)
    if provider.username == "address":
        return "@" not in username
    return False


def clouds_blocking(port: int) -> list[Cloud]:
    return [c for c in load()[1] if port in c.blocked]
