"""The trust the app itself will use: its own CA file as it is on disk, and the environment that changes trust.

``check`` must predict the app, not smtp-doctor: a CA file the app names but OpenSSL cannot load fails the
app (Ruby: ``SSL_CTX_load_verify_file: system lib``) whatever ``--ca-file`` says, and ``SSL_CERT_FILE`` in the
app's environment (``--env`` or this process) changes what "the system store" means for OpenSSL-based
runtimes, ``NODE_EXTRA_CA_CERTS`` for Node. Which runtime reads which variable is data
(``[[trust_env]]`` in knowledge/predict.toml). This is the one place of the check flow that looks at local
files besides the probe: it runs after ``plan`` and before ``predict``.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..facts import PortFacts, Verification
from ..plan import ConnectionPlan, framework_facts, knowledge
from ..settings import RawConfig

#: every variable some runtime reads for trust; one set but not read by this app's runtime is reported
TRUST_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
              "NODE_TLS_REJECT_UNAUTHORIZED", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS",
              "PHP_INI_SCAN_DIR")
#: an ini line of PHP's setting openssl.cafile (php.net/manual/en/openssl.configuration.php)
_PHP_CAFILE = re.compile(r"""^\s*openssl\.cafile\s*=\s*["']?([^"';\r\n]*?)["']?\s*(?:;.*)?$""", re.MULTILINE)
#: X509_V_ERR_* codes meaning the store holds no anchor for the chain (UNABLE_TO_GET_ISSUER_CERT,
#: UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE): any other code means the chain was built
_NO_ANCHOR = frozenset({2, 20, 21})
#: the JVM's trust store options, one -D flag per token of JAVA_TOOL_OPTIONS / JDK_JAVA_OPTIONS / _JAVA_OPTIONS
_JAVA_FLAG = re.compile(r"-Djavax\.net\.ssl\.(trustStore|trustStorePassword|trustStoreType)=(.*)", re.DOTALL)
#: JKS's magic number: Java 9+ reads a JKS and a PKCS12 file under either type (keystore.type.compat=true)
_JKS_MAGIC = b"\xfe\xed\xfe\xed"


@dataclass(frozen=True)
class AppTrust:
    ca_state: str | None = None  #: readable | missing | unreadable | empty; None: no CA file of its own
    env: tuple[tuple[str, str], ...] = ()  #: (variable, path) the app's runtime reads
    ignored: tuple[str, ...] = ()  #: trust variables set that this runtime does not read
    verify_off: str | None = None  #: a variable that turns the runtime's certificate check off (Node: "0")
    #: the JVM's own trust store (-Djavax.net.ssl.trustStore): (path, its anchors in PEM, or None when the JVM
    #: cannot open it: missing, another type, a wrong password — every TLS connection of the app then fails)
    java_store: tuple[str, bytes | None] | None = None


def _rows(plan: ConnectionPlan, table: str = "trust_env") -> list[dict[str, object]]:
    runtime = plan.runtime or framework_facts(plan.framework).get("runtime")
    return [r for r in knowledge().get(table, [])
            if r.get("framework") == plan.framework or (runtime is not None and r.get("runtime") == runtime)]


def ca_state(path: str) -> str:
    """How OpenSSL will find the app's CA file: loadable, missing, unreadable, or without a certificate."""
    if not os.path.exists(path):
        return "missing"
    if os.path.isdir(path):
        return "readable"  # a hashed directory: looked up lazily, never a load error
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024 * 1024)
    except OSError:
        return "unreadable"
    return "readable" if b"-----BEGIN CERTIFICATE-----" in head or b"-----BEGIN TRUSTED CERTIFICATE" in head \
        else "empty"


def app_environ(raw: RawConfig) -> dict[str, str]:
    """The app's trust variables: this process's, overridden by the --env file read with the config."""
    return {**{k: os.environ[k] for k in TRUST_VARS if os.environ.get(k)}, **raw.app_env}


