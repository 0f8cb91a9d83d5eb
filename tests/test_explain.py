"""explain: every collected real error text is classified to its failure mode; non-SMTP text is not."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor import i18n
from smtp_doctor.cli import cli
from smtp_doctor.explain import FRAMEWORKS, explain, load
from smtp_doctor.explain.scan import needle_regex

FIXTURES = Path(__file__).parent / "fixtures" / "errors"
COLLECTED = tomllib.loads((FIXTURES / "collected.toml").read_text(encoding="utf-8"))["case"]


@pytest.mark.parametrize("case", COLLECTED, ids=[f"{c['expect']}:{c['text'][:50]}" for c in COLLECTED])
def test_collected_message_is_classified(case: dict[str, str]) -> None:
    exp = explain(case["text"])
    assert exp.best is not None, f"not recognised: {case['text']!r}"
    assert exp.best.mode.id == case["expect"], [(m.mode.id, m.confidence) for m in exp.matches]
    assert 0.5 <= exp.best.confidence < 1.0  # never presented as certain
    assert exp.best.evidence and all(ev.text for ev in exp.best.evidence)


def test_auth_in_clear_needs_the_start_of_the_session() -> None:
    """smtplib prints no connect line and no greeting when set_debuglevel follows SMTP_SSL(host, port): the
    rest of an implicit-TLS session then reads exactly like one in clear, so without its start it is no alarm."""
    hidden = "\n".join(ln for ln in next(c["text"] for c in COLLECTED if "LAB000024" in c["text"]).splitlines()
                       if not ln.startswith(("connect:", "reply: b'220")))
    assert explain(hidden).best is None
    assert explain("connect: to ('127.0.0.1', 2525) None\nreply: b'220 x ESMTP\\r\\n'\n" + hidden).best is not None


def test_every_mode_has_a_fixture() -> None:
    covered = {c["expect"] for c in COLLECTED}
    missing = {m for m in load().modes if m not in covered}
    # these have no real text in the reference; test_modes_without_reference_text covers them.
    # cert_missing_intermediate has no text of its own (it reads like an unknown CA): --probe names it.
    assert missing <= {"cert_revoked", "cert_revocation_unchecked", "cert_not_yet_valid", "policy_rejected",
                       "auth_gmail_blocked", "cert_missing_intermediate"}, missing


@pytest.mark.parametrize("text, expect", [
    ("x509: certificate has expired or is not yet valid: current time 2020-01-01T00:00:00Z is before "
     "2021-01-01T00:00:00Z", "cert_not_yet_valid"),
    ("Error: certificate is not yet valid { code: 'ESOCKET' }", "cert_not_yet_valid"),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate revoked (_ssl.c:1006)", "cert_revoked"),
    ("MailKit: The revocation function was unable to check revocation for the certificate.",
     "cert_revocation_unchecked"),
    ("Net::SMTPFatalError: 554 5.7.1 Message rejected as spam", "policy_rejected"),
    ("Net::SMTPAuthenticationError: 534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1> Please log in "
     "via your web browser and", "auth_gmail_blocked"),
])
def test_modes_without_reference_text(text: str, expect: str) -> None:
    exp = explain(text)
    assert exp.best is not None and exp.best.mode.id == expect


NOT_SMTP = [
    'Started GET "/users/sign_in" for 10.0.0.1 at 2024-05-01 12:00:00 +0000',
    "Completed 200 OK in 12ms (Views: 8.1ms | ActiveRecord: 1.2ms | Allocations: 3456)",
    "ActiveRecord::RecordNotFound (Couldn't find User with 'id'=42)",
    "KeyError: 'DATABASE_URL'",
    "TypeError: Cannot read properties of undefined (reading 'map')",
    "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"s\" is null",
    "panic: runtime error: index out of range [3] with length 3",
    "hello world",
    "127.0.0.1 - - [01/May/2024:12:00:00 +0000] \"GET /health HTTP/1.1\" 200 2",
]


@pytest.mark.parametrize("line", NOT_SMTP)
def test_non_smtp_line_is_not_recognised(line: str) -> None:
    exp = explain(line)
    assert exp.best is None
    assert all(m.confidence < 0.5 for m in exp.matches)


def test_unrecognised_smtp_ish_text_offers_candidates_not_an_answer() -> None:
    exp = explain("the smtp handshake went sideways somehow")
    assert exp.best is None
    assert exp.matches and all(m.alternative and m.confidence <= 0.3 for m in exp.matches)


def test_port_in_text_moves_confidence() -> None:
    on_465 = explain("Net::ReadTimeout with #<TCPSocket:(closed)> smtp.example.com:465")
    on_587 = explain("Net::ReadTimeout with #<TCPSocket:(closed)> smtp.example.com:587")
    assert on_465.best is not None and on_465.best.mode.id == "plain_on_implicit_port"
    assert on_465.best.confidence >= 0.7  # the port is evidence, not proof: a silent server on 465 reads alike
    assert on_587.best is not None and on_587.best.mode.id == "greeting_timeout"


def test_parsed_fields() -> None:
    exp = explain("Error: C0DCF1B3E27F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:"
                  "../deps/openssl/openssl/ssl/record/ssl3_record.c:354: connect to smtp.example.com:587 "
                  "{ code: 'ESOCKET', command: 'CONN' }")
    f = exp.fields
    assert (f.host, f.port) == ("smtp.example.com", 587)
    assert (f.openssl_code, f.openssl_function, f.openssl_reason, f.openssl_generation) == (
        "0A00010B", "ssl3_get_record", "wrong version number", "3.x")
    assert "node" in f.clients and f.frameworks == ["nodemailer"]
    smtp = explain("smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted.')").fields
    assert [(r.code, r.enhanced) for r in smtp.replies] == [(535, "5.7.8")]
    assert smtp.frameworks == ["smtplib"]


@pytest.mark.parametrize("text, frameworks", [
    ("Net::SMTPAuthenticationError: 535 5.7.8 Error: authentication failed", ["actionmailer", "mastodon", "gitlab"]),
    ("mastodon-sidekiq | Net::ReadTimeout with #<TCPSocket:(closed)>", ["mastodon"]),
    ("smtplib.SMTPAuthenticationError: (535, b'5.7.8 x')", ["smtplib"]),
    ("File \"/app/django/core/mail/backends/smtp.py\", line 87 ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong "
     "version number (_ssl.c:1006)", ["django"]),
    ("javax.mail.AuthenticationFailedException: 535 5.7.8", ["jakarta"]),
    ("MailKit.Security.AuthenticationException: 535 5.7.8", ["dotnet"]),
    ("x509: certificate signed by unknown authority", ["go"]),
])
def test_framework_recognition(text: str, frameworks: list[str]) -> None:
    assert explain(text).fields.frameworks == frameworks


def test_every_fixture_passes_the_log_prefilter() -> None:
    needles = needle_regex(load())
    missed = [c["text"] for c in COLLECTED if not needles.search(c["text"].lower().encode())]
    assert not missed


def test_catalogue_has_every_mode_and_fix_in_both_languages() -> None:
    cat = i18n.catalogue()
    for mode in load().modes.values():
        for part in ("verdict", "explanation", "check"):
            entry = cat[f"explain.mode.{mode.id}.{part}"]
            assert entry["en"] and entry["ja"]
        assert f"explain.fix.{mode.fix}.generic" in cat
    fix_keys = [k for k in cat if k.startswith("explain.fix.")]
    for key in fix_keys:
        assert key.rsplit(".", 1)[1] in (*FRAMEWORKS, "generic"), key
        assert i18n.placeholders(cat[key]["en"]) == i18n.placeholders(cat[key]["ja"]), key
    for key in [k for k in cat if k.startswith("explain.")]:
        assert set(cat[key]) >= {"en", "ja"}, key
        assert i18n.placeholders(cat[key]["en"]) == i18n.placeholders(cat[key]["ja"]), key
    # the fix groups that depend on the client's settings have all eleven frameworks
    for group in ("plain_port", "implicit_port", "trust_ca", "hostname", "tls_version", "starttls_missing",
                  "starttls_on", "credentials", "auth_mechanism", "timeouts", "debug_output"):
        assert all(f"explain.fix.{group}.{fw}" in cat for fw in FRAMEWORKS), group


def test_every_pattern_names_a_source() -> None:
    for p in load().patterns:
        assert p.source.strip(), p.id


# ------------------------------------------------------------------------------------------------ CLI

def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_cli_text_output_layout() -> None:
    code, out = run("--lang", "en", "explain",
                    "SSL_connect returned=1 errno=0 peeraddr=10.0.0.5:587 state=error: wrong version number")
    assert code == 0
    for heading in ("Verdict", "Why", "Technical details", "Fix", "Confirm it live"):
        assert heading in out
    assert "smtp-doctor probe 10.0.0.5:587" in out
    assert "For Rails ActionMailer:" in out and "enable_starttls: true" in out


def test_cli_japanese() -> None:
    code, out = run("--lang", "ja", "explain", "Net::SMTPAuthenticationError: 534-5.7.9 Application-specific "
                    "password required.")
    assert code == 0
    assert "アプリ パスワード" in out and "判定" in out


def test_cli_stdin_json_and_framework_override() -> None:
    code, out = run("--lang", "en", "explain", "-", "--json", "--framework", "django",
                    input="ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)\n")
    assert code == 0
    doc = json.loads(out)
    assert doc["recognised"] is True and doc["best"] == "implicit_tls_on_plain_port"
    top = doc["matches"][0]
    assert set(top["fix"]["frameworks"]) == {"django"} and "EMAIL_USE_TLS" in top["fix"]["frameworks"]["django"]
    assert top["evidence"][0]["source"]


def test_cli_markdown() -> None:
    code, out = run("--lang", "en", "explain", "--format", "markdown", "curl: (67) Login denied")
    assert code == 0
    assert out.startswith("### ") and "**Fix:**" in out


def test_cli_not_recognised_exit_1() -> None:
    code, out = run("--lang", "en", "explain", "Completed 200 OK in 12ms")
    assert code == 1
    assert "Not recognised" in out


def test_cli_bad_input_exit_2() -> None:
    assert run("--lang", "en", "explain", "-", input="   \n")[0] == 2
    assert run("--lang", "en", "explain")[0] == 2
    code, out = run("--lang", "en", "explain", "--log", "/nonexistent/production.log")
    assert code == 2 and "cannot read /nonexistent/production.log" in out
    assert "Traceback" not in out


def test_secrets_are_not_echoed() -> None:
    text = ('Connection could not be established with host "smtps://app%40example.com:hunter2secret@smtp.example.com'
            ':587": stream_socket_client(): SSL operation failed with code 1. OpenSSL Error messages: '
            'error:0A00010B:SSL routines::wrong version number')
    for fmt in ("text", "json", "markdown"):
        code, out = run("--lang", "en", "explain", "--format", fmt, text)
        assert code == 0
        assert "hunter2secret" not in out


def test_every_real_framework_text_against_the_lab_is_classified() -> None:
    """The texts real ActionMailer, Django and smtplib printed against the lab (tests/test_check_real.py) name
    the failure each cell provoked. Where two different failures printed byte-identical texts (a missing
    intermediate and an unknown CA read the same in Ruby), no text-only answer can tell them apart: then the
    right mode must be among the alternatives, and the answer must be the other cell's mode."""
    from test_check_real import ACTIONMAILER, DJANGO_CELLS, FIXTURE, SMTPLIB_CELLS, Cell

    kb = load()
    stored = tomllib.loads(FIXTURE.read_text(encoding="utf-8"))
    cases: list[tuple[str, Cell, str]] = []
    for client, cells in (("actionmailer", ACTIONMAILER), ("django", DJANGO_CELLS), ("smtplib", SMTPLIB_CELLS)):
        for raw in cells:
            cell = raw if isinstance(raw, Cell) else raw.values[0]
            if cell.expect != "delivered":
                cases.append((client, cell, stored[client][cell.id]["real"]))
    assert len(cases) >= 20
    for client, cell, text in cases:
        exp = explain(text)
        assert exp.best is not None, (client, cell.id, text)
        best = exp.best.mode
        if best.id == cell.expect or (best.generic and best.category == kb.modes[cell.expect].category):
            continue
        if best.id == "greeting_timeout" and cell.expect in {m.mode.id for m in exp.matches}:
            continue  # no port or setting in the text: both causes are named (issue 11, kind 1)
        twins = {c.expect for cl, c, t in cases if t == text and cl == client and c is not cell}
        assert best.id in twins and cell.expect in {m.mode.id for m in exp.matches}, (client, cell.id, best.id)


def test_unsafe_successes_are_security_warnings_and_safe_ones_are_not() -> None:
    """AUTH answered 235 with no TLS before it is a security warning; the same on the implicit-TLS port
    (TLS from the first byte, which a debug transcript does not print) is a session that worked."""
    from smtp_doctor.explain.render import explanation_dict, render_markdown

    clear = ("connect: to ('mail.example.com', 587) None\nreply: b'220 mail.example.com ESMTP\\r\\n'\n"
             "send: 'AUTH PLAIN ********\\r\\n'\nreply: b'235 2.7.0 Authentication successful\\r\\n'\n"
             "reply: b'250 2.0.0 Ok: queued as 4F2A\\r\\n'")
    exp = explain(clear)
    assert exp.best is not None and exp.best.mode.id == "unsafe_auth_in_clear"
    doc = explanation_dict(exp)
    assert doc["security_warning"] is True and doc["outcome"] == "unsafe_success"
    assert "⚠" in render_markdown(exp)
    on_465 = explain(clear.replace("587", "465"))
    assert on_465.best is None and on_465.succeeded
    assert explanation_dict(on_465)["outcome"] == "succeeded"
