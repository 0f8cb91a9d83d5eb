"""Does each runtime trust this server's chain, what is missing, and which CA file on this machine fixes it.

Verification is the lead's OpenSSL-based ``verify_chain`` against one bundle per runtime, written
from exactly the anchors that runtime would load (hashed names only for OpenSSL directories, the
compiled-in store for Node, the keystore for Java). The missing issuer is found by walking the chain
as sent; the fix is a CA file that exists here and verifies the chain *on its own*, because
``ca_file:``, ``cafile=`` and Nodemailer's ``tls.ca`` all replace the default store.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.x509.oid import NameOID

from ..facts import Verification
from ..x509.verify import TrustSource, verify_chain
from .anchors import StoreLocation, describe_dir, describe_file, dir_pems, pem_blocks, read_bounded, write_bundle
from .knowledge import OSSpec, os_family, runtimes
from .runtimes import RuntimeStore

#: OpenSSL verify errors a different trust store can cure; anything else (expired, bad signature,
#: weak key …) is the certificate's own fault and no CA file helps.
TRUST_ERRORS = frozenset({2, 18, 19, 20, 21})


@dataclass(frozen=True)
class MissingIssuer:
    """The certificate a runtime needed and did not have."""

    name: str  #: its CN (or the whole DN when it has no CN)
    dn: str
    needed_by: str  #: CN of the certificate it should have signed
    kind: str  #: "issuer" (neither sent nor trusted), "untrusted_root" (sent, self-signed, not trusted)
    aia: tuple[str, ...] = ()  #: where the server's certificate says its issuer can be fetched
    found_in: tuple[str, ...] = ()  #: CA files on this machine holding a certificate with that name
    is_root: bool | None = None  #: what the certificate found here is; None when not found

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "dn": self.dn, "needed_by": self.needed_by, "kind": self.kind,
                "aia": list(self.aia), "found_in": list(self.found_in), "is_root": self.is_root}


@dataclass(frozen=True)
class RuntimeVerdict:
    store: RuntimeStore
    verification: Verification | None  #: None when the runtime could not be asked
    missing: MissingIssuer | None = None

    @property
    def ok(self) -> bool | None:
        return None if self.verification is None else self.verification.ok


@dataclass(frozen=True)
class Remedy:
    """What makes the failing runtimes trust the server, best first."""

    path: str | None = None  #: a CA file (or c_rehash directory) here that verifies the chain alone
    kind: str = "file"
    package: OSSpec | None = None  #: when no such file exists: the OS package that provides the bundle
    server_side: str | None = None  #: "intermediate" / "certificate": the server must change, not the client
    error: str | None = None  #: for "certificate": what fails once the chain is anchored

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "kind": self.kind,
                "package": self.package.install if self.package else None,
                "os": self.package.id if self.package else None, "server_side": self.server_side,
                "error": self.error}


@dataclass(frozen=True)
class Assessment:
    chain: tuple[str, ...]  #: subjects as sent, leaf first
    verdicts: tuple[RuntimeVerdict, ...]
    user: Verification | None  #: against --ca-file alone
    user_location: StoreLocation | None
    remedy: Remedy | None  #: None when nothing fails


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()


def _aia(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(str(d.access_location.value) for d in ext
                 if d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS)


#: OpenSSL's X509_V_ERR_* values and wording used when replaying its whole check
UNABLE_TO_VERIFY_LEAF_SIGNATURE = (21, "unable to verify the first certificate")
CERT_NOT_YET_VALID = (9, "certificate is not yet valid")
CERT_HAS_EXPIRED = (10, "certificate has expired")


def _path(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates as sent that chain up from the leaf (order on the wire does not matter)."""
    path, used = [certs[0]], {0}
    while len(path) <= len(certs):
        top = path[-1]
        if top.issuer == top.subject:
            break
        nxt = next((i for i, c in enumerate(certs) if i not in used and c.subject == top.issuer), None)
        if nxt is None:
            break
        used.add(nxt)
        path.append(certs[nxt])
    return path


