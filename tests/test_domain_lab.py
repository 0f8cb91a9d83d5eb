"""`smtp-doctor domain` against the domain lab: real NSD, real validating Unbound, real HTTPS and SMTP.

Every lab case is the clean domain with one thing broken; each must produce exactly its cause codes,
in text and in JSON, and the clean domain none.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.domain import DomainOptions, check_domain_sync
from smtp_doctor.domain.diagnose import causes
from smtp_doctor.lab.dns import binaries_missing
from smtp_doctor.lab.domain import DomainLabInfo, run_domain_lab_in_thread
from smtp_doctor.lab.domain_cases import CASES, REDIRECT_TARGET
from smtp_doctor.lab.domain_cases import case as lab_case

pytestmark = pytest.mark.skipif(bool(binaries_missing()), reason="needs nsd and unbound "
                                "(scripts/install-system-deps.sh)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DomainLabInfo]:
    with run_domain_lab_in_thread(tmp_path_factory.mktemp("domain-lab")) as info:
        yield info


def run(lab: DomainLabInfo, *args: str, resolver: str | None = None) -> tuple[int, str]:
    # the drip-feeding policy host is cut off by the whole-fetch deadline (3 x --timeout), so keep it short there
    timeout = "1" if any("sts-drip" in a for a in args) else "5"
    argv = ["--lang", "en", "domain", *args, *lab.domain_args(), "--timeout", timeout]
    if resolver:
        argv += ["--resolver", resolver]
    result = CliRunner().invoke(cli, argv)
    return result.exit_code, result.output


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_produces_exactly_its_cause_codes_in_json_and_text(lab: DomainLabInfo, case: object) -> None:
    c = lab.cases[case.name]  # type: ignore[attr-defined]
    code, out = run(lab, c.domain, "--json")
    doc = json.loads(out)
    found = {f["id"] for f in doc["findings"]}
    assert found == set(c.expect), out
    order = ["ok", "info", "warning", "error", "critical"]
    worst = max((f["severity"] for f in doc["findings"]), key=order.index, default="ok")
    assert doc["severity"] == worst
    assert code == (1 if worst in ("error", "critical") else 0)
    for f in doc["findings"]:
        assert f["verdict"] and f["fix"] and f["explanation"], f  # every finding says what, why and what to do
    text_code, text = run(lab, c.domain)
    assert text_code == code
    for f in doc["findings"]:
        # the same verdicts, in words (up to the resolver's EDE text, which may differ once it is cached)
        assert f["verdict"].split(" (")[0] in text
    if not c.expect:
        assert "Nothing wrong found" in text


def test_every_cause_code_has_a_lab_case() -> None:
    produced = set().union(*(c.expect for c in CASES)) | {"resolver_not_validating", "sts_policy_changed_same_id",
                                                         "sts_id_changed_same_policy"}  # tested below
    assert produced == set(causes())


def test_a_non_validating_resolver_is_never_reported_as_insecure(lab: DomainLabInfo) -> None:
    """Through Unbound without a trust anchor: no AD anywhere. That is "cannot judge", not "insecure",
    and a bogus zone is not called anything either."""
    for name in ("clean", "dane-bogus", "unsigned"):
        code, out = run(lab, f"{name}.test", "--json", resolver=lab.non_validating_resolver)
        doc = json.loads(out)
        ids = {f["id"] for f in doc["findings"]}
        assert "resolver_not_validating" in ids
        assert not ids & {"dnssec_insecure", "dane_insecure", "dnssec_bogus", "dane_tlsa_mismatch"}, ids
        assert doc["resolver_validates"] is False and doc["dnssec"] == "unknown"
    # the same domains through the validating resolver are told apart
    states = {n: json.loads(run(lab, f"{n}.test", "--json")[1])["dnssec"] for n in ("clean", "unsigned")}
    assert states == {"clean": "secure", "unsigned": "insecure"}
    bogus = json.loads(run(lab, "dane-bogus.test", "--json")[1])
    assert any(f["id"] == "dnssec_bogus" and "EDE 6" in f["params"]["reason"] for f in bogus["findings"])


def test_the_policy_fetch_never_follows_a_redirect(lab: DomainLabInfo) -> None:
    target = REDIRECT_TARGET.format(port=lab.https_port)
    before = len(lab.requests)
    code, out = run(lab, "sts-redirect.test", "--json")
    seen = lab.requests[before:]
    assert ("mta-sts.sts-redirect.test", "/.well-known/mta-sts.txt") in seen
    assert not any("redirected=1" in path for _, path in seen)
    finding = next(f for f in json.loads(out)["findings"] if f["id"] == "sts_policy_redirect")
    assert finding["params"]["location"] == target
    # control: a client that follows redirects (as requests/checkdmarc do) is recorded at the target
    before = len(lab.requests)
    httpx.get(f"https://127.0.0.1:{lab.https_port}/.well-known/mta-sts.txt", verify=False, follow_redirects=True,
              headers={"Host": "mta-sts.sts-redirect.test"})
    assert any("redirected=1" in path for _, path in lab.requests[before:])


def test_a_policy_changed_without_a_new_id_is_caught_with_remember(lab: DomainLabInfo, tmp_path: Path) -> None:
    memory = tmp_path / "sts.json"
    code, out = run(lab, "sts-id-same.test", "--json", "--remember", str(memory))
    assert code == 0 and json.loads(out)["findings"] == []
    host = "mta-sts.sts-id-same.test"
    original = lab.policies[host]
    lab.policies[host] = original.replace(b"max_age: 86400", b"max_age: 604800")  # the operator edits the file
    try:
        code, out = run(lab, "sts-id-same.test", "--json", "--remember", str(memory))
        assert {f["id"] for f in json.loads(out)["findings"]} == {"sts_policy_changed_same_id"}
        assert code == 1
    finally:
        lab.policies[host] = original
    # the id as remembered from an earlier run differs, the policy is the one served: harmless, said so
    data = json.loads(memory.read_text())
    data["sts-id-same.test"]["id"] = "20250101T000000"
    data["sts-id-same.test"]["sha256"] = json.loads(run(lab, "sts-id-same.test", "--json")[1])["mta_sts"]["sha256"]
    memory.write_text(json.dumps(data))
    code, out = run(lab, "sts-id-same.test", "--json", "--remember", str(memory))
    assert {f["id"] for f in json.loads(out)["findings"]} == {"sts_id_changed_same_policy"} and code == 0


def test_japanese_output(lab: DomainLabInfo) -> None:
    result = CliRunner().invoke(cli, ["--lang", "ja", "domain", "sts-mx-cert.test", *lab.domain_args()])
    assert result.exit_code == 1
    assert "証明書" in result.output and "保留" in result.output


def test_an_mx_with_an_aaaa_record_is_probed_on_both_addresses(lab: DomainLabInfo) -> None:
    opts = DomainOptions(resolver=lab.resolver, port=lab.smtp_port, policy_port=lab.https_port,
                         ca_file=str(lab.ca_file), timeout=5)
    report = check_domain_sync("mx-ipv6.test", opts)
    mx1 = report.facts.mx[0]
    if "::1" not in mx1.addresses:
        pytest.skip("no IPv6 loopback on this machine")
    assert [p.address for p in mx1.probes] == ["127.0.0.2", "::1"]
    assert all(p.tls is not None and p.tls.hostname_ok for p in mx1.probes)


def test_every_mx_address_is_probed_concurrently(lab: DomainLabInfo) -> None:
    opts = DomainOptions(resolver=lab.resolver, port=lab.smtp_port, policy_port=lab.https_port,
                         ca_file=str(lab.ca_file), timeout=5)
    started = time.monotonic()
    report = check_domain_sync("mx-down.test", opts)
    probes = [(m.host, p.address) for m in report.facts.mx for p in m.probes]
    assert probes == [("mx1.mx-down.test", "127.0.0.2"), ("mx2.mx-down.test", "127.0.0.254")]
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(("args", "exit_code", "words"), [
    (["domain", "not a domain"], 2, "not a domain name"),
    (["domain", "clean.test", "--resolver", "resolver.example"], 2, "--resolver"),
    (["domain", "clean.test", "--ca-file", "/nonexistent/ca.pem"], 2, "no such file"),
])
def test_bad_input_is_one_line_and_a_documented_exit_code(args: list[str], exit_code: int, words: str) -> None:
    result = CliRunner().invoke(cli, ["--lang", "en", *args])
    assert result.exit_code == exit_code
    assert words in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_domain_that_does_not_exist_and_a_silent_resolver_exit_3(lab: DomainLabInfo) -> None:
    code, out = run(lab, "no-such-case.test")
    assert code == 3 and "does not exist" in out and len(out.strip().splitlines()) == 1
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["--lang", "en", "domain", "clean.test", "--resolver", "127.0.0.1:9",
                                      "--timeout", "1"])
    assert result.exit_code == 3 and "did not answer" in result.output
    assert time.monotonic() - started < 10


@pytest.mark.skipif(os.geteuid() != 0, reason="binding port 25 on 127.0.0.x needs root")
def test_the_real_smtp_port_when_the_lab_may_bind_it(tmp_path: Path) -> None:
    """As root the lab's MX servers take port 25, and `domain` needs no --port: the default is the real one."""
    try:
        ctx = run_domain_lab_in_thread(tmp_path, (lab_case("clean"), lab_case("sts-mx-cert")), mx_port=25)
        info = ctx.__enter__()
    except OSError as exc:
        pytest.skip(f"port 25 on the lab addresses is taken here: {exc}")
    try:
        base = ["--lang", "en", "domain", "--resolver", info.resolver, "--policy-port", str(info.https_port),
                "--ca-file", str(info.ca_file), "--json"]
        clean = CliRunner().invoke(cli, [*base, "clean.test"])
        assert clean.exit_code == 0 and json.loads(clean.output)["findings"] == []
        broken = CliRunner().invoke(cli, [*base, "sts-mx-cert.test"])
        assert {f["id"] for f in json.loads(broken.output)["findings"]} == {"sts_mx_cert_invalid"}
    finally:
        ctx.__exit__(None, None, None)


def test_a_failing_mx_lookup_is_not_mistaken_for_no_mx(lab: DomainLabInfo) -> None:
    """A lame delegation SERVFAILs without a validation error: that is an error (exit 3), not an implicit MX."""
    code, out = run(lab, "lame.test")
    assert code == 3 and "MX lookup for lame.test failed (SERVFAIL)" in out
    assert len(out.strip().splitlines()) == 1
