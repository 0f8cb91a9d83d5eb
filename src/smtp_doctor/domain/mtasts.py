"""MTA-STS (RFC 8461): the TXT record's grammar, the policy fetch, the policy's grammar, mx patterns.

The fetch is httpx with ``follow_redirects=False`` (RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be
followed"), to the address our resolver gave for ``mta-sts.<domain>``, with that name as SNI and
Host, so the certificate is checked against the name a sender checks.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field

import httpx

from .model import POLICY_LIMIT, PolicyFetch

#: RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT); fields separated by ";" with optional WSP
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_FIELD = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)=([\x21-\x3a\x3c\x3e-\x7e]{1,})$")
MAX_AGE_LIMIT = 31_557_600  #: RFC 8461 §3.2: max_age at most one year
MODES = ("enforce", "testing", "none")


@dataclass(frozen=True)
class TxtRecord:
    text: str
    id: str | None
    error: str | None  #: what breaks the grammar, or None


def parse_txt(text: str) -> TxtRecord:
    """``v=STSv1; id=…;`` per RFC 8461 §3.1 (extension fields allowed, ``v`` first)."""
    parts = [p.strip(" \t") for p in text.split(";")]
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or parts[0] != "v=STSv1":
        return TxtRecord(text, None, "v=STSv1 must come first")
    ident: str | None = None
    for part in parts[1:]:
        m = _FIELD.match(part)
        if not m:
            return TxtRecord(text, None, f"field {part!r} is not name=value")
        if m.group(1) == "id":
            if not _ID.match(m.group(2)):
                return TxtRecord(text, None, f"id {m.group(2)!r} is not 1-32 letters and digits")
            ident = ident or m.group(2)
    if ident is None:
        return TxtRecord(text, None, "no id field")
    return TxtRecord(text, ident, None)


def sts_records(texts: tuple[str, ...]) -> list[str]:
    """RFC 8461 §3.1: records that do not begin with ``v=STSv1;`` are discarded."""
    return [t for t in texts if t.startswith("v=STSv1")]


@dataclass
class Policy:
    version: str | None = None
    mode: str | None = None
    max_age: str | None = None
    mx: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  #: grammar problems (sts_policy_syntax)

    @property
    def mode_ok(self) -> bool:
        return self.mode in MODES

    @property
    def max_age_ok(self) -> bool:
        return self.max_age is not None and self.max_age.isdigit() and len(self.max_age) <= 10 and (
            int(self.max_age) <= MAX_AGE_LIMIT)


def parse_policy(body: bytes) -> Policy:
    """RFC 8461 §3.2: ``key: value`` lines (CRLF or LF); unknown keys are extensions and ignored."""
    p = Policy()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        p.errors.append("the policy is not UTF-8")
        return p
    for n, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):  # not in the grammar, but widely published; senders skip them
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", key):
            p.errors.append(f"line {n} is not 'key: value'")
            continue
        if key == "mx":
            p.mx.append(value)
        elif key in ("version", "mode", "max_age"):
            if getattr(p, key) is not None:
                p.errors.append(f"{key} appears twice")
            else:
                setattr(p, key, value)
    if p.version != "STSv1":
        p.errors.append("no 'version: STSv1' line" if p.version is None else f"version {p.version!r}")
    if p.max_age is None:
        p.errors.append("no max_age line")
    if p.mode in ("enforce", "testing") and not p.mx:
        p.errors.append(f"mode {p.mode} without any mx line")
    return p


def mx_matches(host: str, pattern: str) -> bool:
    """RFC 8461 §4.1: an exact name, or ``*.`` matching exactly one left-most label."""
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return host == pattern


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


def _cert_failure(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    for _ in range(8):  # bounded walk down the exception chain
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None


async def fetch_policy(domain: str, address: str, port: int, ca_file: str | None, timeout: float) -> PolicyFetch:
    """GET the policy once, never following a redirect, reading at most POLICY_LIMIT + 1 bytes."""
    host = f"mta-sts.{domain}"
    shown = f"https://{host}{'' if port == 443 else f':{port}'}/.well-known/mta-sts.txt"
    out = PolicyFetch(shown, address)
    literal = f"[{address}]" if ":" in address else address
    url = f"https://{literal}:{port}/.well-known/mta-sts.txt"
    headers = {"Host": host if port == 443 else f"{host}:{port}", "Accept": "text/plain"}
    try:
        async with asyncio.timeout(timeout * 3), httpx.AsyncClient(  # a whole-fetch deadline: no drip-feed hang
                verify=_tls_context(ca_file), follow_redirects=False, timeout=timeout, trust_env=False) as client:
            request = client.build_request("GET", url, headers=headers, extensions={"sni_hostname": host})
            response = await client.send(request, stream=True)
            try:
                out.status = response.status_code
                out.content_type = response.headers.get("content-type")
                out.location = response.headers.get("location")
                data = bytearray()
                async for chunk in response.aiter_raw():
                    data += chunk
                    if len(data) > POLICY_LIMIT:
                        out.too_large = True
                        break
                out.body = bytes(data[:POLICY_LIMIT])
            finally:
                await response.aclose()
    except TimeoutError:
        out.error = f"no complete answer within {timeout * 3:.0f} s"
    except httpx.HTTPError as exc:
        reason = _cert_failure(exc)
        out.cert_error = reason is not None
        out.error = reason or (str(exc) or type(exc).__name__)
    return out
