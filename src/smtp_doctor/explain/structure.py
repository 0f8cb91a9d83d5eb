"""Read the STRUCTURE of a pasted text, not only its needles: which client printed it, what it was set to,
how far the session got, and ``openssl s_client``'s own report. Pure: no I/O.

Why: the same words mean different failures depending on who printed them and where the session died. A
greeting timeout is "plaintext to an implicit-TLS port" only if the client spoke plaintext; ``v:NotBefore:``
in an s_client report is a certificate's validity, not an error; a line of source code in a Python traceback
(``raise SMTPException("No suitable authentication method found.")``) is not what happened. The facts are
regexes in errors.toml ``[[fact]]`` (data, with a source each); this module only combines them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..cache import compile_regex  # fixed patterns compiled once per interpreter (issue 16)
from .knowledge import Knowledge

#: Python traceback source lines: 4 spaces of indent after a ``File "…", line N`` line, and the ^^^ markers
_PY_SOURCE = compile_regex(r'^(\s*File "[^"\n]+", line \d+[^\n]*\n)((?:[ \t]{4,}[^\n]*\n)+)', re.MULTILINE)
_CARETS = compile_regex(r"^\s*[~^]+\s*$", re.MULTILINE)
#: openssl s_client: "Verify return code: 10 (certificate has expired)", "verify error:num=64:IP address mismatch"
_S_VERIFY = compile_regex(r"^\s*Verify return code: (\d+) \(([^)\n]*)\)", re.MULTILINE)
_S_VERIFY_ERR = compile_regex(r"^verify error:num=(\d+):([^\n]*)$", re.MULTILINE)


@dataclass
class Reading:
    """What the text shows beyond its error words."""

    facts: set[str] = field(default_factory=set)  #: errors.toml [[fact]] ids that hold
    s_client: bool = False  #: the text is an ``openssl s_client`` transcript
    verify_code: int | None = None  #: s_client's X.509 verify result (0 = ok)
    verify_text: str = ""
    #: the text with source-code lines of tracebacks and stack frames blanked (same length, same offsets)
    message_text: str = ""

    @property
    def tls_setting(self) -> str | None:
        for mode in ("implicit", "starttls", "plain"):
            if f"set_{mode}" in self.facts:
                return mode
        return None

    @property
    def succeeded(self) -> bool:
        """The session reached its end without a failure: delivered, or s_client with a clean handshake."""
        if "failed" in self.facts:
            return False
        if self.s_client:
            return "tls_established" in self.facts and self.verify_code in (0, None) and "delivered" not in self.facts
        return "delivered" in self.facts


def _blank(m: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", m.group(0))


def message_only(text: str) -> str:
    """Blank what is code, not message: traceback source lines (the frame's own ``File`` line stays, so a
    path still names the library) and ^^^ markers. Offsets stay as they were."""
    if "File \"" in text:
        text = _PY_SOURCE.sub(lambda m: m.group(1) + re.sub(r"[^\n]", " ", m.group(2)), text)
        text = _CARETS.sub(_blank, text)
    return text


def read(text: str, kb: Knowledge) -> Reading:
    r = Reading(message_text=message_only(text))
    for fact in kb.facts:  # in order: a derived fact reads the ones before it
        if fact.holds(text, r.facts):
            r.facts.add(fact.id)
    r.s_client = "s_client" in r.facts
    if r.s_client:
        codes = [(int(m.group(1)), m.group(2)) for m in _S_VERIFY.finditer(text)]
        codes += [(int(m.group(1)), m.group(2)) for m in _S_VERIFY_ERR.finditer(text)]
        bad = [c for c in codes if c[0] != 0]
        if bad:
            r.verify_code, r.verify_text = bad[0]
        elif codes:
            r.verify_code, r.verify_text = codes[0]
    return r
