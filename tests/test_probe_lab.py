"""The probe against every lab server: real sockets, real TLS, the lab's private CA."""

from __future__ import annotations

import pytest

from smtp_doctor import Mode, ProbeOptions, Severity, probe
from smtp_doctor.lab import LabInfo


def ids(port) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.id for f in port.findings}


@pytest.fixture(scope="module")
def reports(lab: LabInfo) -> dict:  # type: ignore[type-arg]
    opts = ProbeOptions(ca_file=str(lab.ca_file), timeout=20, greeting_timeout=12)
    return {name: probe(srv.host, [srv.port], opts).ports[0] for name, srv in lab.servers.items()}


EXPECT = {
    # name: (mode, findings that must be there, findings that must not)
    "starttls": (Mode.STARTTLS, {"mode.starttls", "cert.trusted", "auth.offered"}, {"auth.before_tls"}),
    "implicit": (Mode.IMPLICIT_TLS, {"mode.implicit_tls", "cert.trusted", "auth.offered"}, set()),
    "plain": (Mode.PLAINTEXT, {"mode.plaintext", "auth.plaintext_only"}, {"cert.trusted"}),
    "expired": (Mode.STARTTLS, {"cert.expired"}, {"cert.trusted"}),
    "wrong-name": (Mode.STARTTLS, {"cert.hostname_mismatch", "cert.trusted"}, set()),
    "self-signed": (Mode.STARTTLS, {"cert.self_signed"}, {"cert.trusted"}),
    "missing-intermediate": (Mode.STARTTLS, {"cert.incomplete_chain"}, {"cert.trusted", "cert.untrusted"}),
    "slow-greeting": (Mode.STARTTLS, {"mode.starttls", "cert.trusted"}, set()),
    "auth-before-tls": (Mode.STARTTLS, {"auth.before_tls", "cert.trusted"}, set()),
    "auth-plain-only": (Mode.IMPLICIT_TLS, {"auth.offered", "cert.trusted"}, set()),
    "auth-login-only": (Mode.IMPLICIT_TLS, {"auth.offered", "cert.trusted"}, set()),
    "auth-cram-md5": (Mode.IMPLICIT_TLS, {"auth.offered", "cert.trusted"}, set()),
    "auth-xoauth2": (Mode.IMPLICIT_TLS, {"auth.offered", "cert.trusted"}, set()),
    "legacy-tls": (Mode.STARTTLS, {"tls.old_version", "cert.trusted"}, {"tls.negotiated"}),
    "tls13-only": (Mode.IMPLICIT_TLS, {"tls.negotiated", "cert.trusted"}, {"tls.old_version"}),
}


def test_every_lab_server_has_an_expectation(lab: LabInfo) -> None:
    assert set(lab.servers) == set(EXPECT)


@pytest.mark.parametrize(("name", "mechanisms"), [
    ("auth-plain-only", ("PLAIN",)), ("auth-login-only", ("LOGIN",)), ("auth-cram-md5", ("CRAM-MD5",)),
    ("auth-xoauth2", ("XOAUTH2",)), ("starttls", ("LOGIN", "PLAIN")),
])
def test_auth_mechanisms_after_tls(reports: dict, name: str, mechanisms: tuple[str, ...]) -> None:  # type: ignore[type-arg]
    assert reports[name].facts.ehlo_tls.auth == mechanisms


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_every_lab_server_is_classified(reports: dict, name: str) -> None:  # type: ignore[type-arg]
    mode, present, absent = EXPECT[name]
    d = reports[name]
    assert d.facts.mode is mode
    assert present <= ids(d), ids(d)
    assert not (absent & ids(d)), ids(d)


def test_clean_servers_are_usable_and_broken_ones_are_not(reports: dict) -> None:  # type: ignore[type-arg]
    assert reports["starttls"].usable_as == "starttls"
    assert reports["implicit"].usable_as == "implicit_tls"
    for broken in ("plain", "expired", "wrong-name", "self-signed", "missing-intermediate", "auth-before-tls"):
        assert reports[broken].usable_as is None
        assert reports[broken].severity.rank >= Severity.ERROR.rank


def test_chain_as_sent_and_verification_per_source(reports: dict) -> None:  # type: ignore[type-arg]
    tls = reports["missing-intermediate"].facts.tls
    assert len(tls.chain) == 1  # only the leaf was sent
    by_source = {v.source: v for v in tls.verifications}
    assert by_source["ca-file"].error_code == 20 and by_source["ca-file"].error_depth == 0
    assert {"system", "certifi", "ca-file"} == set(by_source)
    good = reports["starttls"].facts.tls
    assert {v.source for v in good.verifications if v.ok} == {"ca-file"}
    assert len(next(v for v in good.verifications if v.ok).chain) == 2  # leaf + lab root


