"""What a CA file or directory holds, read the way the runtime that uses it reads it.

OpenSSL finds certificates in a directory only through c_rehash names (``<subject hash>.<n>``); Go
reads every file. So a directory is described by both counts, and a runtime's anchors are gathered
with the rule of its own library. Reads are bounded: a trust store is a few hundred kilobytes, a
"CA file" of hundreds of megabytes is a mistake and is not read whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
PEM_END = b"-----END CERTIFICATE-----"
MAX_FILE = 16 * 1024 * 1024  #: the biggest bundle read (Mozilla's is ~220 KB)
MAX_ENTRIES = 20_000  #: directory entries looked at
HASHED = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")  #: c_rehash certificate names (CRLs are .rN)
_PEM_BLOCK = re.compile(re.escape(PEM_BEGIN) + rb"[A-Za-z0-9+/=\s]+?" + re.escape(PEM_END))


@dataclass(frozen=True)
class StoreLocation:
    """One place a runtime looks for anchors, and what is there."""

    kind: str  #: "file", "dir", "keystore" or "bundled" (compiled into the runtime)
    path: str
    origin: str  #: "default", "env:SSL_CERT_FILE", "property:javax.net.ssl.trustStore", "ini:openssl.cafile" …
    exists: bool
    certificates: int  #: PEM blocks in a file; c_rehash entries in a dir (all files for Go); keystore entries
    used: bool = True  #: False when something else replaces it (an env var, a flag)
    unhashed: int = 0  #: dir only: certificate files OpenSSL will not find (not c_rehash names)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "path": self.path, "origin": self.origin, "exists": self.exists,
                "certificates": self.certificates, "used": self.used, "unhashed": self.unhashed}


def read_bounded(path: str) -> bytes:
    """The file's bytes, or b"" when it is missing, unreadable, not a regular file or too big."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_FILE:
            return b""
        with open(path, "rb") as fh:
            return fh.read(MAX_FILE)
    except OSError:
        return b""


def pem_blocks(data: bytes) -> list[bytes]:
    return _PEM_BLOCK.findall(data)


def _entries(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as it:
            names = []
            for i, entry in enumerate(it):
                if i >= MAX_ENTRIES:
                    break
                names.append(entry.name)
            return sorted(names)
    except OSError:
        return []


def describe_file(path: str, origin: str, used: bool = True) -> StoreLocation:
    exists = os.path.isfile(path)
    count = read_bounded(path).count(PEM_BEGIN) if exists else 0
    return StoreLocation("file", path, origin, exists, count, used)


def _key(block: bytes) -> bytes:
    return b"".join(block.split())


def describe_dir(path: str, origin: str, used: bool = True, all_files: bool = False) -> StoreLocation:
    """A directory: c_rehash entries (what OpenSSL can find), or every certificate file (Go).

    ``unhashed`` counts certificates OpenSSL cannot reach: in files without a c_rehash name and not
    also reachable through one (Debian's /etc/ssl/certs has both ``X.pem`` and ``<hash>.0`` links).
    """
    if not os.path.isdir(path):
        return StoreLocation("dir", path, origin, False, 0, used)
    hashed: set[bytes] = set()
    hashed_entries = 0
    other: set[bytes] = set()
    for name in _entries(path):
        blocks = pem_blocks(read_bounded(os.path.join(path, name)))
        if HASHED.match(name):
            hashed_entries += bool(blocks)
            hashed.update(_key(b) for b in blocks)
        else:
            other.update(_key(b) for b in blocks)
    if all_files:
        return StoreLocation("dir", path, origin, True, len(hashed | other), used)
    return StoreLocation("dir", path, origin, True, hashed_entries, used, len(other - hashed))


def dir_pems(path: str, all_files: bool = False) -> list[bytes]:
    """The certificates a runtime finds in ``path``: c_rehash names only, unless ``all_files``.

    Read once per state of the directory: /etc/ssl/certs holds hundreds of files, and probing many hosts
    with ``--runtimes`` asks for the same store again and again. The key is every entry's name, size and
    modification time, so a file replaced or edited in place is read again.
    """
    names = [n for n in _entries(path) if all_files or HASHED.match(n)]
    return list(_dir_pems(path, tuple((n, *_stamp(os.path.join(path, n))) for n in names)))


def _stamp(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=32)
def _dir_pems(path: str, entries: tuple[tuple[str, int, int], ...]) -> tuple[bytes, ...]:
    out: list[bytes] = []
    for name, _, _ in entries:
        out += pem_blocks(read_bounded(os.path.join(path, name)))
    return tuple(out)


def location_pems(loc: StoreLocation, all_files: bool = False) -> list[bytes]:
    if not (loc.used and loc.exists):
        return []
    if loc.kind == "file":
        return pem_blocks(read_bounded(loc.path))
    if loc.kind == "dir":
        return dir_pems(loc.path, all_files)
    return []


def write_bundle(pems: Iterable[bytes], target: Path) -> Path:
    """Write ``pems`` as one bundle, so any store can be verified through one CA file."""
    target.write_bytes(b"\n".join(pems) + b"\n")
    return target
