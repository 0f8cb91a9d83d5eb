"""`trust` predicts what real clients do: Ruby net/smtp, Python smtplib and Node tls, against the lab.

Each case builds an environment (no CA bundle at all, the lab CA as SSL_CERT_FILE, the lab CA as
NODE_EXTRA_CA_CERTS, Node switched to OpenSSL's store), asks the runtimes through `discover` in that
environment, verifies the lab server's chain with `assess`, then runs the real client with the same
environment over real STARTTLS on 127.0.0.1 and compares: same outcome, same OpenSSL error text.
Then the CA file `trust` suggests is handed to the real client, which must then succeed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping

import pytest

from smtp_doctor.lab import LabInfo
from smtp_doctor.probe import ProbeOptions, probe_host
from smtp_doctor.trust.engine import RuntimeVerdict, assess
from smtp_doctor.trust.runtimes import discover, user_location

RUBY = r'''
require "net/smtp"
host, port, ca = ARGV
ctx = if ca.to_s.empty? then Net::SMTP.default_ssl_context
      else OpenSSL::SSL::SSLContext.new.tap { |c| c.set_params(ca_file: ca) } end
smtp = Net::SMTP.new(host, port.to_i)
smtp.open_timeout = 5
smtp.read_timeout = 5
smtp.enable_starttls(ctx)
begin
  smtp.start("client.test") { }
  puts "OK"
rescue OpenSSL::SSL::SSLError => e
  puts "FAIL #{e.message}"
  exit 1
end
'''

PYTHON = r'''
import smtplib, ssl, sys
host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None
try:
    with smtplib.SMTP(host, port, timeout=5) as s:
        s.starttls(context=ssl.create_default_context(cafile=ca))
    print("OK")
except ssl.SSLError as e:
    print("FAIL", e)
    sys.exit(1)
'''

# Node's tls module after a hand-made STARTTLS: what Nodemailer does, with tls.ca as Nodemailer passes it.
NODE = r'''
const net = require('net'), tls = require('tls'), fs = require('fs');
const [host, port, ca] = process.argv.slice(1);
const sock = net.connect(+port, host);
sock.setTimeout(5000, () => { console.log('FAIL timeout'); process.exit(2); });
sock.on('error', e => { console.log('FAIL ' + e.message); process.exit(2); });
let buf = '', stage = 0;
sock.on('data', d => {
  buf += d;
  if (!buf.endsWith('\r\n')) return;
  const lines = buf.split('\r\n').filter(Boolean);
  if (/^\d{3}-/.test(lines[lines.length - 1])) return;
  buf = '';
  if (stage === 0) { stage = 1; sock.write('EHLO client.test\r\n'); }
  else if (stage === 1) { stage = 2; sock.write('STARTTLS\r\n'); }
  else if (stage === 2) {
    stage = 3; sock.removeAllListeners('data'); sock.setTimeout(0);
    const opts = { socket: sock, host };
    if (ca) opts.ca = fs.readFileSync(ca);
    const t = tls.connect(opts, () => { console.log('OK'); t.destroy(); process.exit(0); });
    t.setTimeout(5000, () => { console.log('FAIL timeout'); process.exit(2); });
    t.on('error', e => { console.log('FAIL ' + e.code + ' ' + e.message); process.exit(1); });
  }
});
'''

CLIENTS = {"ruby": ("ruby", "-e", RUBY), "python": (sys.executable, "-c", PYTHON), "node": ("node", "-e", NODE)}
INTERPRETERS = {"python": sys.executable}  # the client and the prediction use the same interpreter
SERVERS = ("starttls", "self-signed", "missing-intermediate", "expired")


def _need(runtime: str) -> None:
    if runtime != "python" and shutil.which(CLIENTS[runtime][0]) is None:
        pytest.skip(f"{runtime} is not installed (scripts/install-system-deps.sh installs it)")


def run_client(runtime: str, port: int, env: Mapping[str, str], ca: str = "") -> tuple[bool, str]:
    exe, flag, script = CLIENTS[runtime]
    r = subprocess.run([exe, flag, script, "127.0.0.1", str(port), ca], env=dict(env), capture_output=True,
                       text=True, timeout=60)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode in (0, 1), f"{runtime} client did not get to TLS: {out}"
    return r.returncode == 0, out


@pytest.fixture(scope="module")
def chains(lab: LabInfo) -> dict[str, tuple[bytes, ...]]:
    async def fetch() -> dict[str, tuple[bytes, ...]]:
        out = {}
        for name in SERVERS:
            server = lab.servers[name]
            facts = (await probe_host(server.host, [server.port], ProbeOptions(timeout=20))).ports[0]
            assert facts.tls is not None, name
            out[name] = facts.tls.chain
        return out

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def no_bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment with no CA bundle: SSL_CERT_FILE an empty file, SSL_CERT_DIR an empty dir."""
    d = tmp_path_factory.mktemp("nobundle")
    (d / "empty.pem").write_text("")
    (d / "certs").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NODE_EXTRA_CA_CERTS", "NODE_OPTIONS")}
    return env | {"SSL_CERT_FILE": str(d / "empty.pem"), "SSL_CERT_DIR": str(d / "certs")}