def app_trust(plan: ConnectionPlan, environ: Mapping[str, str], given: Mapping[str, str] | None = None) -> AppTrust:
    """What the app's trust really is here (its CA file's state, the trust variables its runtime reads).
    ``given`` = the variables the user named for the app (--env): only those are reported as ignored."""
    state = ca_state(plan.ca_file) if plan.ca_file and "ca-file" in plan.trust else None
    read = {str(v) for r in _rows(plan) for v in r.get("vars", [])}  # type: ignore[attr-defined]
    off = {str(r["var"]): [str(x) for x in r["off"]] for r in _rows(plan, "verify_env")}  # type: ignore[attr-defined]
    read |= off.keys()
    env = tuple((v, environ[v]) for v in TRUST_VARS if v in read and environ.get(v) and v not in off)
    env = tuple((v, c) for v, p in env if (c := php_ini_cafile(p) if v == "PHP_INI_SCAN_DIR" else p))
    named = environ if given is None else given
    ignored = tuple(v for v in TRUST_VARS if v not in read and named.get(v))
    verify_off = next((v for v, values in off.items() if environ.get(v, "").strip() in values), None)
    store = java_store(environ) if "JAVA_TOOL_OPTIONS" in read else None
    return AppTrust(state, env, ignored, verify_off, store)


def php_ini_cafile(scan_dirs: str) -> str | None:
    """openssl.cafile as the extra ini files of PHP_INI_SCAN_DIR set it: PHP reads each folder's *.ini in name
    order, the last value wins (an empty entry is the built-in folder, not looked at here). PHP verifies against
    that file instead of OpenSSL's default paths when no stream option names one (php-src ext/openssl/xp_ssl.c
    php_openssl_enable_peer_verification: cafile = zend_ini_string("openssl.cafile"))."""
    found = None
    for folder in (d for d in scan_dirs.split(":") if d):
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".ini"))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as fh:
                    text = fh.read(1024 * 1024)
            except OSError:
                continue
            found = next((m.group(1) for m in reversed(list(_PHP_CAFILE.finditer(text)))), found)
    return found or None


def java_store(environ: Mapping[str, str]) -> tuple[str, bytes | None] | None:
    """The trust store the JVM is told to use, read as JSSE reads it: PKCS12 (the default type since Java 9)
    with the given password, or ``changeit``'s absence (a PKCS12 store without a password opens too). None
    when no option names one: the JVM's cacerts then, which holds the same public CAs as the system store."""
    flags: dict[str, str] = {}
    for var in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):  # HotSpot's order: the last one wins
        for token in _java_tokens(environ.get(var, "")):
            flags |= dict(_JAVA_FLAG.findall(token))
    path = flags.get("trustStore")
    if not path:
        return None
    if flags.get("trustStoreType", "pkcs12").lower() not in ("pkcs12", "pkcs12s2", "jks", "") or \
            not os.path.isfile(path):
        return path, None
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    try:
        with open(path, "rb") as fh:
            data = fh.read(8 * 1024 * 1024)
        password = flags.get("trustStorePassword")
        if data.startswith(_JKS_MAGIC):
            return path, _jks_certificates(data, password)
        store = pkcs12.load_pkcs12(data, password.encode() if password else None)
    except (OSError, ValueError, TypeError):
        return path, None  # JSSE: "keystore password was incorrect" / not a key store
    certs = [c.certificate for c in store.additional_certs] + ([store.cert.certificate] if store.cert else [])
    return path, b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def _java_tokens(text: str) -> list[str]:
    """The options as the JVM splits them: on blanks, with '...' and "..." grouping and their quotes removed
    (JDK-8061999, since JDK 9); an unbalanced quote falls back to blanks alone."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _jks_certificates(data: bytes, password: str | None) -> bytes:
    """The trusted certificates of a JKS store (sun.security.provider.JavaKeyStore engineLoad: magic, version,
    count, then per entry a tag — 2 = trusted certificate: alias, date, type, length, DER). With a password the
    store's last 20 bytes must be SHA-1(password as UTF-16BE, "Mighty Aphrodite", the rest), else JSSE refuses
    it ("Keystore was tampered with, or password was incorrect"); without one it is read unchecked."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    if password and hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + data[:-20],
                                 usedforsecurity=False).digest() != data[-20:]:
        raise ValueError("keystore password was incorrect")

    pos, out = 12, []
    count = int.from_bytes(data[8:12], "big")

    def utf() -> str:
        nonlocal pos
        n = int.from_bytes(data[pos:pos + 2], "big")
        pos += 2 + n
        return data[pos - n:pos].decode("utf-8", "replace")

    for _ in range(min(count, 10_000)):
        tag = int.from_bytes(data[pos:pos + 4], "big")
        pos += 4
        if tag != 2:  # a private key entry: no trust anchor, and its layout ends what can be read simply
            break
        utf()
        pos += 8
        utf()
        n = int.from_bytes(data[pos:pos + 4], "big")
        pos += 4
        out.append(x509.load_der_x509_certificate(data[pos:pos + n]).public_bytes(Encoding.PEM))
        pos += n
    return b"".join(out)


