"""The sans-IO reply parser: correct on valid input, bounded and typed errors on hostile input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_doctor.smtp.ehlo import parse_ehlo
from smtp_doctor.smtp.reply import (
    MAX_LINE,
    MAX_LINES,
    ProtocolError,
    ProtocolErrorKind,
    Reply,
    ReplyParser,
    looks_like_smtp,
)


def parse_all(data: bytes, chunk: int = 0) -> list:
    p = ReplyParser()
    out = []
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] if chunk else [data]
    for piece in pieces:
        p.feed(piece)
        while (r := p.next_reply()) is not None:
            out.append(r)
    return out


def test_multiline_reply_split_anywhere() -> None:
    data = b"250-mail.example.com Hello\r\n250-SIZE 35882577\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
    for chunk in (0, 1, 3, 7):
        [reply] = parse_all(data, chunk)
        assert reply.code == 250
        assert reply.lines == ("mail.example.com Hello", "SIZE 35882577", "STARTTLS", "AUTH PLAIN LOGIN")


def test_enhanced_status_code() -> None:
    [reply] = parse_all(b"535 5.7.8 Error: authentication failed\r\n")
    assert (reply.code, reply.enhanced) == (535, "5.7.8")


def test_bare_lf_and_code_only_line() -> None:
    assert [r.code for r in parse_all(b"220\n250 ok\n")] == [220, 250]


@pytest.mark.parametrize(("data", "kind"), [
    (b"220 " + b"A" * (MAX_LINE + 10) + b"\r\n", ProtocolErrorKind.LINE_TOO_LONG),
    (b"220 " + b"A" * (MAX_LINE + 10), ProtocolErrorKind.LINE_TOO_LONG),
    (b"".join(b"220-x\r\n" for _ in range(MAX_LINES + 5)), ProtocolErrorKind.TOO_MANY_LINES),
    (b"".join(b"220-" + b"x" * 2000 + b"\r\n" for _ in range(300)), ProtocolErrorKind.TOO_MANY_LINES),  # bytes
    ("\uff12\uff15\uff10 full-width digits\r\n".encode(), ProtocolErrorKind.MALFORMED),
    ("2\u00b20 superscript\r\n".encode(), ProtocolErrorKind.MALFORMED),
    (b"199 not a code RFC 5321 has\r\n", ProtocolErrorKind.MALFORMED),
    (b"260 second digit above 5\r\n", ProtocolErrorKind.MALFORMED),
    (b"25\r\n", ProtocolErrorKind.MALFORMED),
    (b"HTTP/1.1 400 Bad Request\r\n", ProtocolErrorKind.MALFORMED),
    (b"250-a\r\n251 b\r\n", ProtocolErrorKind.INCONSISTENT_CODES),
    (b"220 nul\x00 here\r\n", ProtocolErrorKind.NUL_BYTE),
])
def test_hostile_input_is_a_typed_error(data: bytes, kind: ProtocolErrorKind) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_all(data)
    assert info.value.kind is kind


def test_invalid_utf8_is_replaced_and_flagged() -> None:
    [reply] = parse_all(b"220 caf\xe9 ESMTP\r\n")
    assert reply.invalid_utf8 and "\ufffd" in reply.text


def test_pending_bytes_are_handed_out() -> None:
    p = ReplyParser()
    p.feed(b"220 Ready to start TLS\r\n250 injected\r\n")
    assert p.next_reply() is not None
    assert p.take_pending() == b"250 injected\r\n"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=64))
def test_fuzz_never_raises_anything_else(data: bytes, chunk: int) -> None:
    with contextlib.suppress(ProtocolError):
        parse_all(data, chunk)


def test_ehlo_capabilities() -> None:
    [reply] = parse_all(b"250-mx.example\r\n250-SIZE 1000\r\n250-AUTH=LOGIN\r\n250-AUTH PLAIN LOGIN\r\n"
                        b"250-STARTTLS\r\n250 8BITMIME\r\n")
    caps = parse_ehlo(reply)
    assert caps.starttls and caps.size == 1000 and caps.has("8bitmime")
    assert caps.auth == ("LOGIN", "PLAIN")


def test_looks_like_smtp() -> None:
    assert looks_like_smtp(b"220 x") and looks_like_smtp(b"421-busy")
    assert not looks_like_smtp(b"HTTP/1.1") and not looks_like_smtp(b"\x16\x03\x01")


def test_a_long_ehlo_is_read_whole_and_its_starttls_seen() -> None:
    """300 extensions is unusual, not endless: STARTTLS at the end must still count (it once did not)."""
    lines = [b"250-mx.example"] + [b"250-X-EXT-%d" % i for i in range(300)] + [b"250 STARTTLS"]
    [reply] = parse_all(b"\r\n".join(lines) + b"\r\n", 97)
    caps = parse_ehlo(reply)
    assert len(reply.lines) == 302 and caps.starttls


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "10MB", "-5", "1" * 5000, " "])
def test_size_other_than_ascii_digits_is_no_size_and_flagged(value: str) -> None:
    caps = parse_ehlo(Reply(250, ("mx", f"SIZE {value}", "STARTTLS")))
    assert caps.size is None and caps.starttls
    assert caps.size_invalid is (value.strip() != "")
    assert caps.to_dict()["size"] is None


def test_keywords_outside_rfc_5321_are_kept_aside() -> None:
    caps = parse_ehlo(Reply(250, ("mx", "\u2460TURBO", "=x", "X-OK yes", "AUTH PLAIN")))
    assert set(caps.keywords) == {"X-OK", "AUTH"} and caps.invalid == ("\u2460TURBO", "=x")


def test_size_in_ascii_digits() -> None:
    assert parse_ehlo(Reply(250, ("mx", "SIZE 0"))).size == 0
    assert parse_ehlo(Reply(250, ("mx", "SIZE"))).size is None
    assert not parse_ehlo(Reply(250, ("mx", "SIZE"))).size_invalid
