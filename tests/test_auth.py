"""AUTH mechanisms against the lab, the safety policy, and test delivery — all over real sockets."""

from __future__ import annotations

import pytest

from smtp_doctor import AuthPolicy, Credentials, ProbeOptions, probe
from smtp_doctor.facts import AuthOutcome
from smtp_doctor.lab import LabInfo


def attempts(lab: LabInfo, name: str, creds: Credentials, policy: AuthPolicy | None = None,
             ca: bool = True) -> dict[str, AuthOutcome]:
    srv = lab.servers[name]
    opts = ProbeOptions(ca_file=str(lab.ca_file) if ca else None, timeout=10)
    port = probe(srv.host, [srv.port], opts, creds, policy).ports[0]
    return {a.mechanism: a.outcome for a in port.facts.auth_attempts}


@pytest.mark.parametrize(("name", "mechanism"), [
    ("auth-plain-only", "PLAIN"), ("auth-login-only", "LOGIN"), ("auth-cram-md5", "CRAM-MD5"),
])
def test_each_password_mechanism_works_with_the_right_password(lab: LabInfo, name: str, mechanism: str) -> None:
    assert attempts(lab, name, Credentials(lab.user, lab.password)) == {mechanism: AuthOutcome.OK}


@pytest.mark.parametrize("name", ["auth-plain-only", "auth-login-only", "auth-cram-md5"])
def test_each_password_mechanism_fails_with_a_wrong_password(lab: LabInfo, name: str) -> None:
    result = attempts(lab, name, Credentials(lab.user, "not-the-password"))
    assert list(result.values()) == [AuthOutcome.REJECTED]


def test_xoauth2_with_token_and_without(lab: LabInfo) -> None:
    assert attempts(lab, "auth-xoauth2", Credentials(lab.user, None, lab.oauth_token)) == {"XOAUTH2": AuthOutcome.OK}
    assert attempts(lab, "auth-xoauth2", Credentials(lab.user, None, "wrong-token")) == {
        "XOAUTH2": AuthOutcome.REJECTED}
    assert attempts(lab, "auth-xoauth2", Credentials(lab.user, "pw")) == {"XOAUTH2": AuthOutcome.NO_CREDENTIAL}


def test_every_offered_mechanism_is_tried_and_the_simplest_recommended(lab: LabInfo) -> None:
    srv = lab.servers["starttls"]
    port = probe(srv.host, [srv.port], ProbeOptions(ca_file=str(lab.ca_file)),
                 Credentials(lab.user, lab.password)).ports[0]
    assert {a.mechanism: a.outcome for a in port.facts.auth_attempts} == {
        "LOGIN": AuthOutcome.OK, "PLAIN": AuthOutcome.OK}
    rec = next(f for f in port.findings if f.id == "auth.recommend")
    assert rec.params["rails"] == ":plain"


def test_no_credentials_over_plaintext_unless_asked(lab: LabInfo) -> None:
    creds = Credentials(lab.user, lab.password)
    assert set(attempts(lab, "plain", creds).values()) == {AuthOutcome.NOT_ATTEMPTED}
    allowed = attempts(lab, "plain", creds, AuthPolicy(allow_cleartext=True))
    assert set(allowed.values()) == {AuthOutcome.OK}


def test_no_credentials_to_an_unverified_certificate_unless_asked(lab: LabInfo) -> None:
    creds = Credentials(lab.user, lab.password)
    for name in ("expired", "wrong-name", "self-signed"):
        assert set(attempts(lab, name, creds).values()) == {AuthOutcome.NOT_ATTEMPTED}, name
    # Without the lab CA even the good server is unverified: nothing is sent.
    assert set(attempts(lab, "starttls", creds, ca=False).values()) == {AuthOutcome.NOT_ATTEMPTED}
    allowed = attempts(lab, "expired", creds, AuthPolicy(allow_unverified=True))
    assert set(allowed.values()) == {AuthOutcome.OK}


def test_not_attempted_says_why(lab: LabInfo) -> None:
    srv = lab.servers["self-signed"]
    port = probe(srv.host, [srv.port], ProbeOptions(), Credentials(lab.user, lab.password)).ports[0]
    finding = next(f for f in port.findings if f.id == "auth.not_attempted")
    assert "a man in the middle would get your password" in (finding.explanation("en") or "")
    assert "中間者" in (finding.explanation("ja") or "")
