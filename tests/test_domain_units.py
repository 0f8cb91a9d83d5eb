"""The domain check's pure parts: MTA-STS and TLS-RPT grammars, mx patterns, TLSA matching, input checks."""

from __future__ import annotations

import hashlib

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from smtp_doctor import i18n
from smtp_doctor.domain import dane, mtasts, tlsrpt
from smtp_doctor.domain.dns import parse_resolver
from smtp_doctor.domain.gather import normalise
from smtp_doctor.errors import UserError
from smtp_doctor.lab.domain_cases import CASES


@pytest.mark.parametrize(("text", "ident", "error"), [
    ("v=STSv1; id=20261124T120000;", "20261124T120000", None),
    ("v=STSv1;id=abc", "abc", None),
    ("v=STSv1; id=abc; ext=1", "abc", None),
    ("v=STSv1; id=2026-11-24", None, "letters and digits"),
    ("v=STSv1; id=" + "a" * 33, None, "letters and digits"),
    ("v=STSv1;", None, "no id"),
    ("id=abc; v=STSv1", None, "first"),
    ("v=STSv1; id abc", None, "name=value"),
])
def test_sts_txt_grammar(text: str, ident: str | None, error: str | None) -> None:
    rec = mtasts.parse_txt(text)
    assert rec.id == ident
    assert (rec.error is None) if error is None else (error in (rec.error or ""))


def test_sts_records_discards_other_txt() -> None:
    assert mtasts.sts_records(("v=spf1 -all", "v=STSv1; id=1")) == ["v=STSv1; id=1"]


def test_policy_grammar() -> None:
    good = mtasts.parse_policy(b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
                               b"max_age: 604800\r\n")
    assert not good.errors and good.mode_ok and good.max_age_ok and good.mx == ["mail.example.com", "*.example.net"]
    assert "no 'version: STSv1' line" in mtasts.parse_policy(b"mode: none\nmax_age: 1\n").errors
    no_mx = mtasts.parse_policy(b"version: STSv1\nmode: testing\nmax_age: 1\n")
    assert any("without any mx" in e for e in no_mx.errors)
    assert any("not 'key: value'" in e for e in mtasts.parse_policy(b"version: STSv1\ngarbage\n").errors)
    assert any("twice" in e for e in mtasts.parse_policy(b"version: STSv1\nmode: none\nmode: testing\n").errors)
    assert not mtasts.parse_policy(b"version: STSv1\nmode: none\nmax_age: 31557601\n").max_age_ok
    assert mtasts.parse_policy(b"version: STSv1\nmode: none\nmax_age: 31557600\n").max_age_ok
    assert not mtasts.parse_policy(b"version: STSv1\nmode: strict\nmax_age: 1\n").mode_ok


@pytest.mark.parametrize(("host", "pattern", "ok"), [
    ("mx1.example.com", "mx1.example.com", True),
    ("MX1.Example.COM.", "mx1.example.com", True),
    ("mx1.example.com", "*.example.com", True),
    ("a.mx1.example.com", "*.example.com", False),  # one label only (RFC 8461 §4.1)
    ("example.com", "*.example.com", False),
    ("mx1.example.org", "*.example.com", False),
])
def test_mx_patterns(host: str, pattern: str, ok: bool) -> None:
    assert mtasts.mx_matches(host, pattern) is ok


def test_tlsrpt_grammar() -> None:
    good = tlsrpt.parse("v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/x")
    assert good.error is None and not good.bad_schemes and len(good.rua) == 2
    assert tlsrpt.parse("v=TLSRPTv1; rua").error
    assert tlsrpt.parse("v=TLSRPTv1;").error == "no rua field"
    assert tlsrpt.parse("rua=mailto:x@y; v=TLSRPTv1").error
    assert tlsrpt.parse("v=TLSRPTv1; rua=ftp://x/").bad_schemes == ["ftp://x/"]


def _chain() -> tuple[tuple[bytes, ...], x509.Certificate, x509.Certificate]:
    ca = trustme.CA()
    inter = ca.create_child_ca()
    leaf = inter.issue_cert("mx.example.com")
    certs = [x509.load_pem_x509_certificate(p.bytes()) for p in leaf.cert_chain_pems]
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs), certs[0], certs[1]


def _rec(usage: int, selector: int, mtype: int, cert: x509.Certificate) -> dane.Tlsa:
    return dane.Tlsa(usage, selector, mtype, dane.association(cert, selector, mtype))


