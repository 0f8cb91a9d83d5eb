"""The README's first command: the demo runs offline and tells the whole story."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_doctor.findings import Severity
from smtp_doctor.i18n import messages
from smtp_doctor.lab.demo_domain import run_domain_demo
from smtp_doctor.lab.dns import binaries_missing


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smtp_doctor", "demo"], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "LANG": "C.UTF-8"}, check=False)


def test_demo_probes_every_lab_server(demo: subprocess.CompletedProcess[str]) -> None:
    r = demo
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    summary = r.stdout.split("Summary", 1)[1]
    rows = {line.split()[0]: line for line in summary.splitlines() if line.strip() and not line.startswith(" server")}
    assert "implicit TLS (SMTPS)" in rows["implicit"] and "LOGIN PLAIN" in rows["implicit"]
    assert "critical" in rows["plain"] and "not sent (unsafe)" in rows["plain"]
    assert "error" in rows["expired"] and "CRAM-MD5" in rows["auth-cram-md5"]


def test_demo_ends_with_the_seed_config_fixed(demo: subprocess.CompletedProcess[str]) -> None:
    story = demo.stdout.split("ActionMailer trap", 1)[1]
    assert "1. It will fail: The client started TLS immediately" in story
    assert "-    tls: 587" in story and "+    enable_starttls: true," in story
    assert "it will deliver" in story


# --- the domain part (issue 14): the domain lab's clean domain and one broken one, in English and Japanese ---

needs_dns = pytest.mark.skipif(bool(binaries_missing()), reason="the domain lab needs nsd and unbound "
                               "(scripts/install-system-deps.sh): missing " + ", ".join(binaries_missing()))


@pytest.fixture(scope="module")
def demo_ja() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smtp_doctor", "--lang", "ja", "demo"], capture_output=True,
                          text=True, timeout=180, env={**os.environ, "LANG": "C.UTF-8"}, check=False)


def _fragments(lang: str, key: str) -> list[str]:
    """The fixed words of a catalogue message (the parts between its placeholders), to find it in output."""
    return [p.strip() for p in re.split(r"\{[^}]*\}", messages(lang)[key]) if len(p.strip()) > 3]


def _domain_part(out: str, lang: str) -> tuple[str, str]:
    """The demo's domain part split into the clean domain's report and the broken one's."""
    part = out.split(messages(lang)["demo.domain.title"], 1)[1]
    clean, broken = part.split("sts-mx-cert.test", 1)
    return clean, broken


@needs_dns
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_demo_shows_the_clean_domain_without_findings_and_the_broken_one_with_its_cause(
        lang: str, demo: subprocess.CompletedProcess[str], demo_ja: subprocess.CompletedProcess[str]) -> None:
    r = demo if lang == "en" else demo_ja
    assert r.returncode == 0, r.stderr  # a broken lab domain is the story, not the demo's failure
    assert "Traceback" not in r.stderr
    clean, broken = _domain_part(r.stdout, lang)
    # clean.test: the "nothing wrong" line, no findings heading, no MX certificate problem
    assert "clean.test" in clean
    assert all(f in clean for f in _fragments(lang, "domain.label.all_good"))
    assert messages(lang)["domain.label.findings"] not in clean
    # the broken one: its cause (sts_mx_cert_invalid) on mx2, with the sender's outcome under enforce
    verdict = next(line for line in broken.splitlines() if "mx2.sts-mx-cert.test" in line and "✖" in line)
    assert all(f in verdict for f in _fragments(lang, "finding.sts_mx_cert_invalid.verdict")), verdict
    assert all(f not in broken for f in _fragments(lang, "domain.label.all_good"))
    if lang == "ja":
        assert not re.search(r"サーバ(?!ー)", r.stdout)  # one word for "server"


@needs_dns
def test_the_domain_part_finds_exactly_the_expected_cause_codes(tmp_path: Path) -> None:
    """The library behind the demo: the clean domain has no finding above OK, the broken one exactly its code."""
    result = asyncio.run(run_domain_demo(tmp_path))
    assert result.skipped is None
    codes = {d: {f.id for f in rep.findings if f.severity.rank > Severity.OK.rank}
             for d, rep in result.reports.items()}
    assert codes == {"clean.test": set(), "sts-mx-cert.test": {"sts_mx_cert_invalid"}}
    assert 0 < result.seconds < 60  # bounded: the demo's domain part must not make the demo slow


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_without_nsd_or_unbound_the_domain_part_is_one_line_why(lang: str, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """The skip branch: which binaries are missing is a PATH fact, so it is set here, not a server faked."""
    from rich.console import Console

    from smtp_doctor import i18n
    from smtp_doctor.lab import demo_domain

    monkeypatch.setattr(demo_domain, "binaries_missing", lambda: ["nsd", "unbound"])
    i18n.set_language(lang)
    try:
        out = Console(record=True, width=200)
        result = asyncio.run(demo_domain.show_domain_demo(out, tmp_path))
    finally:
        i18n.set_language(None)
    text = out.export_text()
    assert result.skipped == "nsd, unbound" and not result.reports
    lines = [ln for ln in text.splitlines() if "nsd, unbound" in ln]
    assert len(lines) == 1 and "scripts/install-system-deps.sh" in lines[0]
    assert not (tmp_path / "zones").exists()  # no lab was started
