"""explain --log: streaming scan of generated Rails/Sidekiq-shaped logs, grouping, counts, first/last seen."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.explain import scan
from smtp_doctor.explain.scan import Scanner, needle_regex, scan_files

NORMAL = [
    'I, [{ts} #{pid}]  INFO -- : [{rid}] Started GET "/api/v1/timelines/home" for 10.0.0.{n} at {ts}',
    "I, [{ts} #{pid}]  INFO -- : [{rid}] Completed 200 OK in {n}ms (Views: 0.2ms | ActiveRecord: 3.1ms)",
    "D, [{ts} #{pid}] DEBUG -- : [{rid}]   User Load (0.4ms)  SELECT \"users\".* FROM \"users\" WHERE id = {n}",
]
TIMEOUT = ("E, [{ts} #{pid}] ERROR -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [{rid}] Error performing "
           "ActionMailer::MailDeliveryJob (Job ID: {rid}) from Sidekiq(mailers) in 5004.{n}ms: Net::ReadTimeout "
           "(Net::ReadTimeout with #<TCPSocket:(closed)>)")
WRONG_VERSION = ("E, [{ts} #{pid}] ERROR -- : [ActiveJob] [ActionMailer::MailDeliveryJob] [{rid}] Error performing "
                 "ActionMailer::MailDeliveryJob: OpenSSL::SSL::SSLError (SSL_connect returned=1 errno=0 "
                 "peeraddr=203.0.113.7:587 state=error: wrong version number)")
AUTH = ("E, [{ts} #{pid}] ERROR -- : [{rid}] Net::SMTPAuthenticationError (535-5.7.8 Username and Password not "
        "accepted. Learn more at)")


def _rails_log(path: Path, repeats: int = 200) -> dict[str, int]:
    counts = {"timeout": 0, "wrong_version": 0, "auth": 0}
    with path.open("w", encoding="utf-8") as fh:
        for i in range(repeats):
            ts = f"2024-05-01T{10 + i // 3600:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{i:06d}"
            ctx = {"ts": ts, "pid": 1000 + i % 7, "rid": f"{i:08x}-1f2e-4d3c-8b7a-{i:012x}", "n": i % 250}
            for line in NORMAL:
                fh.write(line.format(**ctx) + "\n")
            if i % 2 == 0:
                fh.write(TIMEOUT.format(**ctx) + "\n")
                counts["timeout"] += 1
            if i % 5 == 0:
                fh.write(WRONG_VERSION.format(**ctx) + "\n")
                counts["wrong_version"] += 1
            if i == 7 or i == repeats - 3:
                fh.write(AUTH.format(**ctx) + "\n")
                counts["auth"] += 1
    return counts


def test_rails_log_groups_counts_and_first_last(tmp_path: Path) -> None:
    log = tmp_path / "production.log"
    counts = _rails_log(log)
    result = scan_files([str(log)])
    by_mode = {g.mode: g for g in result.groups}
    assert by_mode["greeting_timeout"].count == counts["timeout"]  # no port, no setting: both causes
    wrong = by_mode["implicit_tls_on_plain_port"]
    assert wrong.count == counts["wrong_version"]
    assert (wrong.host, wrong.port) == ("203.0.113.7", 587)
    assert wrong.first_ts == "2024-05-01T10:00:00.000000"
    assert wrong.last_ts == "2024-05-01T10:03:15.000195"
    auth = by_mode["auth_gmail_bad_credentials"]
    assert auth.count == 2 and auth.first_ts != auth.last_ts
    assert result.failures == sum(counts.values())
    assert result.lines == 200 * 3 + sum(counts.values())
    assert set(by_mode) == {"greeting_timeout", "implicit_tls_on_plain_port", "auth_gmail_bad_credentials"}
    # line numbers point at the real lines
    first_line = int(wrong.first_where.rsplit(":", 1)[1])
    assert "wrong version number" in log.read_text().splitlines()[first_line - 1]


@pytest.mark.parametrize("block", [17, 64, 1000, 1 << 20])
def test_block_boundaries_do_not_change_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   block: int) -> None:
    log = tmp_path / "production.log"
    _rails_log(log, repeats=40)
    monkeypatch.setattr(scan, "BLOCK", block)
    result = scan_files([str(log)])
    summary = sorted((g.mode, g.count, g.first_where, g.last_where) for g in result.groups)
    monkeypatch.setattr(scan, "BLOCK", 1 << 20)
    expected = sorted((g.mode, g.count, g.first_where, g.last_where) for g in scan_files([str(log)]).groups)
    assert summary == expected
    assert result.lines == 40 * 3 + 20 + 8 + 2


def test_sidekiq_log_with_host_on_a_nearby_line(tmp_path: Path) -> None:
    log = tmp_path / "sidekiq.log"
    lines = []
    for i in range(30):
        ts = f"2024-06-02T08:{i:02d}:00.000Z"
        lines.append(f"{ts} pid=7 tid=ab{i} class=ActionMailer::MailDeliveryJob jid={i:024x} INFO: start")
        lines.append(f"{ts} pid=7 tid=ab{i} INFO: delivering via smtp.example.com:465")
        lines.append(f"{ts} pid=7 tid=ab{i} WARN: Net::ReadTimeout: Net::ReadTimeout with #<TCPSocket:(closed)>")
    log.write_text("\n".join(lines))  # no final newline on purpose
    result = scan_files([str(log)])
    [group] = result.groups
    assert group.mode == "plain_on_implicit_port" and group.count == 30
    assert (group.host, group.port) == ("smtp.example.com", 465)
    assert group.confidence >= 0.7  # port 465 nearby makes the TLS-mode mismatch likely
    assert (group.first_ts, group.last_ts) == ("2024-06-02T08:00:00.000Z", "2024-06-02T08:29:00.000Z")


def test_the_cache_never_changes_a_verdict(tmp_path: Path) -> None:
    """One masked line, different hosts on the lines before it: each keeps the host and port it was near."""
    log = tmp_path / "sidekiq.log"
    lines = []
    for i in range(60):
        host, port = [("smtp.example.com", 465), ("relay.example.net", 587), ("mx.example.org", 25)][i % 3]
        lines.append(f"2024-06-02T08:{i:02d}:00Z pid={i} INFO: delivering via {host}:{port}")
        lines.append(f"2024-06-02T08:{i:02d}:01Z pid={i} jid={i:024x} WARN: Net::ReadTimeout with "
                     "#<TCPSocket:(closed)>")
    log.write_text("\n".join(lines) + "\n")

    class Uncached(Scanner):
        def _classify(self, line: str, before: bytes, stamp: str | None = None) -> scan.Explanation:
            context = b"\n".join(before.split(b"\n")[-scan.CONTEXT_LINES - 1:]).decode("utf-8", "replace")
            return scan.explain(line, self.kb, context)

    def summary(scanner: Scanner) -> list[tuple[str, str | None, int | None, int]]:
        with log.open("rb") as fh:
            scanner.feed(fh, str(log))
        return sorted((g.mode, g.host, g.port, g.count) for g in scanner.finish().groups)

    cached = summary(Scanner())
    assert cached == summary(Uncached())
    assert {(host, port, count) for _, host, port, count in cached} == {
        ("smtp.example.com", 465, 20), ("relay.example.net", 587, 20), ("mx.example.org", 25, 20)}


def test_a_host_logged_long_before_is_not_borrowed(tmp_path: Path) -> None:
    """Only the lines logged close in time lend a failure their host and port."""
    log = tmp_path / "production.log"
    log.write_text(
        "E, [2026-11-20T10:02:45.771201 #4130] ERROR -- : OpenSSL::SSL::SSLError (SSL_connect returned=1 "
        "errno=0 peeraddr=203.0.113.7:587 state=error: wrong version number)\n"
        "E, [2026-11-20T11:45:19.004211 #4133] ERROR -- : Net::ReadTimeout (Net::ReadTimeout with "
        "#<TCPSocket:(closed)>)\n"
        "I, [2026-11-20T11:50:00.000000 #4133]  INFO -- : delivering via smtp.example.com:465\n"
        "E, [2026-11-20T11:50:05.000000 #4133] ERROR -- : Net::ReadTimeout (Net::ReadTimeout with "
        "#<TCPSocket:(closed)>)\n")
    groups = {(g.mode, g.host, g.port, g.count) for g in scan_files([str(log)]).groups}
    assert groups == {("implicit_tls_on_plain_port", "203.0.113.7", 587, 1),
                      ("greeting_timeout", None, None, 1),
                      ("plain_on_implicit_port", "smtp.example.com", 465, 1)}


def test_huge_line_and_binary_garbage_are_bounded(tmp_path: Path) -> None:
    log = tmp_path / "weird.log"
    with log.open("wb") as fh:
        fh.write(b"x" * (3 << 20) + b" ssl garbage\n")  # one 3 MiB line
        fh.write(bytes(b for b in range(256) if b != 10) * 100 + b"\n")
        fh.write(b"Errno::ECONNREFUSED: Connection refused - connect(2) for 127.0.0.1:25\n")
    scanner = Scanner()
    with log.open("rb") as fh:
        scanner.feed(fh, "weird.log")
    result = scanner.finish()
    assert [g.mode for g in result.groups] == ["conn_refused"]
    assert result.lines == 3


def test_no_failures_is_exit_1_and_stdin_works(tmp_path: Path) -> None:
    quiet = "I, [2024-05-01T10:00:00.000000 #1]  INFO -- : Completed 200 OK in 3ms\n" * 100
    res = CliRunner().invoke(cli, ["--lang", "en", "explain", "--log", "-"], input=quiet)
    assert res.exit_code == 1 and "No SMTP/TLS failure found" in res.output
    res = CliRunner().invoke(cli, ["--lang", "en", "explain", "--log", "-", "--json"],
                             input=quiet + "Error: connect ECONNREFUSED 127.0.0.1:587\n")
    assert res.exit_code == 0
    doc = json.loads(res.output)
    assert doc["groups"][0]["mode"] == "conn_refused" and doc["groups"][0]["port"] == 587


def test_cli_log_text_and_markdown(tmp_path: Path) -> None:
    log = tmp_path / "production.log"
    counts = _rails_log(log, repeats=20)
    res = CliRunner().invoke(cli, ["--lang", "en", "explain", "--log", str(log)])
    assert res.exit_code == 0
    assert f"{counts['timeout']}× The server accepted the connection but never greeted" in res.output
    assert "first:" in res.output and "2024-05-01T10:00:00.000000" in res.output
    res = CliRunner().invoke(cli, ["--lang", "en", "explain", "--log", str(log), "--format", "markdown"])
    assert res.exit_code == 0 and "| count |" in res.output


def test_log_samples_are_redacted(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text('2024-01-01 00:00:00 Connection could not be established with host "smtps://u:topsecret@h.example'
                   ':587": error:0A00010B:SSL routines::wrong version number\n'
                   "2024-01-01 00:00:01 mail relay password=topsecret smtp handshake odd\n")
    for fmt in ("text", "json", "markdown"):
        res = CliRunner().invoke(cli, ["--lang", "en", "explain", "--log", str(log), "--format", fmt])
        assert "topsecret" not in res.output


def test_stream_object_scanning_does_not_need_a_file() -> None:
    scanner = Scanner()
    scanner.feed(io.BytesIO(b"curl: (6) Could not resolve host: smtp.exmaple.com\n"), "<mem>")
    assert scanner.finish().groups[0].mode == "dns_failure"


def _scan_text(text: str) -> list[tuple[str, str | None]]:
    import io

    from smtp_doctor.explain.scan import Scanner

    scanner = Scanner()
    scanner.feed(io.BytesIO(text.encode()), "pasted.log")
    return [(g.mode, g.first_ts) for g in scanner.finish().groups]


def test_real_client_output_is_one_failure_one_group() -> None:
    """Real clients' output (tests/corpus/explain, dev part) in --log: a stack trace, an error object's fields
    (Node's `code: 'ETIMEDOUT'` after a greeting timeout) and debug lines are one failure, not groups of their
    own; the one group is explain's answer for the whole text."""
    from corpus.explain.score import NOT_PASTEABLE, load_cases
    from smtp_doctor.explain import explain

    cases, held = load_cases()
    total = one = 0
    for c in cases:
        text = str(c["text"])
        if (c["scenario"], c["client"]) in held or text.strip() in NOT_PASTEABLE or c["expect"] == "none" \
                or str(c["expect"]).startswith("unsafe"):
            continue
        best = explain(text).best
        if best is None:
            continue
        total += 1
        groups = _scan_text(text)
        one += len(groups) == 1 and groups[0][0] == best.mode.id
    assert total >= 150
    assert one / total >= 0.9, (one, total)


def test_node_timeout_side_line_is_not_a_blocked_port() -> None:
    from corpus.explain.score import load_cases

    cases, _ = load_cases()
    node = [c for c in cases if c["scenario"] == "silent_server" and c["variant"] == "nodemailer 10 debug"]
    assert node and "ETIMEDOUT" in str(node[0]["text"])
    assert [m for m, _ in _scan_text(str(node[0]["text"]))] == ["greeting_timeout"]


def test_first_seen_is_never_a_certificate_date() -> None:
    from corpus.explain.score import load_cases

    cases, _ = load_cases()
    s_client = [c for c in cases if c["client"] == "openssl" and c["scenario"] == "expired"]
    assert s_client and any("NotAfter" in str(c["text"]) for c in s_client)
    for c in s_client:
        for _, first in _scan_text(str(c["text"])):
            assert first is None or "2021" not in first and "2020" not in first, first


def test_shape_masker_never_joins_what_masked_keeps_apart() -> None:
    """The storm fast path (scan._Masker) splices the volatile spans of a line's shape; keys it gives must be
    _masked's keys, or keys of their own (a cache miss), never one shared by two texts _masked keeps apart."""
    import json

    from corpus.explain.score import CORPORA
    from smtp_doctor.explain.scan import _masked, _Masker

    lines = [ln for path in CORPORA if path.exists() for c in json.loads(path.read_text())["cases"]
             for ln in str(c["text"]).splitlines()]
    lines += [f"E, [#{rid}] ERROR -- : [{rid:08x}-{rid * 7:012x}] Net::SMTPAuthenticationError (535-5.7.8 x) "
              f"in {100 + rid % 300}.{rid % 97}ms port {587 if rid % 2 else 465}" for rid in range(3000)]
    # one shape, an id in one and a word in the other, both orders
    lines += ["id 1eadbeef port 587", "id deadbeef port 587", "id deadbeef port 465", "id 1eadbeef port 465",
              "pid=12 abc", "pid=12 abd"]
    mask = _Masker()
    first: dict[str, str] = {}
    for ln in lines:
        key = mask(ln)
        assert first.setdefault(key, _masked(ln)) == _masked(ln), (ln, key)


def test_direct_re2_search_agrees_with_the_wrapper() -> None:
    from smtp_doctor.explain.knowledge import load, span_search

    rx = needle_regex(load())
    direct = span_search(rx)

    class Wrapped:  # no _regexp: span_search takes the public path
        pattern = rx.pattern

        def search(self, data: bytes, pos: int) -> object:
            return rx.search(data, pos)

    public = span_search(Wrapped())
    block = b"ok\nE: Net::SMTPAuthenticationError 535\nfine\nwrong version number here\n" * 50
    for pos in range(0, len(block), 7):
        assert direct(block, pos) == public(block, pos)
    assert direct(block, 0) is not None and direct(b"nothing to see", 0) is None