def predict(runtime: str, chain: tuple[bytes, ...], env: Mapping[str, str], ca_file: str | None = None
            ) -> tuple[RuntimeVerdict, object]:
    stores = discover([runtime], env=env, interpreters=INTERPRETERS)
    assert stores[0].found and stores[0].error is None, stores[0]
    a = assess(chain, stores, user_location(ca_file) if ca_file else None)
    return a.verdicts[0], a


def _environments(no_bundle: dict[str, str], lab: LabInfo) -> dict[str, dict[str, str]]:
    ca = str(lab.ca_file)
    return {
        "no-bundle": no_bundle,
        "ssl-cert-file": no_bundle | {"SSL_CERT_FILE": ca},
        "node-extra": no_bundle | {"NODE_EXTRA_CA_CERTS": ca},
        "node-openssl-ca": no_bundle | {"SSL_CERT_FILE": ca, "NODE_OPTIONS": "--use-openssl-ca"},
    }


@pytest.mark.parametrize("runtime", ["ruby", "python", "node"])
@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("envname", ["no-bundle", "ssl-cert-file", "node-extra", "node-openssl-ca"])
def test_prediction_matches_the_real_client(runtime: str, server: str, envname: str, lab: LabInfo,
                                            chains: dict[str, tuple[bytes, ...]], no_bundle: dict[str, str]) -> None:
    _need(runtime)
    env = _environments(no_bundle, lab)[envname]
    verdict, _ = predict(runtime, chains[server], env)
    assert verdict.verification is not None
    ok, said = run_client(runtime, lab.servers[server].port, env)
    assert ok == verdict.verification.ok, (said, verdict.verification)
    if not ok:  # the very words the user will see in their log
        assert verdict.verification.error and verdict.verification.error in said, (said, verdict.verification)


def test_the_interesting_cases_are_really_covered(lab: LabInfo, chains: dict[str, tuple[bytes, ...]],
                                                  no_bundle: dict[str, str]) -> None:
    """Guard against a matrix that only ever compares failures: these outcomes must differ."""
    _need("node")
    envs = _environments(no_bundle, lab)
    good = chains["starttls"]
    assert predict("ruby", good, envs["ssl-cert-file"])[0].ok is True
    assert predict("python", good, envs["ssl-cert-file"])[0].ok is True
    assert predict("node", good, envs["ssl-cert-file"])[0].ok is False  # Node ignores SSL_CERT_FILE …
    assert predict("node", good, envs["node-openssl-ca"])[0].ok is True  # … unless told to use OpenSSL's store
    assert predict("node", good, envs["node-extra"])[0].ok is True
    assert predict("ruby", good, envs["node-extra"])[0].ok is False
    node_fail = predict("node", good, envs["no-bundle"])[0].verification
    ruby_fail = predict("ruby", good, envs["no-bundle"])[0].verification
    assert node_fail is not None and node_fail.error == "unable to verify the first certificate"
    assert ruby_fail is not None and ruby_fail.error == "unable to get local issuer certificate"


@pytest.mark.parametrize("runtime", ["ruby", "python", "node"])
def test_the_suggested_ca_file_makes_the_real_client_succeed(runtime: str, lab: LabInfo,
                                                             chains: dict[str, tuple[bytes, ...]],
                                                             no_bundle: dict[str, str]) -> None:
    _need(runtime)
    port = lab.servers["starttls"].port
    verdict, a = predict(runtime, chains["starttls"], no_bundle, str(lab.ca_file))
    assert verdict.ok is False and run_client(runtime, port, no_bundle)[0] is False
    assert verdict.missing is not None and verdict.missing.kind == "issuer"
    assert "smtp-doctor lab CA" in verdict.missing.dn and str(lab.ca_file) in verdict.missing.found_in
    remedy = a.remedy  # type: ignore[attr-defined]
    assert remedy.path == str(lab.ca_file)
    ok, said = run_client(runtime, port, no_bundle, remedy.path)  # ca_file: / cafile= / tls.ca
    assert ok, said


def test_missing_intermediate_is_named_and_not_blamed_on_the_client(lab: LabInfo,
                                                                    chains: dict[str, tuple[bytes, ...]],
                                                                    no_bundle: dict[str, str]) -> None:
    env = no_bundle | {"SSL_CERT_FILE": str(lab.ca_file)}
    verdict, a = predict("ruby", chains["missing-intermediate"], env, str(lab.ca_file))
    assert verdict.ok is False and verdict.missing is not None
    assert verdict.missing.kind == "issuer" and not verdict.missing.found_in
    assert verdict.missing.dn != verdict.missing.needed_by
    assert a.remedy.path is None and a.remedy.server_side in ("unknown_issuer", "intermediate")  # type: ignore


def test_expired_certificate_is_the_servers_fault(lab: LabInfo, chains: dict[str, tuple[bytes, ...]],
                                                  no_bundle: dict[str, str]) -> None:
    verdict, a = predict("python", chains["expired"], no_bundle, str(lab.ca_file))
    assert verdict.ok is False
    assert a.remedy.server_side == "certificate" and a.remedy.error == "certificate has expired"  # type: ignore
    assert verdict.missing is not None and verdict.missing.found_in == (str(lab.ca_file),)
    ok, said = run_client("python", lab.servers["expired"].port, no_bundle, str(lab.ca_file))
    assert not ok and "certificate has expired" in said
