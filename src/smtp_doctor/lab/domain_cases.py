"""The domain lab's cases: the clean domain, and one domain per thing an operator gets wrong.

Every case is the clean domain with one change, so each one shows exactly the cause codes in its
``expect`` and no other (tests/test_domain_lab.py holds the lab to that). Domains live under
``.test`` (RFC 6761), in ``<case>.test``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLEAN_POLICY = "version: STSv1\nmode: enforce\nmx: *.{domain}\nmax_age: 86400\n"
#: TLSA shorthand: "<usage> <selector> <mtype> <what>", what = leaf | next (a key not yet in use, for
#: rollover) | ta (the intermediate CA that issued the leaf) | other (a key the server never shows)
CLEAN_TLSA = ("3 1 1 leaf", "3 1 1 next")


@dataclass(frozen=True)
class MXSpec:
    label: str  #: "mx1" → mx1.<domain>
    preference: int = 10
    cert: str = "good"  #: good | wrong-name | ta (issued by an intermediate, sent with it)
    tlsa: tuple[str, ...] = CLEAN_TLSA
    down: bool = False  #: the address has no server
    plaintext: bool = False  #: served by the lab's SMTP server without STARTTLS
    no_address: bool = False  #: no A record at all
    ipv6: bool = False  #: also an AAAA record (::1, same port) when the machine has IPv6 loopback


@dataclass(frozen=True)
class PolicySpec:
    body: str = CLEAN_POLICY
    status: int = 200
    content_type: str = "text/plain"
    #: a redirect target (the lab records whether it is ever fetched); {port} is the lab's HTTPS port
    location: str | None = None
    pad: int = 0  #: bytes of comment lines appended (oversize)
    cert: str = "good"
    down: bool = False
    drip: bool = False  #: sends the body one byte every 0.4 s (a host that never finishes)


@dataclass(frozen=True)
class DomainCase:
    name: str
    expect: frozenset[str]
    mx: tuple[MXSpec, ...] = (MXSpec("mx1"), MXSpec("mx2", 20))
    sts_txt: tuple[str, ...] = ("v=STSv1; id=20261124T120000;",)
    policy: PolicySpec | None = field(default_factory=PolicySpec)
    tlsrpt: tuple[str, ...] = ("v=TLSRPTv1; rua=mailto:tlsrpt@{domain}",)
    dnssec: str = "secure"  #: secure | insecure | bogus (mx1's TLSA signature) | expired
    implicit_mx: bool = False
    null_mx: bool = False
    what: str = ""  #: one line for `smtp-doctor lab`

    @property
    def domain(self) -> str:
        return f"{self.name}.test"


def _c(name: str, expect: set[str], what: str, **kw: object) -> DomainCase:
    return DomainCase(name, frozenset(expect), what=what, **kw)  # type: ignore[arg-type]


#: an IP literal, so any client that follows the redirect reaches the lab (and is recorded) without DNS
REDIRECT_TARGET = "https://127.0.0.1:{port}/.well-known/mta-sts.txt?redirected=1"
NO_TLSA = (MXSpec("mx1", tlsa=()), MXSpec("mx2", 20, tlsa=()))

CASES: tuple[DomainCase, ...] = (
    _c("clean", set(), "MTA-STS enforce, DANE 3 1 1 with the next key, TLS-RPT, DNSSEC: nothing wrong"),
    _c("bare", {"sts_not_deployed", "dane_not_deployed"}, "signed, MX with STARTTLS, nothing else",
       sts_txt=(), policy=None, tlsrpt=(), mx=NO_TLSA),
    _c("implicit-mx", {"mx_implicit"}, "no MX record: mail goes to the domain's own address",
       implicit_mx=True, mx=(MXSpec(""),), policy=PolicySpec(body=CLEAN_POLICY.replace("*.{domain}", "{domain}"))),
    _c("mx-down", {"mx_unreachable"}, "the second MX does not answer",
       mx=(MXSpec("mx1"), MXSpec("mx2", 20, down=True))),
    _c("mx-ipv6", set(), "mx1 has an AAAA record too: both of its addresses are probed",
       mx=(MXSpec("mx1", ipv6=True), MXSpec("mx2", 20))),
    _c("mx-no-address", {"mx_no_address"}, "the second MX name has no A/AAAA record",
       mx=(MXSpec("mx1"), MXSpec("mx2", 20, tlsa=(), no_address=True))),
    _c("mx-no-starttls", {"mx_no_starttls", "dane_no_starttls"},
       "enforce and TLSA, and the second MX offers no STARTTLS", mx=(MXSpec("mx1"), MXSpec("mx2", 20, plaintext=True))),
    _c("null-mx", {"mx_null", "sts_not_deployed", "dane_not_deployed"}, "MX 0 . (RFC 7505): no mail at all",
       null_mx=True, mx=(), sts_txt=(), policy=None, tlsrpt=()),
    _c("mx-cert-opportunistic", {"mx_cert_invalid", "sts_not_deployed"},
       "no MTA-STS, and mx2's certificate is for another name (DANE-EE still matches)",
       sts_txt=(), policy=None, mx=(MXSpec("mx1"), MXSpec("mx2", 20, cert="wrong-name"))),
    # MTA-STS (RFC 8461)
    _c("sts-no-txt", {"sts_txt_missing"}, "policy file published, _mta-sts TXT record missing", sts_txt=()),
    _c("sts-multi-txt", {"sts_txt_multiple"}, "two _mta-sts TXT records",
       sts_txt=("v=STSv1; id=20261124T120000;", "v=STSv1; id=20261001T000000;")),
    _c("sts-bad-txt", {"sts_txt_syntax"}, "_mta-sts TXT with an id that breaks the grammar",
       sts_txt=("v=STSv1; id=2026-11-24 12:00;",)),
    _c("sts-fetch-fail", {"sts_fetch_failed"}, "nothing answers at mta-sts.<domain>",
       policy=PolicySpec(down=True)),
    _c("sts-drip", {"sts_fetch_failed"}, "the policy host sends one byte every 0.4 s and never finishes",
       policy=PolicySpec(drip=True)),
    _c("sts-policy-cert", {"sts_policy_cert"}, "the policy host's certificate is for another name",
       policy=PolicySpec(cert="wrong-name")),
    _c("sts-redirect", {"sts_policy_redirect"}, "the policy URL answers 301 to another host",
       policy=PolicySpec(status=301, location=REDIRECT_TARGET)),
    _c("sts-status", {"sts_policy_status"}, "the policy URL answers 404", policy=PolicySpec(status=404)),
    _c("sts-content-type", {"sts_policy_content_type"}, "the policy is served as text/html",
       policy=PolicySpec(content_type="text/html")),
    _c("sts-oversize", {"sts_policy_too_large"}, "the policy is larger than 64 KiB", policy=PolicySpec(pad=70_000)),
    _c("sts-grammar", {"sts_policy_syntax"}, "the policy has no version line and a line without a colon",
       policy=PolicySpec(body="mode: enforce\nmx: *.{domain}\nmax_age: 86400\nthis line is not a key\n")),
    _c("sts-mode", {"sts_policy_mode"}, "mode: strict (not a mode)",
       policy=PolicySpec(body=CLEAN_POLICY.replace("enforce", "strict"))),
    _c("sts-max-age", {"sts_policy_max_age"}, "max_age above one year",
       policy=PolicySpec(body=CLEAN_POLICY.replace("86400", "99999999"))),
    _c("sts-mx-mismatch", {"sts_mx_mismatch"}, "enforce, and the policy's mx names another host",
       policy=PolicySpec(body=CLEAN_POLICY.replace("*.{domain}", "mail.elsewhere.test"))),
    _c("sts-mx-cert", {"sts_mx_cert_invalid"}, "enforce, and mx2's certificate is for another name",
       mx=(MXSpec("mx1"), MXSpec("mx2", 20, cert="wrong-name"))),
    _c("sts-testing", {"sts_testing", "sts_mx_mismatch"}, "testing, and the policy's mx names another host",
       policy=PolicySpec(body=CLEAN_POLICY.replace("enforce", "testing").replace("*.{domain}", "mx.other.test"))),
    _c("sts-mode-none", {"sts_mode_none"}, "mode: none (a policy being withdrawn)",
       policy=PolicySpec(body=CLEAN_POLICY.replace("enforce", "none"))),
    _c("sts-id-same", set(), "the lab changes its policy without changing the id (run twice with --remember)"),
    # DANE (RFC 7672) and DNSSEC
    _c("dane-mismatch", {"dane_tlsa_mismatch"}, "TLSA names a key the MX never shows",
       mx=(MXSpec("mx1", tlsa=("3 1 1 other",)), MXSpec("mx2", 20))),
    _c("dane-ta", set(), "DANE-TA 2 0 1 on the issuing intermediate, plus 3 1 1",
       mx=(MXSpec("mx1", cert="ta", tlsa=("2 0 1 ta", "3 1 1 leaf")), MXSpec("mx2", 20))),
    _c("dane-ta-spki", set(), "DANE-TA 2 1 2 (SPKI, SHA-512) and 3 0 1 (whole certificate)",
       mx=(MXSpec("mx1", cert="ta", tlsa=("2 1 2 ta", "3 0 1 leaf")), MXSpec("mx2", 20))),
    _c("dane-full", set(), "DANE-EE 3 0 0 (the whole certificate) and 3 1 2 for the next key",
       mx=(MXSpec("mx1", tlsa=("3 0 0 leaf", "3 1 2 next")), MXSpec("mx2", 20))),
    _c("dane-pkix-usage", {"dane_tlsa_unusable"}, "only PKIX-EE (usage 1), which SMTP DANE does not use",
       mx=(MXSpec("mx1", tlsa=("1 1 1 leaf",)), MXSpec("mx2", 20))),
    _c("dane-rollover", {"dane_rollover"}, "a single 3 1 1: no next key published",
       mx=(MXSpec("mx1", tlsa=("3 1 1 leaf",)), MXSpec("mx2", 20))),
    _c("dane-bogus", {"dnssec_bogus"}, "mx1's TLSA signature is corrupted", dnssec="bogus"),
    _c("dane-expired", {"dnssec_signature_expired"}, "the zone's signatures expired last month", dnssec="expired"),
    _c("dane-insecure", {"dane_insecure"}, "TLSA published in an unsigned zone", dnssec="insecure"),
    _c("unsigned", {"dnssec_insecure", "dane_not_deployed"}, "no DNSSEC, no TLSA", dnssec="insecure", mx=NO_TLSA),
    # TLS-RPT (RFC 8460)
    _c("tlsrpt-missing", {"tlsrpt_missing"}, "MTA-STS and DANE without TLS-RPT", tlsrpt=()),
    _c("tlsrpt-syntax", {"tlsrpt_syntax"}, "TLS-RPT record without a rua value", tlsrpt=("v=TLSRPTv1; rua",)),
    _c("tlsrpt-scheme", {"tlsrpt_rua_scheme"}, "TLS-RPT rua with an ftp: URI",
       tlsrpt=("v=TLSRPTv1; rua=ftp://reports.{domain}/tlsrpt",)),
)

#: Shown with the non-validating resolver: any case works, the clean one proves it is not "insecure"
RESOLVER_CASE_EXPECT = frozenset({"resolver_not_validating"})


def case(name: str) -> DomainCase:
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(name)