def last_error(chain: Sequence[bytes], ver: Verification, now: datetime | None = None) -> Verification:
    """The error a runtime that lets OpenSSL finish the whole check reports (Node): its last one.

    After a chain-building error OpenSSL goes on: a lone leaf whose issuer is unknown fails its
    signature check (21), then every certificate's dates are checked from the top down, so an
    expired leaf is the last word.
    """
    if ver.ok or not chain:
        return ver
    code, message, depth = ver.error_code, ver.error, ver.error_depth
    path = _path([x509.load_der_x509_certificate(d) for d in chain])
    if code in (2, 20) and len(path) == 1:
        (code, message), depth = UNABLE_TO_VERIFY_LEAF_SIGNATURE, 0
    now = now or datetime.now(UTC)
    for d in range(len(path) - 1, -1, -1):
        cert = path[d]
        if now > cert.not_valid_after_utc:
            (code, message), depth = CERT_HAS_EXPIRED, d
        elif now < cert.not_valid_before_utc:
            (code, message), depth = CERT_NOT_YET_VALID, d
    return replace(ver, error_code=code, error=message, error_depth=depth)


def find_missing(chain: Sequence[bytes], verification: Verification) -> MissingIssuer | None:
    """Walk the chain as sent from the leaf to the first issuer that was not sent.

    Only trust errors name a missing certificate. A self-signed top means the server sent its root
    and the store does not hold it; otherwise the top certificate's issuer is what is missing.
    """
    if verification.ok or verification.error_code not in TRUST_ERRORS or not chain:
        return None
    certs = [x509.load_der_x509_certificate(d) for d in chain]
    current, seen = certs[0], {0}
    for _ in range(len(certs)):
        if current.issuer == current.subject:
            return MissingIssuer(_cn(current.subject), current.subject.rfc4514_string(), _cn(current.subject),
                                 "untrusted_root")
        nxt = next((i for i, c in enumerate(certs) if i not in seen and c.subject == current.issuer), None)
        if nxt is None:
            break
        seen.add(nxt)
        current = certs[nxt]
    return MissingIssuer(_cn(current.issuer), current.issuer.rfc4514_string(), _cn(current.subject), "issuer",
                         _aia(current))


def _holders(missing: MissingIssuer, candidates: Sequence[StoreLocation]) -> tuple[tuple[str, ...], bool | None]:
    """Which candidate files hold a certificate with the missing name, and is it a root there."""
    found: list[str] = []
    is_root: bool | None = None
    for loc in candidates:
        blocks = pem_blocks(read_bounded(loc.path)) if loc.kind == "file" else dir_pems(loc.path)
        for block in blocks:
            try:
                with warnings.catch_warnings():  # old roots with negative serials: still valid anchors
                    warnings.simplefilter("ignore")
                    cert = x509.load_pem_x509_certificate(block)
            except ValueError:
                continue
            if cert.subject.rfc4514_string() == missing.dn:
                found.append(loc.path)
                is_root = cert.subject == cert.issuer
                break
    return tuple(found), is_root


def candidate_locations(stores: Sequence[RuntimeStore], user: StoreLocation | None = None,
                        system: OSSpec | None = None) -> list[StoreLocation]:
    """CA files and directories present on this machine, the user's first, then the well-known ones."""
    paths: list[tuple[str, str]] = []
    if user is not None and user.exists:
        paths.append((user.path, user.kind))
    if system is not None:
        paths.append((system.bundle, "file"))
    for store in stores:
        paths += [(loc.path, loc.kind) for loc in store.locations if loc.kind in ("file", "dir")]
    go = runtimes().get("go")
    paths += [(f, "file") for f in (go.files if go else ())]
    paths.append((certifi.where(), "file"))
    out: list[StoreLocation] = []
    seen: set[str] = set()
    for path, kind in paths:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        loc = describe_file(path, "candidate") if kind == "file" else describe_dir(path, "candidate")
        if loc.exists and loc.certificates:
            out.append(loc)
    return out


