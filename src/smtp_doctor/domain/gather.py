"""The domain check's I/O: DNS through the chosen resolver, the policy fetch, the MX probes.

Everything independent runs concurrently: every MX address is probed (with smtp_doctor.probe) at
the same time as the TLSA, MTA-STS and TLS-RPT lookups and the policy fetch.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ..errors import ExitCode, UserError
from ..facts import PortFacts
from ..probe import ProbeOptions
from ..probe.engine import probe_port
from .dns import Client
from .model import DnsAnswer, DomainFacts, DomainOptions, MXHost
from .mtasts import fetch_policy


def normalise(domain: str) -> str:
    d = domain.strip().rstrip(".").lower()
    labels = d.split(".")
    if not d or len(d) > 253 or any(not lb or len(lb) > 63 for lb in labels) or any(
            c.isspace() or c in "/@:[]" for c in d):
        raise UserError("domain.error.bad_domain", ExitCode.USAGE, domain=domain)
    try:
        d.encode("idna")
    except UnicodeError:
        raise UserError("domain.error.bad_domain", ExitCode.USAGE, domain=domain) from None
    return d


def _mx_records(answer: DnsAnswer) -> list[tuple[int, str]]:
    out = []
    for rec in answer.records:
        pref, _, host = rec.partition(" ")
        if pref.isdigit():
            out.append((int(pref), host.rstrip(".").lower()))
    return sorted(out)


async def _probe(host: str, address: str, opts: DomainOptions) -> PortFacts:
    popts = ProbeOptions(timeout=opts.timeout * 3, connect_timeout=min(5.0, opts.timeout),
                         greeting_timeout=opts.timeout, command_timeout=opts.timeout, tls_timeout=opts.timeout,
                         ca_file=opts.ca_file, servername=host)
    return await probe_port(host, (address,), opts.port, popts)


async def _host(client: Client, mx: MXHost, opts: DomainOptions) -> None:
    a, aaaa, tlsa = await asyncio.gather(client.lookup(mx.host, "A"), client.lookup(mx.host, "AAAA"),
                                         client.lookup(f"_25._tcp.{mx.host}", "TLSA"))
    mx.lookups, mx.tlsa = [a, aaaa], tlsa
    mx.addresses = a.records + aaaa.records
    mx.probes = list(await asyncio.gather(*(_probe(mx.host, addr, opts) for addr in mx.addresses)))


async def _policy(client: Client, facts: DomainFacts, opts: DomainOptions) -> None:
    facts.policy_host = await client.lookup(f"mta-sts.{facts.domain}", "A")
    if facts.policy_host.records:
        facts.policy = await fetch_policy(facts.domain, facts.policy_host.records[0], opts.policy_port,
                                          opts.ca_file, opts.timeout)


def read_memory(path: str | None, domain: str) -> dict[str, str] | None:
    if not path or not Path(path).exists():
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError("domain.error.bad_remember", ExitCode.USAGE, path=path) from None
    entry = data.get(domain) if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in entry.items()} if isinstance(entry, dict) else None


def write_memory(path: str, domain: str, entry: dict[str, str]) -> None:
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}
        data = data if isinstance(data, dict) else {}
        data[domain] = entry
        file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except (OSError, ValueError):
        raise UserError("domain.error.bad_remember", ExitCode.USAGE, path=path) from None


async def gather(domain: str, opts: DomainOptions) -> DomainFacts:
    client = Client(opts.resolver, opts.timeout)
    facts = DomainFacts(domain, client.label, remembered=read_memory(opts.remember, domain))
    facts.validating, mx_answer = await asyncio.gather(client.validates(), client.lookup(domain, "MX"))
    facts.mx_answer = mx_answer
    if mx_answer.rcode in ("TIMEOUT", "ERROR") and facts.validating is None:
        raise UserError("domain.error.resolver_silent", ExitCode.UNREACHABLE, resolver=client.label)
    if mx_answer.rcode == "NXDOMAIN":
        raise UserError("domain.error.nxdomain", ExitCode.UNREACHABLE, domain=domain)
    if mx_answer.state == "error":  # SERVFAIL that is not a validation failure, or no answer: not "no MX"
        raise UserError("domain.error.mx_failed", ExitCode.UNREACHABLE, domain=domain, rcode=mx_answer.rcode)
    records = _mx_records(mx_answer)
    if records == [(0, "")] or records == [(0, ".")]:
        facts.null_mx = True  # RFC 7505: this domain accepts no mail
        records = []
    elif not records:
        facts.implicit_mx = True  # RFC 5321 §5.1: the domain itself is the MX, preference 0
        records = [(0, domain)]
    facts.mx = [MXHost(host, pref) for pref, host in records[:10]]

    async def sts_txt() -> None:
        facts.sts_txt = await client.lookup(f"_mta-sts.{domain}", "TXT")

    async def tlsrpt_txt() -> None:
        facts.tlsrpt_txt = await client.lookup(f"_smtp._tls.{domain}", "TXT")

    await asyncio.gather(*(_host(client, mx, opts) for mx in facts.mx), sts_txt(), tlsrpt_txt(),
                         _policy(client, facts, opts))
    return facts