def with_app_trust(plan: ConnectionPlan, trust: AppTrust) -> ConnectionPlan:
    """The plan with the app's real trust; a variable that turns the check off does so only where the config
    does not say itself whether to verify (an explicit option wins over the runtime's default)."""
    plan = replace(plan, ca_state=trust.ca_state, trust_env=tuple(v for v, _ in trust.env),
                   trust_ignored=trust.ignored)
    if trust.verify_off and plan.origins.get("verify_peer") is None:
        plan = replace(plan, verify_peer=False, verify_hostname=False, trust_env=(*plan.trust_env, trust.verify_off))
    return plan


def apply(facts: PortFacts, trust: AppTrust) -> PortFacts:
    """The "system" verification as the app's runtime does it: the default store plus the files its trust
    variables name (OpenSSL: SSL_CERT_FILE/SSL_CERT_DIR replace the default file/directory; Node:
    NODE_EXTRA_CA_CERTS adds to its store). A variable naming a missing file is ignored, as they do."""
    from ..x509.verify import TrustSource, system_source, verify_chain

    if facts.tls is not None and facts.tls.chain and trust.java_store is not None:
        return _with_java_store(facts, trust.java_store)
    if facts.tls is None or not facts.tls.chain or not trust.env:
        return facts
    extra = [(var, path) for var, path in trust.env if os.path.exists(path)]
    if not extra:
        return facts
    base = system_source()
    cafile = next((p for v, p in extra if v == "PHP_INI_SCAN_DIR"),  # openssl.cafile: before OpenSSL's defaults
                  next((p for v, p in extra if v == "SSL_CERT_FILE"), base.cafile))
    capath = next((p for v, p in extra if v == "SSL_CERT_DIR"), base.capath)
    results: list[Verification] = [verify_chain(facts.tls.chain, TrustSource("system", cafile, capath))]
    results += [verify_chain(facts.tls.chain, TrustSource("system", p, None))
                for v, p in extra if v == "NODE_EXTRA_CA_CERTS"]
    # the runtime has one store holding them all: where one of them anchors the chain, its verdict is the store's
    # (an expired certificate under NODE_EXTRA_CA_CERTS's CA is "certificate has expired", not an unknown issuer)
    best = next((r for r in results if r.ok), None) or next(
        (r for r in results if r.error_code not in _NO_ANCHOR), results[0])
    others = tuple(v for v in facts.tls.verifications if v.source != "system")
    return replace(facts, tls=replace(facts.tls, verifications=(best, *others)))


def _with_java_store(facts: PortFacts, store: tuple[str, bytes | None]) -> PortFacts:
    """The "system" verification against the JVM's own trust store, which replaces cacerts."""
    from ..x509.verify import TrustSource, verify_chain

    assert facts.tls is not None
    path, pems = store
    if not pems:
        found = Verification("system", path, False, error="the JVM cannot load this trust store", anchors=0)
    else:
        with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as fh:
            fh.write(pems)
        try:
            found = replace(verify_chain(facts.tls.chain, TrustSource("system", fh.name, None)), location=path)
        finally:
            os.unlink(fh.name)
    others = tuple(v for v in facts.tls.verifications if v.source != "system")
    return replace(facts, tls=replace(facts.tls, verifications=(found, *others)))


def version_used(raw: RawConfig) -> dict[str, str | None] | None:
    """Which version of the deciding package the prediction used and how it was chosen (JSON): ``lock_file``
    (``file`` names it), ``given`` (--framework-version) or ``assumed`` (the model's documented default)."""
    from . import model

    m = model(raw.framework)
    if not m.version_of:
        return None
    if raw.framework_version:
        how = "lock_file" if raw.version_from else "given"
        return {"package": m.version_of, "version": raw.framework_version, "how": how, "file": raw.version_from}
    if not m.assume_version:
        return None
    return {"package": m.version_of, "version": m.assume_version, "how": "assumed", "file": None}


def version_line(raw: RawConfig) -> tuple[str, dict[str, str]] | None:
    """(catalogue key, params) saying which version of the deciding package the prediction assumed and why:
    read from the app's lock file, given with --framework-version, or the model's assumption without either."""
    used = version_used(raw)
    if used is None:
        return None
    key = {"lock_file": "check.cli.version_from", "given": "check.cli.version_given",
           "assumed": "check.cli.version_assumed"}[str(used["how"])]
    params = {"package": str(used["package"]), "version": str(used["version"])}
    return key, params | ({"file": os.path.basename(str(used["file"]))} if used["file"] else {})
