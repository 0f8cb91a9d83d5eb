"""Hostile text from a server, a certificate, a log or a config never drives the terminal (issue 17).

The corpus (lab/forge.py) holds window-title, clear-screen and hyperlink escapes, bidi overrides,
zero-width characters, line separators, rich markup, ``:emoji:`` codes, NULs and a bare newline that
would print a forged "✔ Certificate chain verifies" line. It goes through the boundary functions,
through every renderer in-process, and through the real CLI against real servers that send it
(plain pipes and a pseudo-terminal, where rich writes colours).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text

from ptyrun import run_on_pty
from smtp_doctor.findings import Finding, Severity
from smtp_doctor.lab import LabInfo, forge
from smtp_doctor.lab.forge import CORPUS, FORGED, MARKUP, ForgeInfo
from smtp_doctor.render.inert import InertConsole, escape, inert, inert_block, md_code, md_inline
from smtp_doctor.render.sarif import sarif
from smtp_doctor.render.text import finding_block, render_transcript
from smtp_doctor.smtp.dialogue import Direction, TranscriptLine

#: what rich itself writes on a terminal: colours (SGR), and for scan's progress bar hiding the cursor and
#: erasing its own line. A hostile title, clear-screen, hyperlink or bare CR is none of these.
SGR = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\r?\x1b\[2K|\r?\x1b\[1A")
BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"}
HOSTILE = " ".join(CORPUS)


def problems(out: str, *, tty: bool = False) -> list[str]:
    """Everything in ``out`` a hostile value could have caused: an invisible or steering character,
    an interpreted emoji code or markup tag, or a value split onto a second line."""
    text = SGR.sub("", out) if tty else out
    found = [f"char U+{ord(c):04X}" for c in text if c != "\n" and unicodedata.category(c) in BAD_CATEGORIES]
    found += [f"emoji {e}" for e in ("💯", "👍") if e in text]
    if "markup[/]" in text.replace("\\[", "["):
        pass  # shown literally: fine
    elif "markup" in text:
        found.append("markup tag consumed")
    for line in text.splitlines():
        for first, second in (("FORGE-A", "FORGE-B"), ("FORGE-C", "FORGE-D")):
            if second in line and first not in line:
                found.append(f"forged line: {line[:120]!r}")
    return found


# --------------------------------------------------------------------------------------------- boundary

@pytest.mark.parametrize("value", CORPUS)
def test_inert_makes_each_corpus_entry_one_visible_line(value: str) -> None:
    out = inert(value)
    assert "\n" not in out and not problems(out)
    assert out != value or value.isprintable()  # something was escaped, visibly


def test_inert_names_what_it_escaped() -> None:
    assert inert(forge.OSC_TITLE) == "\\x1b]0;pwned-title\\x07"
    assert inert("a\u202eb\u2066c") == "a\\u202eb\\u2066c"
    assert inert(FORGED).startswith("FORGE-A\\n✔")
    assert inert("x\u2028y\x00z\x9b") == "x\\u2028y\\x00z\\x9b"


def test_printable_text_of_any_script_is_kept() -> None:
    for text in ("サーバーに接続できません", "café · naïve — “quoted”", "💯 emoji itself is text", "C:\\Users\\me"):
        assert inert(text) == text


def test_inert_block_keeps_lines_but_escapes_the_rest() -> None:
    out = inert_block("line one\r\nline two \x1b[2J\u202e\n")
    assert out == "line one\nline two \\x1b[2J\\u202e\n"


def test_escape_shows_markup_and_emoji_codes_literally() -> None:
    buf = io.StringIO()
    console = InertConsole(file=buf, force_terminal=True, width=400)
    console.print(f"[green]ok[/] {escape(MARKUP)} {escape(forge.EMOJI)} {escape(FORGED)}")
    out = buf.getvalue()
    assert "\x1b[32m" in out  # our own markup still styles
    assert "[bold red]markup[/]" in out and ":100:" in out and "💯" not in out
    assert out.count("\n") == 1 and not problems(out, tty=True)


def test_console_backstop_catches_a_value_a_renderer_forgot() -> None:
    buf = io.StringIO()
    console = InertConsole(file=buf, force_terminal=True, width=400)
    console.print(Text("raw " + forge.OSC_TITLE + forge.BIDI + forge.C0_C1))
    console.print("raw :100: " + forge.CSI_CLEAR, markup=False)
    out = buf.getvalue()
    assert "\\x1b]0;pwned-title" in out and "\\u202e" in out
    assert not problems(out, tty=True), out


@pytest.mark.parametrize("value", [*CORPUS, "`tick` and ``two``", "`", "[x](javascript:alert(1)) <img src=x>"])
def test_markdown_code_spans_cannot_be_closed_early(value: str) -> None:
    span = md_code(value)
    fence = re.match(r"`+", span)
    assert fence is not None and span.endswith(fence.group(0))
    inner = span[len(fence.group(0)):-len(fence.group(0))]
    assert fence.group(0) not in inner  # nothing inside closes it
    assert "\n" not in span and not problems(span)


def test_markdown_inline_escapes_links_html_and_cells() -> None:
    out = md_inline("[x](javascript:alert(1)) <img src=x> a|b *em* " + FORGED)
    assert re.search(r"(?<!\\)[\[\]<>|*]", out) is None
    assert "\n" not in out


# --------------------------------------------------------------------------------------------- renderers

def _hostile_finding() -> Finding:
    return Finding("lint.SD115", Severity.WARNING, params={"key": "SMTP_X", "value": HOSTILE, "framework": "x"},
                   details=(("banner", HOSTILE), (MARKUP, FORGED)), subject=f"app.env:3:1 {forge.BIDI}")


def test_text_renderer_finding_and_transcript() -> None:
    buf = io.StringIO()
    console = InertConsole(file=buf, force_terminal=True, width=4000)
    finding_block(console, _hostile_finding(), details=True)
    render_transcript(console, [TranscriptLine(0.1, Direction.SERVER, "220 " + HOSTILE),
                                TranscriptLine(0.2, Direction.CLIENT, FORGED)])
    out = buf.getvalue()
    assert "FORGE-A" in out and not problems(out, tty=True), problems(out, tty=True)


def test_sarif_messages_and_properties_are_inert(tmp_path: Path) -> None:
    doc = sarif([_hostile_finding()], tmp_path)
    result = doc["runs"][0]["results"][0]
    for text in [result["message"]["text"], *result["properties"].values()]:
        assert "FORGE-A" in str(result) and not problems(str(text)), text


# --------------------------------------------------------------------------------------------- real CLI

def _env() -> dict[str, str]:
    return {**os.environ, "LANG": "C.UTF-8", "COLUMNS": "4000", "SD_SECRET": "forge-pass-123"}


def run_pipe(*args: str) -> tuple[int, str]:
    r = subprocess.run([sys.executable, "-m", "smtp_doctor", *args], capture_output=True, timeout=120,
                       env=_env(), check=False)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in out and "Usage:" not in out, out
    return r.returncode, out


def run_tty(*args: str) -> tuple[int, str]:
    """The CLI with its stdout on a pseudo-terminal: rich writes colours, and anything raw would reach
    a real terminal emulator."""
    code, raw = run_on_pty([sys.executable, "-m", "smtp_doctor", *args], env=_env())
    out = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    assert "Traceback" not in out and "Usage:" not in out, out
    return code, out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeInfo]:
    with forge.running(tmp_path_factory.mktemp("forge")) as info:
        yield info


@pytest.fixture(scope="module")
def rejecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeInfo]:
    with forge.running(tmp_path_factory.mktemp("forge-reject"), reject=True) as info:
        yield info


def _probe(s: ForgeInfo, *extra: str) -> list[str]:
    return ["probe", s.address, "--ca-file", str(s.ca_file), "--transcript", "--details", *extra]


def _send(s: ForgeInfo, *extra: str) -> list[str]:
    return ["send", s.address, "--ca-file", str(s.ca_file), "--from", "a@example.com", "--to", "b@example.net",
            "--transcript", *extra]


@pytest.mark.parametrize("runner", [run_pipe, run_tty], ids=["pipe", "tty"])
def test_probe_against_a_forging_server(server: ForgeInfo, runner: object) -> None:
    code, out = runner(*_probe(server))  # type: ignore[operator]
    assert "Certificate chain verifies (ca-file)" in out  # it did get through TLS and the chain
    assert "\\x1b]0;pwned-title" in out and "FORGE-A\\n" in out  # the certificate's names, escaped
    assert not problems(out, tty=runner is run_tty), problems(out, tty=runner is run_tty)


def test_probe_in_japanese_and_with_auth(server: ForgeInfo) -> None:
    _, out = run_pipe("--lang", "ja", *_probe(server, "--user", "app", "--password-env", "SD_SECRET"))
    assert "AUTH" in out and "forge-pass-123" not in out
    assert not problems(out), problems(out)


@pytest.mark.parametrize("runner", [run_pipe, run_tty], ids=["pipe", "tty"])
def test_send_against_a_forging_server(server: ForgeInfo, runner: object) -> None:
    code, out = runner(*_send(server))  # type: ignore[operator]
    assert "MAIL FROM" in out and "queued as" in out
    assert not problems(out, tty=runner is run_tty), problems(out, tty=runner is run_tty)


def test_send_refused_with_a_forging_reply(rejecting: ForgeInfo) -> None:
    code, out = run_pipe(*_send(rejecting))
    assert code != 0 and "550" in out
    assert not problems(out), problems(out)


def test_trust_prints_the_forged_chain_inertly(server: ForgeInfo) -> None:
    code, out = run_pipe("trust", server.address, "--ca-file", str(server.ca_file), "--runtime", "python")
    assert "FORGE-A" in out, out
    assert not problems(out), problems(out)


@pytest.fixture()
def hostile_app(tmp_path: Path, server: ForgeInfo) -> Path:
    """A Mastodon .env pointing at the forging server, with the corpus in the values lint echoes back."""
    safe = " ".join(x for x in CORPUS if "\x00" not in x)
    env = tmp_path / ".env.production"
    env.write_text(f"SMTP_SERVER=127.0.0.1\nSMTP_PORT={server.port}\nSMTP_LOGIN=app\nSMTP_PASSWORD=x\n"
                   f'SMTP_OPENSSL_VERIFY_MODE="pe{safe}er"\nSMTP_FROM_ADDRESS="x@example.com"\n'
                   f'SMTP_ENABLE_STARTTLS=always\nSMTP_AUTH_METHOD="plain{safe}"\n')
    return env


@pytest.mark.parametrize("args", [
    ("lint", "{env}"), ("lint", "{env}", "--format", "sarif"), ("lint", "{env}", "--format", "json"),
    ("check", "{env}", "--ca-file", "{ca}"), ("check", "{env}", "--ca-file", "{ca}", "--json"),
    ("fix", "{env}", "--ca-file", "{ca}"), ("fix", "{env}", "--ca-file", "{ca}", "--diff"),
])
def test_config_commands_with_hostile_values(hostile_app: Path, server: ForgeInfo, args: tuple[str, ...]) -> None:
    code, out = run_pipe(*(a.format(env=hostile_app, ca=server.ca_file) for a in args))
    assert code in (0, 1), out
    if args[0] != "fix":
        assert "FORGE-A" in out  # the hostile value is reported, not dropped
    assert not problems(out), problems(out)


def test_check_probes_the_forging_server(tmp_path: Path, server: ForgeInfo) -> None:
    """A healthy config, so check really talks to the server and reports what it said."""
    env = tmp_path / ".env.production"
    env.write_text(f"SMTP_SERVER=127.0.0.1\nSMTP_PORT={server.port}\nSMTP_LOGIN=app\nSMTP_PASSWORD=x\n"
                   "SMTP_ENABLE_STARTTLS=always\nSMTP_FROM_ADDRESS=x@example.com\n")
    for runner in (run_pipe, run_tty):
        code, out = runner("check", str(env), "--ca-file", str(server.ca_file))
        assert "127.0.0.1" in out
        assert not problems(out, tty=runner is run_tty), problems(out, tty=runner is run_tty)


HOSTILE_LOG = ("2026-11-20T10:00:00Z ERROR Net::SMTPAuthenticationError: 535 5.7.8 Username and Password not "
               "accepted " + " ".join(x for x in CORPUS if "\n" not in x and "\r" not in x)
               + "\n2026-11-20T10:00:01Z x.rb:100:in `deliver': :100: [bold red]markup[/] \x1b]0;t\x07\n")


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_explain_a_hostile_message(fmt: str) -> None:
    argv = HOSTILE.replace("\x00", "")  # an argument cannot carry a NUL
    code, out = run_pipe("explain", "535 5.7.8 Username and Password not accepted " + argv, "--format", fmt)
    assert "535" in out
    if fmt == "json":
        json.loads(out)  # still one valid document: JSON's own escaping is the boundary
    assert not problems(out), problems(out)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_explain_log_with_hostile_lines(tmp_path: Path, fmt: str) -> None:
    log = tmp_path / "production.log"
    log.write_text(HOSTILE_LOG * 3)
    for runner in (run_pipe, run_tty) if fmt == "text" else (run_pipe,):
        code, out = runner("explain", "--log", str(log), "--format", fmt)
        assert "535" in out or "5.7.8" in out or "uthentica" in out, out
        if fmt == "json":
            sample = json.loads(out)["groups"][0]["sample"]
            assert "\u202e" in sample and "\\u202e" in out  # the value kept, written as a JSON escape
        elif fmt == "text":
            assert "\\u202e" in out  # the sample line is shown, its bidi override escaped
        assert not problems(out, tty=runner is run_tty), problems(out, tty=runner is run_tty)


def test_an_error_line_from_argv_is_inert() -> None:
    code, out = run_pipe("probe", "ho\x1b]0;x\x07st\u202e:25x")
    assert code == 2 and out.count("\n") == 1
    assert not problems(out), problems(out)


@pytest.mark.parametrize("framework", ["msmtp", "actionmailer"])
def test_config_for_a_forging_server(server: ForgeInfo, framework: str) -> None:
    """config probes the server, checks what it writes against it, and reports on stderr."""
    code, out = run_pipe("config", "--for", framework, server.address, "--ca-file", str(server.ca_file))
    assert code == 0 and "127.0.0.1" in out, out
    assert not problems(out), problems(out)


@pytest.mark.parametrize("name", ["garbage", "http", "invalid-utf8", "nul-bytes", "starttls-injection",
                                  "tls-not-smtp", "busy-421", "huge-line", "starttls-then-plaintext"])
def test_the_labs_hostile_servers_print_inertly(lab: LabInfo, name: str) -> None:
    """The lab's own broken servers (random bytes, NULs, invalid UTF-8, HTTP, injected replies): what
    they sent is shown, and shown inertly."""
    srv = lab.hostile[name]
    code, out = run_pipe("probe", f"{srv.host}:{srv.port}", "--transcript", "--details", "--timeout", "6")
    assert code in (1, 3), out
    assert not problems(out), (name, problems(out))


def test_explain_probe_against_a_forging_server(server: ForgeInfo) -> None:
    """explain --probe confirms a diagnosis live and prints what it found on the server."""
    text = ("SSL_connect returned=1 errno=0 state=error: certificate verify failed "
            "(unable to get local issuer certificate)")
    for fmt in ("text", "markdown"):
        code, out = run_pipe("explain", text, "--probe", "--target", server.address, "--format", fmt)
        assert "127.0.0.1" in out, out
        assert not problems(out), (fmt, problems(out))


def test_fix_probes_the_forging_server(tmp_path: Path, server: ForgeInfo) -> None:
    env = tmp_path / ".env.production"
    env.write_text(f"SMTP_SERVER=127.0.0.1\nSMTP_PORT={server.port}\nSMTP_LOGIN=app\nSMTP_PASSWORD=x\n"
                   "SMTP_ENABLE_STARTTLS=always\nSMTP_FROM_ADDRESS=x@example.com\n")
    for runner in (run_pipe, run_tty):
        code, out = runner("fix", str(env), "--ca-file", str(server.ca_file))
        assert "SMTP_CA_FILE" in out, out  # it probed, found the CA that verifies and wrote it
        assert not problems(out, tty=runner is run_tty), problems(out, tty=runner is run_tty)


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeInfo]:
    with forge.running(tmp_path_factory.mktemp("forge-554"), greeting=554) as info:
        yield info


@pytest.mark.parametrize("command", ["probe", "send"])
def test_a_refusal_quoted_in_our_own_sentence(refusing: ForgeInfo, command: str) -> None:
    """A 554 greeting's text is quoted inside the finding's sentence (a catalogue parameter), not only in
    the banner line: the whole sentence stays one inert line."""
    args = [command, refusing.address] + (["--from", "a@example.com", "--to", "b@example.net"]
                                           if command == "send" else [])
    for runner in (run_pipe, run_tty):
        code, out = runner(*args)
        assert code != 0 and "554" in out, out
        assert not problems(out, tty=runner is run_tty), problems(out, tty=runner is run_tty)


@pytest.mark.parametrize("args", [("audit", "{addr}", "--ca-file", "{ca}"),
                                  ("audit", "{addr}", "--ca-file", "{ca}", "--json"),
                                  ("config", "--for", "msmtp", "{addr}", "--ca-file", "{ca}", "--json"),
                                  ("probe", "{addr}", "--ca-file", "{ca}", "--json", "--transcript"),
                                  ("send", "{addr}", "--ca-file", "{ca}", "--from", "a@example.com", "--to",
                                   "b@example.net", "--json", "--transcript"),
                                  ("trust", "{addr}", "--ca-file", "{ca}", "--runtime", "python", "--json")])
def test_more_commands_against_the_forging_server(server: ForgeInfo, args: tuple[str, ...]) -> None:
    """audit quotes what the server sent unprompted; JSON documents keep every value (a \\u escape) and
    stay parseable."""
    code, out = run_pipe(*(a.format(addr=server.address, ca=server.ca_file) for a in args))
    assert "127.0.0.1" in out, out
    if "--json" in args:
        json.loads(out.split("\nreturning true from eof_received", 1)[0])  # asyncio's note on stderr
    assert not problems(out), problems(out)


def test_fix_json_with_hostile_values(hostile_app: Path, server: ForgeInfo) -> None:
    code, out = run_pipe("fix", str(hostile_app), "--ca-file", str(server.ca_file), "--json")
    json.loads(out)
    assert not problems(out), problems(out)


@pytest.mark.parametrize("runner", [run_pipe, run_tty], ids=["pipe", "tty"])
def test_scan_of_a_forging_server(server: ForgeInfo, tmp_path: Path, runner: object) -> None:
    """scan writes one JSON record per target (ASCII-escaped) and a summary table on stderr."""
    targets = tmp_path / "targets.txt"
    targets.write_text(f"{server.address}\n")
    code, out = runner("scan", str(targets), "--ca-file", str(server.ca_file), "--timeout", "10")  # type: ignore[operator]
    assert "127.0.0.1" in out and "FORGE" in out, out  # the certificate names are in the record
    assert not problems(out, tty=runner is run_tty), problems(out, tty=runner is run_tty)


def test_fix_diff_is_inert_on_a_terminal_and_exact_in_a_pipe(tmp_path: Path, server: ForgeInfo) -> None:
    """``fix --diff | patch -p1`` needs the file's bytes; a terminal must not obey them."""
    env = tmp_path / ".env.production"
    env.write_text(f"SMTP_SERVER=127.0.0.1\nSMTP_PORT={server.port}\nSMTP_LOGIN=app\nSMTP_PASSWORD=x\n"
                   f"SMTP_ENABLE_STARTTLS=always\n# {forge.OSC_TITLE} {forge.BIDI} note\n", encoding="utf-8")
    args = ("fix", str(env), "--ca-file", str(server.ca_file), "--diff")
    _, piped = run_pipe(*args)
    assert "+SMTP_CA_FILE=" in piped and forge.OSC_TITLE in piped  # the context line, byte for byte
    _, shown_ = run_tty(*args)
    assert "+SMTP_CA_FILE=" in shown_ and "\\x1b]0;pwned-title" in shown_
    assert not problems(shown_, tty=True), problems(shown_, tty=True)
