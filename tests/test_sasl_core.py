"""SASL mechanisms against their RFC test vectors (pure, no I/O)."""

from __future__ import annotations

import base64

import pytest

from smtp_doctor.smtp import sasl


def test_cram_md5_rfc2195_example() -> None:
    challenge = base64.b64encode(b"<1896.697170952@postoffice.reston.mci.net>").decode()
    mech = sasl.client("CRAM-MD5", "tim", password="tanstaaftanstaaf")
    assert mech.initial_response() is None
    assert mech.respond(challenge) == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"


def test_plain_rfc4616_layout() -> None:
    mech = sasl.client("PLAIN", "tim", password="tanstaaftanstaaf")
    assert base64.b64decode(mech.initial_response() or "") == b"\0tim\0tanstaaftanstaaf"


def test_login_answers_the_prompts_it_is_given() -> None:
    mech = sasl.client("LOGIN", "alice", password="pw")
    assert mech.respond("VXNlcm5hbWU6") == base64.b64encode(b"alice").decode()  # "Username:"
    assert mech.respond("UGFzc3dvcmQ6") == base64.b64encode(b"pw").decode()  # "Password:"


def test_xoauth2_and_oauthbearer_blobs() -> None:
    x = sasl.client("XOAUTH2", "a@example.com", token="tok")
    assert base64.b64decode(x.initial_response() or "") == b"user=a@example.com\x01auth=Bearer tok\x01\x01"
    assert x.respond("eyJzdGF0dXMiOiI0MDEifQ==") == ""
    o = sasl.client("OAUTHBEARER", "a@example.com", token="tok")
    assert base64.b64decode(o.initial_response() or "") == b"n,a=a@example.com,\x01auth=Bearer tok\x01\x01"


@pytest.mark.parametrize(("name", "kwargs"), [
    ("PLAIN", {}), ("XOAUTH2", {"password": "x"}), ("GSSAPI", {"password": "x"}),
])
def test_missing_credential_or_unknown_mechanism(name: str, kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        sasl.client(name, "u", **kwargs)
    assert sasl.supported("login") and not sasl.supported("GSSAPI") and sasl.needs_token("XOAUTH2")