def test_without_ca_file_the_private_ca_is_untrusted(lab: LabInfo) -> None:
    srv = lab.servers["starttls"]
    d = probe(srv.host, [srv.port], ProbeOptions(timeout=10)).ports[0]
    assert "cert.untrusted" in ids(d)


def test_greet_pause_is_waited_for_not_misread(reports: dict) -> None:  # type: ignore[type-arg]
    d = reports["slow-greeting"]
    assert d.facts.detect_seconds is not None and d.facts.detect_seconds >= 5.5


def test_wrong_mode_detection_does_not_wait_for_the_timeout(lab: LabInfo) -> None:
    # With a 60 s budget, both wrong-mode cases must be decided by evidence, not by a deadline.
    opts = ProbeOptions(timeout=60, greeting_timeout=60, tls_timeout=60)
    for name in ("starttls", "implicit"):
        srv = lab.servers[name]
        d = probe(srv.host, [srv.port], opts).ports[0]
        assert d.facts.detect_seconds is not None and d.facts.detect_seconds < 5, (name, d.facts.detect_seconds)


def test_host_recommendation_prefers_implicit_tls(lab: LabInfo) -> None:
    opts = ProbeOptions(ca_file=str(lab.ca_file), timeout=10)
    report = probe("127.0.0.1", [lab.servers["starttls"].port, lab.servers["implicit"].port], opts)
    assert report.recommendation.id == "rec.use_implicit_tls"
    assert report.recommendation.params["port"] == lab.servers["implicit"].port


def test_transcript_has_both_directions(reports: dict) -> None:  # type: ignore[type-arg]
    lines = reports["starttls"].facts.transcript
    sent = [line.text for line in lines if line.direction.value == "C"]
    assert sent[0].startswith("EHLO ") and "STARTTLS" in sent and sent[-1] == "QUIT"
    assert any(line.text.startswith("220 ") for line in lines if line.direction.value == "S")


def test_ca_directory_counts_only_hashed_entries_like_openssl(lab: LabInfo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess

    srv = lab.servers["starttls"]
    shutil.copy(lab.ca_file, tmp_path / "lab-ca.pem")
    unhashed = probe(srv.host, [srv.port], ProbeOptions(ca_file=str(tmp_path), timeout=10)).ports[0]
    # a plain *.pem in a directory is invisible to OpenSSL: the directory holds no usable anchor
    assert {"cert.ca_file_empty", "cert.untrusted"} <= ids(unhashed)
    subprocess.run(["openssl", "rehash", str(tmp_path)], check=True, timeout=30)
    hashed = probe(srv.host, [srv.port], ProbeOptions(ca_file=str(tmp_path), timeout=10)).ports[0]
    assert "cert.trusted" in ids(hashed)


def test_runtime_trust_stores_join_the_verdict(lab: LabInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    """With SSL_CERT_FILE set to the lab CA, OpenSSL-based Python trusts the server and Node
    (its own bundled store) does not: the probe must say exactly that."""
    monkeypatch.setenv("SSL_CERT_FILE", str(lab.ca_file))
    srv = lab.servers["starttls"]
    d = probe(srv.host, [srv.port], ProbeOptions(timeout=15, runtimes=("python", "node"))).ports[0]
    ok = {v.source for v in d.facts.tls.verifications if v.ok}
    assert {"system", "python"} <= ok and "node" not in ok
    finding = next(f for f in d.findings if f.id == "cert.runtime_untrusted")
    assert finding.params["names"] == "node"


def test_a_silent_server_is_silent_whatever_timeout_is_given(lab: LabInfo) -> None:
    """The greeting wait ends before the whole probe does (at most 0.8 of it): with --timeout 6 a server that
    accepts and says nothing is "silent", never "no verdict" because both deadlines fell together."""
    import asyncio

    from smtp_doctor.facts import Mode
    from smtp_doctor.probe import ProbeOptions, probe_host

    opts = ProbeOptions(timeout=6, greeting_timeout=20)
    assert opts.greeting_timeout == pytest.approx(4.8)
    port = asyncio.run(probe_host("127.0.0.1", [lab.hostile["silent"].port], opts)).ports[0]
    assert port.mode is Mode.SILENT
