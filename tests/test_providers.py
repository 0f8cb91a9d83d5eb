"""Provider knowledge: every entry well-formed and sourced, recognised from real host names, and used in
reports (expected vs observed on a live probe of a lab server standing in for a provider's port)."""

from __future__ import annotations

import re

import pytest

from smtp_doctor import Credentials, ProbeOptions, probe
from smtp_doctor.diagnose.provider import provider_findings
from smtp_doctor.facts import HostFacts
from smtp_doctor.lab import LabInfo
from smtp_doctor.providers import (
    CONFIDENCE,
    MODES,
    USERNAME_KINDS,
    clouds_blocking,
    identify,
    load,
    reply_meaning,
    username_mismatch,
)

PROVIDERS, CLOUDS = load()


@pytest.mark.parametrize("p", PROVIDERS, ids=lambda p: p.id)
def test_provider_entry_is_well_formed(p) -> None:  # type: ignore[no-untyped-def]
    assert re.fullmatch(r"[a-z0-9-]+", p.id) and p.name and p.hosts
    assert p.ports and all(isinstance(port, int) and 0 < port < 65536 for port in p.ports)
    assert set(p.ports.values()) <= set(MODES)
    assert p.username in USERNAME_KINDS and p.confidence in CONFIDENCE
    assert p.source.startswith("https://")
    assert set(p.note) == {"en", "ja"} and all(p.note.values())
    for reply in p.replies:
        assert set(reply.meaning) == {"en", "ja"}
    if p.username == "literal":
        assert p.username_literal and p.username_hint
    if p.username == "pattern":
        assert p.username_pattern is not None and p.username_hint


def test_ids_are_unique_and_clouds_sourced() -> None:
    assert len({p.id for p in PROVIDERS}) == len(PROVIDERS)
    for c in CLOUDS:
        assert c.source.startswith("https://") and c.blocked and set(c.note) == {"en", "ja"}


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("smtp.gmail.com", 587, "gmail"), ("SMTP.GMAIL.COM.", 465, "gmail"),
    ("smtp-relay.gmail.com", 25, "google-relay"), ("smtp.office365.com", 587, "microsoft365"),
    ("contoso-com.mail.protection.outlook.com", 25, "microsoft365-direct"),
    ("email-smtp.eu-west-1.amazonaws.com", 587, "ses"), ("email-smtp-fips.us-east-1.amazonaws.com", 465, "ses"),
    ("smtp.sendgrid.net", 587, "sendgrid"), ("smtp.mailgun.org", 587, "mailgun"),
    ("smtp.eu.mailgun.org", 587, "mailgun-eu"), ("smtp.postmarkapp.com", 587, "postmark"),
    ("smtp.zoho.eu", 465, "zoho"), ("smtppro.zoho.com", 465, "zoho"), ("smtp.resend.com", 465, "resend"),
    ("sandbox.smtp.mailtrap.io", 2525, "mailtrap-sandbox"), ("127.0.0.1", 1025, "proton-bridge"),
    ("smtp.mail.me.com", 587, "icloud"), ("ssl0.ovh.net", 465, "ovh"),
    ("127.0.0.1", 587, None), ("mail.example.com", 587, None), ("gmail.com", 587, None),
])
def test_identify(host: str, port: int, expected: str | None) -> None:
    provider = identify(host, port)
    assert (provider.id if provider else None) == expected


def test_provider_specific_reply_meanings() -> None:
    gmail, m365 = identify("smtp.gmail.com"), identify("smtp.office365.com")
    assert gmail and m365
    assert "app password" in (reply_meaning(gmail, "534-5.7.9 Application-specific password required") or {})["en"]
    m = reply_meaning(m365, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
                            "the Tenant.")
    assert m and "disabled" in m["en"] and m["ja"]
    assert reply_meaning(gmail, "250 OK") is None


def test_username_conventions() -> None:
    sendgrid, ses = identify("smtp.sendgrid.net"), identify("email-smtp.us-east-1.amazonaws.com")
    assert sendgrid and ses
    assert username_mismatch(sendgrid, "me@example.com") and not username_mismatch(sendgrid, "apikey")
    assert username_mismatch(ses, "my-iam-user") and not username_mismatch(ses, "AKIAIOSFODNN7EXAMPLE")


def test_clouds_blocking_port_25() -> None:
    assert {"aws", "gcp", "azure", "digitalocean"} <= {c.id for c in clouds_blocking(25)}
    assert "gcp" not in {c.id for c in clouds_blocking(587)}


def test_expected_vs_observed_on_a_live_probe(lab: LabInfo) -> None:
    """A lab port standing in for Mailtrap's sandbox on 465: the provider documents STARTTLS there, the lab's
    implicit-TLS server speaks implicit TLS — the report must say the two disagree."""
    report = probe(lab.servers["implicit"].host, [lab.servers["implicit"].port], ProbeOptions(ca_file=str(lab.ca_file)))
    facts = HostFacts("sandbox.smtp.mailtrap.io", report.facts.addresses, report.facts.ports, username="lab-user")
    port = report.ports[0]
    port.facts.port = 465
    host_level = provider_findings(facts, [port])
    assert [f.id for f in host_level] == ["provider.identified"]
    mismatch = next(f for f in port.findings if f.id == "provider.mode_mismatch")
    assert "STARTTLS" in mismatch.verdict("en") and "暗黙的 TLS" in mismatch.verdict("ja")


def test_username_warning_through_the_probe(lab: LabInfo) -> None:
    srv = lab.servers["starttls"]
    report = probe(srv.host, [srv.port], ProbeOptions(ca_file=str(lab.ca_file)), Credentials("someone", "pw"))
    facts = HostFacts("smtp.sendgrid.net", report.facts.addresses, report.facts.ports, username="someone")
    found = provider_findings(facts, report.ports)
    warning = next(f for f in found if f.id == "provider.username")
    assert "apikey" in (warning.explanation("en") or "")


def test_a_timeout_on_25_names_the_clouds_that_block_it() -> None:
    from smtp_doctor.diagnose.port import diagnose_port
    from smtp_doctor.facts import Outcome, PortFacts

    d = diagnose_port(PortFacts("mx.example.org", 25, outcome=Outcome.TIMEOUT, outcome_detail="no answer"))
    provider_findings(HostFacts("mx.example.org", ports=[d.facts]), [d])
    cloud = next(f for f in d.findings if f.id == "conn.cloud_block")
    assert "Google Cloud" in cloud.params["clouds"] and cloud.fix("ja")


def test_generated_provider_doc_is_current() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(root / "scripts" / "gen_provider_docs.py"), "--check"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
