"""DANE verdicts cross-checked against a second implementation, NLnet Labs' ldns, on every lab case.

For each MX that publishes TLSA: ``drill -S`` chases the TLSA's signatures from the lab's root key by
itself, straight from the authoritative server (not through our resolver), and ``ldns-dane`` matches
the TLSA records against the very chain the MX served to our probe (as internet.nl runs it). Both
must reach smtp-doctor's verdict: validated, not validated, bogus or insecure.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from smtp_doctor.domain import DomainOptions, check_domain_sync
from smtp_doctor.lab.dns import binaries_missing
from smtp_doctor.lab.domain import DomainLabInfo, run_domain_lab_in_thread
from smtp_doctor.lab.domain_cases import CASES

pytestmark = pytest.mark.skipif(bool(binaries_missing()) or not (shutil.which("ldns-dane") and shutil.which("drill")),
                                reason="needs nsd, unbound and ldnsutils (scripts/install-system-deps.sh)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DomainLabInfo]:
    with run_domain_lab_in_thread(tmp_path_factory.mktemp("domain-lab-x")) as info:
        yield info


def ldns_dnssec(lab: DomainLabInfo, name: str) -> str:
    """drill's own chain of trust from the lab root key: secure, bogus or insecure."""
    port = lab.auth.rsplit(":", 1)[1]

    def chase(qtype: str, qname: str) -> str:
        done = subprocess.run(["drill", "-p", port, "-k", str(lab.anchor_file), "-S", "@127.0.0.1", qtype, qname],
                              capture_output=True, text=True, timeout=30)
        return done.stdout + done.stderr

    out = chase("TLSA", name)
    if "Chase successful" in out:
        return "secure"
    if "Bogus DNSSEC signature" in out or "signature has expired" in out:
        return "bogus"
    zone = name.split(".", 3)[3]  # _25._tcp.mx1.<zone>
    denial = chase("DS", zone)
    if "No DNSSEC public key" in out and "verifiably insecure" in denial and "Chase successful" in denial:
        return "insecure"
    return f"unclear: {out[-200:]}"


def ldns_match(tmp: Path, records: list[str], owner: str, chain: tuple[bytes, ...]) -> bool:
    tlsa = tmp / "tlsa.txt"
    tlsa.write_text("".join(f"{owner}. 60 IN TLSA {r}\n" for r in records))
    pem = tmp / "chain.pem"
    pem.write_text("".join(ssl.DER_cert_to_PEM_cert(der) for der in chain))
    # -n as internet.nl runs it: DANE-EE ignores names (RFC 7672 §3.1.1); with -t and without -n, ldns-dane 1.8.3
    # reported "hostname mismatch" even for certificates that name the MX
    done = subprocess.run(["ldns-dane", "-n", "-c", str(pem), "-t", str(tlsa), "verify"], capture_output=True,
                          text=True, timeout=30)
    out = done.stdout + done.stderr
    assert "dane-validated successfully" in out or "did not dane-validate" in out, out
    return "dane-validated successfully" in out


def test_dane_verdicts_agree_with_ldns_on_every_lab_case(lab: DomainLabInfo, tmp_path: Path) -> None:
    opts = DomainOptions(resolver=lab.resolver, port=lab.smtp_port, policy_port=lab.https_port,
                         ca_file=str(lab.ca_file), timeout=5)
    compared: Counter[str] = Counter()
    disagreements = []
    for case in CASES:
        # the drip-feeding policy host is cut at 3 x timeout; DANE does not depend on it
        report = check_domain_sync(case.domain, replace(opts, timeout=1) if case.name == "sts-drip" else opts)
        ids = {f.id for f in report.findings}
        for mx in report.facts.mx:
            served = [p.tls.chain for p in mx.probes if p.tls is not None]
            if mx.tlsa is None or not mx.tlsa.records or not served:
                continue
            owner = f"_25._tcp.{mx.host}"
            ours_state = {"secure": "secure", "bogus": "bogus", "insecure": "insecure"}.get(mx.tlsa.state, "?")
            if ours_state == "secure":
                failed = any(f.subject in (mx.host, owner) and f.id in ("dane_tlsa_mismatch", "dane_tlsa_unusable")
                             for f in report.findings)
                ours = "not-validated" if failed else "validated"
            else:
                ours = ours_state
            theirs = ldns_dnssec(lab, owner)
            if theirs == "secure":  # every address's chain must validate, as for us
                theirs = "validated" if all(ldns_match(tmp_path, list(mx.tlsa.records), owner, chain)
                                            for chain in served) else "not-validated"
            compared[ours] += 1
            if ours != theirs:
                disagreements.append((case.name, mx.host, ours, theirs, sorted(ids)))
    assert not disagreements, disagreements
    # every kind of verdict was reached on both sides, so agreement is not agreement on one answer
    assert set(compared) == {"validated", "not-validated", "bogus", "insecure"}, compared
    assert sum(compared.values()) >= 40, compared
