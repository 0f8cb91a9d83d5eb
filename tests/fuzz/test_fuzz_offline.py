"""Offline fuzz targets: the reply and EHLO parsers, SASL, every config reader, the explain engine and
the renderers. Each must end normally or with its documented typed error, for any input."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rich.console import Console

from smtp_doctor.errors import UserError
from smtp_doctor.explain import Scanner, explain
from smtp_doctor.explain.render import explanation_dict, render_markdown, render_scan_markdown, render_scan_text
from smtp_doctor.findings import Finding, Severity
from smtp_doctor.readers import _FORMATS
from smtp_doctor.render.inert import escape, inert, json_inert, md_code, shown
from smtp_doctor.render.sarif import sarif
from smtp_doctor.render.text import finding_block, render_transcript
from smtp_doctor.smtp import sasl
from smtp_doctor.smtp.dialogue import Direction, TranscriptLine
from smtp_doctor.smtp.ehlo import parse_ehlo
from smtp_doctor.smtp.reply import ProtocolError, Reply, ReplyParser

from .budget import FAST, SLOW, batch, count

#: Text without lone surrogates (what a str decoded from bytes or argv holds after our UTF-8 checks).
TEXT = st.text(st.characters(codec="utf-8"), max_size=400)
#: A file path as a finding's subject: anything but NUL, which no path can hold.
SUBJECT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=200)
#: Bytes shaped like SMTP some of the time, so the fuzzer gets past the code check often.
REPLY_LINE = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda c, sep, t: c + sep + t + b"\r\n",
              st.sampled_from([b"220", b"250", b"334", b"354", b"421", b"535", b"550", b"199",
                               "\uff12\uff15\uff10".encode()]),
              st.sampled_from([b" ", b"-", b"", b"\t"]), st.binary(max_size=120)),
)


def _quiet_console() -> Console:
    return Console(file=io.StringIO(), width=100, highlight=False, emoji=False)


def _parse(lines: list[bytes], chunk: int) -> None:
    data = b"".join(lines)
    parser = ReplyParser()
    with contextlib.suppress(ProtocolError):
        for i in range(0, len(data), chunk):
            parser.feed(data[i:i + chunk])
            while (reply := parser.next_reply()) is not None:
                assert 200 <= reply.code <= 559
                caps = parse_ehlo(reply)
                json.dumps(caps.to_dict())
                assert caps.size is None or caps.size >= 0


@FAST
@given(batch(st.tuples(st.lists(REPLY_LINE, max_size=30), st.integers(min_value=1, max_value=64))))
@example([([b"250-x\r\n", b"250 SIZE \xc2\xb2\r\n"], 3)])  # once exit 70 in probe, send and check
@example([(["\uff12\uff15\uff10 full-width\r\n".encode()], 5)])
def test_reply_and_ehlo_parsers(inputs: list[tuple[list[bytes], int]]) -> None:
    count("reply+ehlo", len(inputs))
    for lines, chunk in inputs:
        _parse(lines, chunk)


@FAST
@given(batch(st.lists(TEXT, min_size=1, max_size=40)))
@example([["mx", "SIZE \u00b2", "STARTTLS"], ["mx", "SIZE " + "9" * 5000], ["mx", "AUTH=\u0130 PLAIN", "\u2460"]])
def test_ehlo_on_any_text(inputs: list[list[str]]) -> None:
    count("ehlo", len(inputs))
    for lines in inputs:
        caps = parse_ehlo(Reply(250, tuple(lines)))
        json.dumps(caps.to_dict())
        assert all(k.isascii() for k in caps.keywords)


_CHALLENGE = st.one_of(TEXT, st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()))


@FAST
@given(batch(st.tuples(st.sampled_from(sasl.SUPPORTED), TEXT, TEXT, st.lists(_CHALLENGE, max_size=10))))
def test_sasl_clients_answer_any_challenge(inputs: list[tuple[str, str, str, list[str]]]) -> None:
    count("sasl", len(inputs))
    for mechanism, user, secret, challenges in inputs:
        client = sasl.client(mechanism, user, password=secret, token=secret)
        initial = client.initial_response()
        assert initial is None or initial.isascii()
        for challenge in challenges:
            answer = client.respond(challenge)
            assert answer.isascii() and "\r" not in answer and "\n" not in answer


_SYNTAX_FILES = {"ruby": "production.rb", "python": "settings.py", "env": ".env", "yaml": "application.yml",
                 "properties": "application.properties", "ini": "app.ini", "php": "config.php",
                 "postfix": "main.cf", "msmtp": "msmtprc", "javascript": "mailer.js"}
#: Fragments of real configs, so that random text often reaches the readers' deeper paths.
_FRAGMENTS = ["smtp_settings = {", "address: ", "port: ", "EMAIL_PORT = ", "MAILER_DSN=smtp://u:p@h:",
              "spring:\n  mail:\n    port: ", "createTransport({ port: ", "'mail_smtpport' => ", "relayhost = [",
              "host ", "ENV['X']", "os.environ['X']", "process.env.X", "9" * 4400, "\u00b2", "0x", "1_0",
              "[mailer]\nSMTP_PORT = ", "\n", "}", ")", "\"", "'", ":"]


_PARTS = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), TEXT), max_size=20)


@pytest.mark.parametrize("syntax", sorted(_SYNTAX_FILES))
@pytest.mark.filterwarnings("error")  # a warning would reach stderr with the file's own text (found: ast.parse)
@FAST
@given(inputs=batch(_PARTS))
@example(inputs=[["MAILER_DSN=smtp://u:p@h:", "9" * 4400],  # once exit 70 (int() of 4400 digits)
                 ["spring:\n  mail:\n    port: ", "9" * 4400],
                 ["MAILER_DSN=smtp://u:p@h:", "\u00b2"],  # once exit 70 ("²".isdigit())
                 ["EMAIL_PORT = 25if 1 else 2"]])  # once a SyntaxWarning quoting the file on stderr
def test_every_config_reader(syntax: str, inputs: list[list[str]]) -> None:
    count(f"reader:{syntax}", len(inputs))
    reader, _ = _FORMATS[syntax]
    for parts in inputs:
        with contextlib.suppress(UserError):
            for raw in reader(Path("/nonexistent") / _SYNTAX_FILES[syntax], "".join(parts), None, {"X": "1"}):
                assert raw.file


_ERRORS = ["SSL_connect returned=1 errno=0 state=error: certificate verify failed", "Net::ReadTimeout",
           "535 5.7.8 Authentication credentials invalid", "connect to mail.example.com[1.2.3.4]:",
           "wrong version number", "ECONNREFUSED 127.0.0.1:", "getaddrinfo ENOTFOUND ", "\x00", "\u202e",
           "9" * 5000, "port ", ":", "[", "]"]


_SHORT = st.text(st.characters(codec="utf-8"), max_size=120)


@SLOW
@given(st.lists(st.one_of(st.sampled_from(_ERRORS), _SHORT), min_size=1, max_size=8))
@example(["connect to mail.example.com[1.2.3.4]:", "9" * 5000, ": Connection timed out"])
def test_explain_engine_and_its_renderers(parts: list[str]) -> None:
    count("explain")
    text = "".join(parts)
    exp = explain(text)
    json.dumps(explanation_dict(exp))
    render_markdown(exp)


@SLOW
@given(st.lists(st.one_of(st.sampled_from([e.encode() for e in _ERRORS]), st.binary(max_size=200)), max_size=12))
def test_log_scanner_and_its_renderers(parts: list[bytes]) -> None:
    count("scan")
    scanner = Scanner()
    scanner.feed(io.BytesIO(b"\n".join(parts)), "fuzz.log")
    result = scanner.finish()
    render_scan_text(_quiet_console(), result)
    render_scan_markdown(result)


@SLOW  # rich renders each value: ~7 ms an input
@given(batch(st.tuples(TEXT, SUBJECT, st.sampled_from(list(Severity)), st.lists(st.tuples(TEXT, TEXT), max_size=3))))
def test_renderers_make_any_value_inert(inputs: list[tuple[str, str, Severity, list[tuple[str, str]]]]) -> None:
    count("render", len(inputs))
    for value, subject, severity, details in inputs:
        for out in (inert(value), shown(value), escape(value)):
            assert "\x1b" not in out and "\n" not in out and "\u202e" not in out
        md_code(value)
        json.loads(json_inert(json.dumps({"v": value}, ensure_ascii=False)))
        finding = Finding("auth.rejected_credentials", severity,
                          {"port": value, "mechanism": value, "reply": value}, tuple(details), subject)
        console = _quiet_console()
        finding_block(console, finding, details=True)
        render_transcript(console, [TranscriptLine(0.0, Direction.SERVER, value)])
        json.dumps(sarif([finding], Path("/")))
