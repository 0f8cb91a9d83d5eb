"""SMTP TLS Reporting (RFC 8460 §3): the ``_smtp._tls`` TXT record's grammar and its rua URIs."""

from __future__ import annotations

from dataclasses import dataclass, field

RUA_SCHEMES = ("mailto", "https")  #: RFC 8460 §3: only these two report channels exist


@dataclass
class TlsRpt:
    text: str
    rua: list[str] = field(default_factory=list)
    bad_schemes: list[str] = field(default_factory=list)
    error: str | None = None


def tlsrpt_records(texts: tuple[str, ...]) -> list[str]:
    """Records not starting with ``v=TLSRPTv1`` are not TLS-RPT records (§3)."""
    return [t for t in texts if t.startswith("v=TLSRPTv1")]


def parse(text: str) -> TlsRpt:
    """``v=TLSRPTv1; rua=mailto:…,https://…`` — v first, rua required, fields ``name=value``."""
    out = TlsRpt(text)
    parts = [p.strip(" \t") for p in text.split(";")]
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or parts[0] != "v=TLSRPTv1":
        out.error = "v=TLSRPTv1 must come first"
        return out
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        if not sep or not name or not value:
            out.error = f"field {part!r} is not name=value"
            return out
        if name.strip() == "rua":
            out.rua = [u.strip() for u in value.split(",") if u.strip()]
    if not out.rua:
        out.error = "no rua field"
        return out
    for uri in out.rua:
        scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
        if scheme not in RUA_SCHEMES:
            out.bad_schemes.append(uri)
    return out
