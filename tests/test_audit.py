"""smtp-doctor audit against real sockets: each lab server that fails one check gets that finding,
the clean ones (the lab's, and aiosmtpd 1.4.6 in the main lab) get none of the injection/exposure ones.

Every audit here is a real asyncio client against a real asyncio server over 127.0.0.1 with real TLS;
the revoked certificate is checked against a CRL and an OCSP responder served over HTTP by the lab.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtp_doctor.audit import AuditOptions, PortAudit, Role, Verdict, audit
from smtp_doctor.audit.model import InjectionTry
from smtp_doctor.audit.starttls import judge_injection
from smtp_doctor.cli import cli
from smtp_doctor.findings import Severity
from smtp_doctor.lab import run_lab_in_thread
from smtp_doctor.lab.attack import attack_lab_in_thread
from smtp_doctor.lab.audit import SERVERS, STAPLED, AuditLabInfo, audit_lab_in_thread
from smtp_doctor.probe.options import ProbeOptions

#: The findings that would be false positives on a correct server: the USENIX-2021 class and its kin.
INJECTION_EXPOSURE = {"audit.starttls_injection", "audit.starttls_injection_inconclusive", "audit.bytes_after_220"}

#: lab server -> the finding it exists to show (and its severity on a submission port).
EXPECTED = {
    "injection": ("audit.starttls_injection", Severity.CRITICAL),
    "leak-after-220": ("audit.bytes_after_220", Severity.ERROR),
    "auth-before-tls": ("audit.auth_before_tls", Severity.CRITICAL),
    "mail-before-tls": ("audit.mail_before_tls", Severity.ERROR),
    "starttls-readvertised": ("audit.starttls_readvertised", Severity.WARNING),
    "talks-after-tls": ("audit.starttls_injection_inconclusive", Severity.WARNING),
    "session-fixation": ("audit.session_kept", Severity.ERROR),
    "tls10-only": ("audit.legacy_tls_only", Severity.ERROR),
    "rsa1024": ("audit.weak_key", Severity.ERROR),
    "sha1": ("audit.sha1_signature", Severity.ERROR),
    "revoked": ("audit.revoked", Severity.CRITICAL),
    "crl-unreachable": ("audit.revocation_unchecked", Severity.INFO),
    "stapled-revoked": ("audit.revoked", Severity.CRITICAL),
}
CLEAN = ("clean", "clean-implicit", "stapled-good")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditLabInfo]:
    with audit_lab_in_thread(tmp_path_factory.mktemp("audit-lab")) as info:
        yield info


@pytest.fixture(scope="module")
def results(lab: AuditLabInfo) -> dict[str, PortAudit]:
    """Every lab server audited at once (one audit call, all ports side by side)."""
    result = audit(lab.host, list(lab.ports.values()),
                   AuditOptions(ProbeOptions(ca_file=str(lab.ca_file)), revocation=True))
    by_port = {p.port: p for p in result.ports}
    return {name: by_port[port] for name, port in lab.ports.items()}


def ids(pa: PortAudit) -> set[str]:
    return {f.id for f in pa.findings}


def test_every_lab_server_has_an_expectation() -> None:
    assert set(EXPECTED) | set(CLEAN) == set(SERVERS) | set(STAPLED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_failing_server_gets_its_finding(name: str, results: dict[str, PortAudit]) -> None:
    want, severity = EXPECTED[name]
    got = {f.id: f.severity for f in results[name].findings}
    assert got.get(want) == severity, (name, got)
    assert Severity.OK is not severity


@pytest.mark.parametrize("name", CLEAN)
def test_clean_lab_servers_come_out_clean(name: str, results: dict[str, PortAudit]) -> None:
    pa = results[name]
    assert not ids(pa) & INJECTION_EXPOSURE
    assert all(f.severity.rank <= Severity.INFO.rank for f in pa.findings), [(f.id, f.severity) for f in pa.findings]
    assert "audit.not_revoked" in ids(pa)  # its CRL and OCSP answer "good", fetched for real


def test_injection_verdicts_and_the_runs_behind_them(results: dict[str, PortAudit]) -> None:
    vulnerable = results["injection"].injection
    assert vulnerable is not None and vulnerable.verdict is Verdict.VULNERABLE
    assert not vulnerable.sanity.unsolicited and vulnerable.sanity.quit_replies == 1
    answered = {t.payload: t.unsolicited for t in vulnerable.tries}
    assert answered["NOOP"].startswith(b"250") and answered["QUIT"].startswith(b"221")
    assert answered["EHLO inject.invalid"].startswith(b"250-audit.lab")
    chatty = results["talks-after-tls"].injection
    assert chatty is not None and chatty.verdict is Verdict.INCONCLUSIVE and chatty.reason == "talks_unprompted"
    for name in ("clean", "leak-after-220", "auth-before-tls", "revoked"):
        inj = results[name].injection
        assert inj is not None and inj.verdict is Verdict.NOT_VULNERABLE, name


def test_only_the_faulty_servers_get_the_state_machine_findings(results: dict[str, PortAudit]) -> None:
    for name, pa in results.items():
        assert ("audit.bytes_after_220" in ids(pa)) == (name == "leak-after-220"), name
        assert ("audit.auth_before_tls" in ids(pa)) == (name == "auth-before-tls"), name
        assert ("audit.mail_before_tls" in ids(pa)) == (name in ("mail-before-tls", "session-fixation")), name
        assert ("audit.second_starttls" in ids(pa)) == (name == "starttls-readvertised"), name
        assert ("audit.starttls_injection" in ids(pa)) == (name == "injection"), name
        assert ("audit.session_kept" in ids(pa)) == (name == "session-fixation"), name
    assert results["mail-before-tls"].session.rcpt_after_tls == 503  # type: ignore[union-attr]  # reset: proof


def test_revoked_from_the_crl_and_from_the_ocsp_responder(results: dict[str, PortAudit], lab: AuditLabInfo
                                                          ) -> None:
    checks = {c.method: c for c in results["revoked"].revocation}
    assert checks["crl"].status == "revoked" and checks["ocsp"].status == "revoked"
    assert checks["ocsp"].reason == "key_compromise"
    assert {c.status for c in results["clean"].revocation} == {"good"}
    assert "GET /crl.der" in lab.http_requests and "POST /ocsp" in lab.http_requests
    dead = results["crl-unreachable"].revocation
    assert dead and all(c.status == "unreachable" for c in dead)  # said plainly, never "good"


def test_no_traffic_elsewhere_unless_asked(lab: AuditLabInfo) -> None:
    """By default the audit talks to the named host:port only: the CRL/OCSP URLs are named, not fetched."""
    before = len(lab.http_requests)
    res = audit(lab.host, [lab.ports["revoked"]], AuditOptions(ProbeOptions(ca_file=str(lab.ca_file))))
    assert len(lab.http_requests) == before
    found = {f.id: f for f in res.ports[0].findings}
    assert "audit.revoked" not in found and found["audit.revocation_skipped"].severity is Severity.INFO
    assert {v for k, v in found["audit.revocation_skipped"].details if k == "url"} == set(res.ports[0].revocation_urls)


def test_a_stapled_answer_is_judged_without_any_fetch(lab: AuditLabInfo) -> None:
    """OCSP stapling (pyOpenSSL server): good and revoked staples are verified against the issuer and
    reported as such, with no request to the revocation server (no traffic elsewhere)."""
    before = len(lab.http_requests)
    res = audit(lab.host, [lab.ports["stapled-good"], lab.ports["stapled-revoked"]],
                AuditOptions(ProbeOptions(ca_file=str(lab.ca_file))))
    good, revoked = res.ports
    assert good.staple is not None and good.staple.stapled is True
    assert [(c.method, c.status) for c in good.revocation] == [("ocsp-staple", "good")]
    assert [(c.method, c.status) for c in revoked.revocation] == [("ocsp-staple", "revoked")]
    assert {f.id: f.severity for f in revoked.findings}["audit.revoked"] is Severity.CRITICAL
    assert "audit.no_ocsp_staple" not in ids(good)
    assert len(lab.http_requests) == before


def test_relay_role_rates_lower(lab: AuditLabInfo) -> None:
    res = audit(lab.host, [lab.ports["auth-before-tls"]],
                AuditOptions(ProbeOptions(ca_file=str(lab.ca_file)), Role.RELAY, revocation=False))
    got = {f.id: f.severity for f in res.ports[0].findings}
    assert got["audit.auth_before_tls"] is Severity.ERROR
    res = audit(lab.host, [lab.ports["mail-before-tls"]],
                AuditOptions(ProbeOptions(ca_file=str(lab.ca_file)), Role.RELAY, revocation=False))
    assert "audit.mail_before_tls" not in {f.id for f in res.ports[0].findings}  # a relay must take plaintext


def test_aiosmtpd_146_is_clean(tmp_path: Path) -> None:
    import aiosmtpd

    assert tuple(int(x) for x in aiosmtpd.__version__.split(".")[:3]) >= (1, 4, 6)
    with run_lab_in_thread(tmp_path, with_hostile=False) as info:
        srv = info.servers["starttls"]
        res = audit(srv.host, [srv.port], AuditOptions(ProbeOptions(ca_file=str(info.ca_file))))
    pa = res.ports[0]
    assert pa.injection is not None and pa.injection.verdict is Verdict.NOT_VULNERABLE, pa.injection
    assert not ids(pa) & (INJECTION_EXPOSURE | {"audit.auth_before_tls", "audit.mail_before_tls",
                                               "audit.starttls_readvertised"}), ids(pa)
    # a true finding, not a false positive: aiosmtpd 1.4.6's smtp_STARTTLS never checks whether TLS is
    # already active, and answers a second STARTTLS inside TLS with 220
    assert pa.session is not None and pa.session.second_starttls == 220


def test_the_audit_never_sends_auth_or_data(tmp_path: Path) -> None:
    """The attacker lab records every verb it receives: an audit of its honest port sends no AUTH, no DATA."""
    with attack_lab_in_thread(tmp_path) as info:
        audit(info.host, [info.ports["honest"]], AuditOptions(ProbeOptions(ca_file=str(info.ca_file))))
        seen = [c for cap in info.captures for c in cap.commands_plain + cap.commands_tls]
    assert "MAIL" in seen and "STARTTLS" in seen  # it did talk to it
    assert not [c for c in seen if c.startswith("AUTH") or c == "DATA"], seen


def test_hostile_servers_end_bounded_without_a_traceback(tmp_path: Path) -> None:
    """Silent, drip-feeding, garbage, endless, closing and lying servers: every audit ends within its
    deadline with a result. The hostile lab's response-injection server also keeps plaintext buffered
    across STARTTLS (Python's start_tls does), so VULNERABLE is the true verdict there."""
    import time

    with run_lab_in_thread(tmp_path, with_hostile=True) as info:
        ports = {srv.port: name for name, srv in info.hostile.items()}
        started = time.monotonic()
        res = audit("127.0.0.1", list(ports), AuditOptions(ProbeOptions(ca_file=str(info.ca_file), timeout=8)))
        elapsed = time.monotonic() - started
        code, out = _cli("audit", f"127.0.0.1:{info.hostile['garbage'].port}", "--timeout", "5")
    assert elapsed < 60, elapsed
    by_name = {ports[p.port]: p for p in res.ports}
    assert set(by_name) == set(info.hostile)
    inj = by_name["starttls-injection"].injection
    assert inj is not None and inj.verdict is Verdict.VULNERABLE
    assert "audit.bytes_after_220" in ids(by_name["starttls-injection"])
    for name in ("close-after-starttls", "reset-mid-handshake", "starttls-then-plaintext"):
        inj = by_name[name].injection
        assert inj is not None and inj.verdict is Verdict.INCONCLUSIVE, name  # never VULNERABLE on a broken run
    for name in ("busy-421", "close-after-greeting", "close-after-ehlo"):
        assert not ids(by_name[name]), name  # nothing is known about TLS there: no finding is invented
    assert code in (0, 1, 3) and "Traceback" not in out


def _try(payload: str, unsolicited: bytes = b"", quits: int | None = 1, handshake: bool = True) -> InjectionTry:
    return InjectionTry(payload, 220, handshake, unsolicited, quits)


def test_judge_needs_a_quiet_sanity_run() -> None:
    quiet = (_try("NOOP"), _try("QUIT"))
    assert judge_injection(_try(""), quiet).verdict is Verdict.NOT_VULNERABLE
    assert judge_injection(_try(""), (_try("NOOP", b"250 ok\r\n"),)).verdict is Verdict.VULNERABLE
    assert judge_injection(_try(""), (_try("NOOP", quits=2),)).verdict is Verdict.VULNERABLE
    # a server that talks anyway is never called vulnerable (the anchors' false positive)
    assert judge_injection(_try("", b"220 hi\r\n"), (_try("NOOP", b"220 hi\r\n250 ok\r\n"),)).verdict \
        is Verdict.INCONCLUSIVE
    assert judge_injection(_try("", handshake=False), quiet).verdict is Verdict.INCONCLUSIVE


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


def test_cli_text_json_and_exit_codes(lab: AuditLabInfo) -> None:
    ca = ("--ca-file", str(lab.ca_file))
    code, out = _cli("audit", f"127.0.0.1:{lab.ports['clean']}", *ca)
    assert code == 0 and "NOT VULNERABLE" in out, out
    code, out = _cli("audit", f"127.0.0.1:{lab.ports['injection']}", *ca, "--json")
    assert code == 1
    doc = json.loads(out)
    port = doc["ports"][0]
    assert port["injection"]["verdict"] == "vulnerable" and doc["worst"] == "critical"
    assert any(f["id"] == "audit.starttls_injection" and f["fix"] for f in port["findings"])
    fixes = {d["name"] for f in port["findings"] for d in f["details"]}
    assert {"fix.postfix", "fix.exim", "fix.dovecot", "source"} <= fixes
    code, out = _cli("--lang", "ja", "audit", f"127.0.0.1:{lab.ports['revoked']}", *ca, "--revocation")
    assert code == 1 and "失効しています" in out, out


def test_cli_bad_input_is_one_line(lab: AuditLabInfo) -> None:
    code, out = _cli("audit", "127.0.0.1:99999")
    assert code == 2 and out.count("\n") == 1 and "Traceback" not in out
    code, out = _cli("audit")
    assert code == 2 and "Traceback" not in out


def test_cli_unreachable_is_exit_3() -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out = _cli("audit", f"127.0.0.1:{port}", "--timeout", "5")
    assert code == 3, out


def test_cli_client_mode_reports_what_arrived(tmp_path: Path) -> None:
    """`audit --client` runs the attacker lab; a real smtplib that logs in without STARTTLS is caught."""
    proc = subprocess.Popen([sys.executable, "-m", "smtp_doctor", "audit", "--client", "--duration", "5",
                             "--json", "--dir", str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "LANG": "C.UTF-8"})
    try:
        assert proc.stdout is not None
        ports = json.loads(proc.stdout.readline())["listening"]["ports"]
        script = ("import smtplib,sys\nc=smtplib.SMTP('127.0.0.1',int(sys.argv[1]),timeout=5)\n"
                  "try:\n c.login('someone','not-a-real-password')\nexcept smtplib.SMTPException:\n pass\n")
        subprocess.run([sys.executable, "-c", script, str(ports["strip"])], check=True, timeout=20)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    doc = json.loads(out)["report"]
    assert proc.returncode == 1 and doc["unsafe"] is True
    verdicts = [c["verdict"] for c in doc["connections"] if c["scenario"] == "strip"]
    assert verdicts == ["auth_in_clear"]
    assert "not-a-real-password" not in out and "bm90LWEtcmVhbC1wYXNzd29yZA" not in out


def test_the_attack_report_records_verbs_never_arguments() -> None:
    from smtp_doctor.lab.attack import _verb

    assert _verb(b"AUTH PLAIN AGxhYgBwdw==\r\n") == "AUTH PLAIN"
    assert _verb(b"bGFiLXVzZXI=\r\n") == "(other)"  # a stray base64 line (a credential) is never kept
    assert _verb(b"AUTH c2VjcmV0\r\n") == "AUTH (other)"
    assert _verb(b"MAIL FROM:<a@b>\r\n") == "MAIL"