def test_tlsa_matching_usages_selectors_and_types() -> None:
    chain, leaf, inter = _chain()
    spki = leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert _rec(3, 1, 1, leaf).data == hashlib.sha256(spki).digest()  # the value `openssl ... | sha256` gives
    for selector in (0, 1):
        for mtype in (0, 1, 2):
            m = dane.match([_rec(3, selector, mtype, leaf)], chain, name_ok=False)  # DANE-EE ignores names
            assert m is not None and m.depth == 0
            m = dane.match([_rec(2, selector, mtype, inter)], chain, name_ok=True)
            assert m is not None and m.depth == 1
    assert dane.match([_rec(2, 1, 1, inter)], chain, name_ok=False) is None  # DANE-TA needs the name
    assert dane.match([_rec(2, 1, 1, leaf)], chain, name_ok=True) is None  # a TA is not the leaf
    assert dane.match([_rec(1, 1, 1, leaf)], chain, name_ok=True) is None  # PKIX-EE is unusable for SMTP
    other_chain, other_leaf, _ = _chain()
    assert dane.match([_rec(3, 1, 1, other_leaf)], chain, name_ok=True) is None
    # a TA certificate sent but not the leaf's issuer: the chain does not verify up to it
    forged = (chain[0], other_chain[1])
    assert dane.match([dane.Tlsa(2, 1, 1, dane.association(x509.load_der_x509_certificate(other_chain[1]), 1, 1))],
                      forged, name_ok=True) is None


def test_tlsa_presentation_parsing() -> None:
    assert dane.parse_tlsa("3 1 1 ABCD") == dane.Tlsa(3, 1, 1, b"\xab\xcd")
    assert dane.parse_tlsa("3 1 1 zz") is None
    assert dane.parse_tlsa("3 1") is None


def test_resolver_and_domain_input() -> None:
    assert parse_resolver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_resolver("[::1]:53") == ("::1", 53)
    assert parse_resolver("9.9.9.9") == ("9.9.9.9", 53)
    for bad in ("dns.example", "1.2.3.4:0", "1.2.3.4:x"):
        with pytest.raises(UserError):
            parse_resolver(bad)
    assert normalise(" Example.COM. ") == "example.com"
    for bad in ("", "a..b", "has space.com", "x" * 64 + ".com", "user@example.com"):
        with pytest.raises(UserError):
            normalise(bad)


def test_every_lab_case_is_described_in_both_languages() -> None:
    for c in CASES:
        assert i18n.t(f"domain.case.{c.name}", lang="en") and i18n.t(f"domain.case.{c.name}", lang="ja")


def test_every_cause_code_speaks_both_languages_with_the_same_placeholders() -> None:
    from smtp_doctor.domain.diagnose import causes

    for code in causes():
        for part in ("verdict", "explanation", "fix"):
            key = f"finding.{code}.{part}"
            assert i18n.has(key), key
            entry = i18n.catalogue()[key]
            assert i18n.placeholders(entry["en"]) == i18n.placeholders(entry["ja"]), key
            assert "サーバ" not in entry["ja"].replace("サーバー", ""), key  # house style: サーバー


def test_server_text_is_printed_inert() -> None:
    """A policy host or a TXT record cannot drive the terminal: escapes are shown, never sent."""
    import io

    from rich.console import Console

    from smtp_doctor.domain.diagnose import diagnose
    from smtp_doctor.domain.model import DnsAnswer, DomainFacts, DomainReport, PolicyFetch
    from smtp_doctor.domain.render import render_text, to_json

    evil = "\x1b]0;pwned\x07\x1b[2J"
    facts = DomainFacts("example.test", "127.0.0.1:53", validating=True,
                        mx_answer=DnsAnswer("example.test", "MX", "NOERROR", (), "secure"),
                        sts_txt=DnsAnswer("_mta-sts.example.test", "TXT", "NOERROR", ('"v=STSv1; id=1;"',), "secure"),
                        policy=PolicyFetch("https://mta-sts.example.test/.well-known/mta-sts.txt", "127.0.0.1",
                                           status=200, content_type="text/plain",
                                           body=f"version: STSv1\nmode: {evil}\nmax_age: 1\n".encode()),
                        tlsrpt_txt=DnsAnswer("_smtp._tls.example.test", "TXT", "NOERROR",
                                             (f'"v=TLSRPTv1; rua=mailto:{evil}"',), "secure"))
    findings, sections = diagnose(facts)
    assert "sts_policy_mode" in {f.id for f in findings}
    buf = io.StringIO()
    render_text(Console(file=buf, width=200), DomainReport(facts, findings, sections))
    text = buf.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\\x1b" in text
    assert "\x1b" not in to_json(DomainReport(facts, findings, sections))