class _Bundles:
    """One temporary PEM bundle per store, so every store is verified through the same call."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def source(self, name: str, pems: Sequence[bytes]) -> TrustSource:
        self.count += 1
        path = write_bundle(pems, self.directory / f"{self.count:03d}-{name}.pem")
        return TrustSource(name, str(path), None)

    def location(self, loc: StoreLocation) -> TrustSource:
        if loc.kind == "file":
            return TrustSource("ca-file", loc.path, None)
        return self.source("ca-dir", dir_pems(loc.path))  # what OpenSSL finds: c_rehash names only


@contextmanager
def _bundles() -> Iterator[_Bundles]:
    with tempfile.TemporaryDirectory(prefix="smtp-doctor-trust-") as tmp:
        yield _Bundles(Path(tmp))


def assess(chain: Sequence[bytes], stores: Sequence[RuntimeStore], user: StoreLocation | None = None,
           system: OSSpec | None = None) -> Assessment:
    """Verify ``chain`` (DER, leaf first, as sent) against every store and work out the remedy."""
    system = system if system is not None else os_family()
    subjects = tuple(x509.load_der_x509_certificate(d).subject.rfc4514_string() for d in chain)
    with _bundles() as bundles:
        verdicts: list[RuntimeVerdict] = []
        for store in stores:
            if not store.found or store.error:
                verdicts.append(RuntimeVerdict(store, None))
                continue
            ver = verify_chain(chain, bundles.source(store.runtime, store.pems()))
            ver = Verification(store.runtime, ", ".join(loc.path for loc in store.locations if loc.used) or "(none)",
                               ver.ok, ver.error_code, ver.error, ver.error_depth, ver.chain, store.anchors)
            missing = find_missing(chain, ver)  # from the first error: the one that names what is missing
            spec = runtimes().get(store.runtime)
            if spec is not None and spec.reports == "last":
                ver = last_error(chain, ver)
            verdicts.append(RuntimeVerdict(store, ver, missing))
        user_ver = verify_chain(chain, bundles.location(user)) if user is not None and user.exists else None
        failing = [v for v in verdicts if v.ok is False] + (
            [RuntimeVerdict(RuntimeStore("ca-file", "--ca-file", ""), user_ver)] if user_ver and not user_ver.ok
            else [])
        remedy: Remedy | None = None
        if failing:
            remedy, verdicts = _remedy(chain, failing, verdicts, stores, user, system, bundles)
    return Assessment(subjects, tuple(verdicts), user_ver, user, remedy)


def _remedy(chain: Sequence[bytes], failing: Sequence[RuntimeVerdict], verdicts: list[RuntimeVerdict],
            stores: Sequence[RuntimeStore], user: StoreLocation | None, system: OSSpec | None,
            bundles: _Bundles) -> tuple[Remedy, list[RuntimeVerdict]]:
    first = [v.verification for v in failing if v.verification and v.verification.error_code not in TRUST_ERRORS]
    if first and not any(v.missing for v in failing):
        return Remedy(server_side="certificate", error=first[0].error), verdicts
    candidates = candidate_locations(stores, user, system)
    missing = next((v.missing for v in failing if v.missing), None)
    if missing is not None:
        found, is_root = _holders(missing, candidates)
        missing = MissingIssuer(missing.name, missing.dn, missing.needed_by, missing.kind, missing.aia,
                                found, is_root)
        verdicts = [RuntimeVerdict(v.store, v.verification, missing if v.missing else None) for v in verdicts]
    fix: StoreLocation | None = None
    anchored: Verification | None = None  # a candidate that holds the root, yet the chain still fails
    for loc in candidates:
        result = verify_chain(chain, bundles.location(loc))
        if result.ok:
            fix = loc
            break
        if anchored is None and result.error_code not in TRUST_ERRORS:
            anchored = result
    if fix is None and anchored is not None:
        return Remedy(server_side="certificate", error=anchored.error), verdicts
    if fix is not None:
        return Remedy(fix.path, fix.kind), verdicts
    if missing is not None and missing.is_root is False:
        return Remedy(server_side="intermediate"), verdicts  # held here only as an intermediate: send it
    if system is not None and not describe_file(system.bundle, "os").certificates:
        return Remedy(package=system), verdicts  # the slim-image case: no bundle at all
    return Remedy(server_side="unknown_issuer"), verdicts
