"""Every hostile server ends within its deadline with a clear verdict, never a hang or a traceback."""

from __future__ import annotations

import time

import pytest

from smtp_doctor import Mode, ProbeOptions, probe
from smtp_doctor.lab import LabInfo

# name: (mode, a finding id that must explain it)
EXPECT = {
    "silent": (Mode.SILENT, "mode.silent"),
    "one-byte-per-second": (Mode.PLAINTEXT, "smtp.tarpit"),
    "endless-multiline": (Mode.NOT_SMTP, "smtp.protocol_too_many_lines"),
    "huge-line": (Mode.NOT_SMTP, "smtp.protocol_line_too_long"),
    "garbage": (Mode.NOT_SMTP, "smtp.protocol_malformed"),
    "http": (Mode.NOT_SMTP, "mode.not_smtp_http"),
    "close-on-connect": (Mode.CLOSED, "mode.closed"),
    "close-after-greeting": (Mode.PLAINTEXT, "smtp.closed"),
    "close-after-ehlo": (Mode.PLAINTEXT, "smtp.closed"),
    "close-after-starttls": (Mode.STARTTLS, "starttls.handshake_closed"),
    "busy-421": (Mode.PLAINTEXT, "smtp.greeting_refused"),
    "reset-mid-handshake": (Mode.STARTTLS, "starttls.handshake_reset"),
    "starttls-then-plaintext": (Mode.STARTTLS, "starttls.handshake_not_tls"),
    "invalid-utf8": (Mode.PLAINTEXT, "smtp.invalid_utf8"),
    "nul-bytes": (Mode.NOT_SMTP, "smtp.protocol_nul_byte"),
    "tls-not-smtp": (Mode.TLS_NOT_SMTP, "mode.tls_not_smtp"),
    "imap": (Mode.NOT_SMTP, "mode.not_smtp_known"),
    "imaps": (Mode.TLS_NOT_SMTP, "mode.not_smtp_known"),
    "starttls-injection": (Mode.STARTTLS, "starttls.injection"),
}
TIMEOUT = 6.0


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_hostile_server_gets_a_verdict_within_the_deadline(lab: LabInfo, name: str) -> None:
    srv = lab.hostile[name]
    started = time.monotonic()
    report = probe(srv.host, [srv.port], ProbeOptions(timeout=TIMEOUT, greeting_timeout=4, command_timeout=3,
                                                      tls_timeout=3))
    elapsed = time.monotonic() - started
    d = report.ports[0]
    mode, finding = EXPECT[name]
    assert elapsed < TIMEOUT + 2.0
    assert d.facts.mode is mode, (name, d.facts)
    assert finding in {f.id for f in d.findings}, [f.id for f in d.findings]
    for f in d.findings:  # every finding renders in both languages
        assert f.verdict("en") and f.verdict("ja")


def test_response_injection_is_discarded_not_believed(lab: LabInfo) -> None:
    srv = lab.hostile["starttls-injection"]
    d = probe(srv.host, [srv.port], ProbeOptions(timeout=TIMEOUT)).ports[0]
    assert d.facts.bytes_after_starttls.startswith(b"250-inject.lab")
    # The fake "AUTH PLAIN LOGIN" sent before the handshake must not be taken as a post-TLS capability.
    assert d.facts.ehlo_tls is not None and d.facts.ehlo_tls.auth == ()


def test_refused_port(lab: LabInfo) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = probe("127.0.0.1", [port], ProbeOptions(timeout=5)).ports[0]
    assert d.findings[0].id == "conn.refused"


def test_unresolvable_name() -> None:
    d = probe("no-such-host.invalid", [587], ProbeOptions(timeout=5)).ports[0]
    assert d.findings[0].id in ("conn.dns_nxdomain", "conn.dns_failure")
