"""Ask each language runtime on this machine where it looks for trust anchors.

The runtime itself answers (a one-line script from knowledge/runtimes.toml, run with that
interpreter): a Ruby built against another OpenSSL prefix, a Node with its own compiled-in store or a
JVM with its own ``cacerts`` would all be mis-described by guessing from the OS. The user's app is
never run, and variables that make an interpreter load code (``RUBYOPT``, ``NODE_OPTIONS``,
``JAVA_TOOL_OPTIONS`` …) are dropped first; only their trust-related flags are passed on. Every
subprocess has a deadline and an output bound.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .anchors import PEM_BEGIN, StoreLocation, describe_dir, describe_file, location_pems, pem_blocks
from .knowledge import RuntimeSpec, runtimes

TIMEOUT = 15.0  #: per subprocess; a cold JVM starts in ~1 s, a loaded CI box can be ten times slower
INFO_LIMIT = 64 * 1024  #: an introspection answer is a few hundred bytes
ROOTS_LIMIT = 4 * 1024 * 1024  #: Node's compiled-in store is ~200 KB of PEM, a JDK cacerts ~250 KB
_OPENSSLDIR = re.compile(rb'OPENSSLDIR: "([^"\x00]{1,1024})"')


class IntrospectionError(Exception):
    """The runtime could not be asked: kind is "timeout", "output", "failed" or "not_found"."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


def run_bounded(argv: Sequence[str], env: Mapping[str, str], timeout: float = TIMEOUT,
                limit: int = INFO_LIMIT) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with no stdin; kill its whole process group at the deadline or output bound."""
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=dict(env), start_new_session=True)
    except FileNotFoundError as exc:
        raise IntrospectionError("not_found", str(exc.filename or argv[0])) from None
    except OSError as exc:
        raise IntrospectionError("failed", f"{argv[0]}: {exc.strerror}") from None
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    rc = -1
    deadline = time.monotonic() + timeout
    problem: IntrospectionError | None = None
    try:
        with selectors.DefaultSelector() as sel:
            for fd in bufs:
                sel.register(fd, selectors.EVENT_READ)
            while sel.get_map() and problem is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    problem = IntrospectionError("timeout", f"{argv[0]} gave no answer within {timeout:g} s")
                    break
                for key, _ in sel.select(remaining):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fd)
                        continue
                    bufs[key.fd] += chunk
                    if len(bufs[key.fd]) > limit:
                        problem = IntrospectionError("output", f"{argv[0]} wrote more than {limit} bytes")
                        break
        if problem is None:
            try:
                rc = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problem = IntrospectionError("timeout", f"{argv[0]} did not exit within {timeout:g} s")
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()
    if problem is not None:
        raise problem
    return rc, bytes(bufs[out_fd]), bytes(bufs[err_fd])


@dataclass(frozen=True)
class Note:
    """Something to tell about a store: a catalogue key (trust.note.<key>) and its parameters."""

    key: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeStore:
    """Where one runtime finds its anchors, as it answered."""

    runtime: str
    label: str
    source: str
    executable: str | None = None
    found: bool = True
    version: str = ""
    library: str = ""
    mode: str = ""  #: node: "bundled" / "openssl"; java: the keystore type
    locations: tuple[StoreLocation, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  #: trust-related variables as the runtime saw them
    notes: tuple[Note, ...] = ()
    error: str | None = None  #: why the runtime could not be asked
    inline_pems: tuple[bytes, ...] = field(default=(), repr=False)  #: node's bundled roots, a keystore's
    all_files: bool = False  #: directories are read whole (Go), not through c_rehash names

    @cached_property
    def anchors(self) -> int:
        """Distinct certificates over every location in use (a bundle and its hashed dir overlap)."""
        return len(self.pems())

    def pems(self) -> list[bytes]:
        """Every anchor this runtime trusts, in PEM, each once."""
        out: dict[bytes, bytes] = {b"".join(p.split()): p for p in self.inline_pems}
        for loc in self.locations:
            for pem in location_pems(loc, self.all_files):
                out.setdefault(b"".join(pem.split()), pem)
        return list(out.values())

    def to_dict(self) -> dict[str, Any]:
        from .. import i18n

        return {
            "runtime": self.runtime, "label": self.label, "found": self.found, "executable": self.executable,
            "version": self.version or None, "library": self.library or None, "mode": self.mode or None,
            "anchors": self.anchors, "locations": [loc.to_dict() for loc in self.locations],
            "env": dict(self.env), "error": self.error,
            "notes": [{"id": n.key, "text": i18n.t(f"trust.note.{n.key}", **n.params)} for n in self.notes],
            "source": self.source,
        }


# ---------------------------------------------------------------------------------------------------


def _child_env(spec: RuntimeSpec, env: Mapping[str, str]) -> dict[str, str]:
    out = {k: v for k, v in env.items() if k not in spec.drop_env}
    out["LC_ALL"] = "C"  # keytool and java print localised text otherwise
    return out


def _kept_flags(spec: RuntimeSpec, env: Mapping[str, str]) -> list[str]:
    """The trust-related flags from NODE_OPTIONS / JAVA_TOOL_OPTIONS, and nothing else from them."""
    flags: list[str] = []
    for var in spec.drop_env:
        for word in env.get(var, "").split():
            if any(word == f or (f.endswith("=") and word.startswith(f)) for f in spec.keep_flags):
                flags.append(word)
    return flags


def _json_answer(spec: RuntimeSpec, exe: str, env: Mapping[str, str], pre: Sequence[str] = ()) -> dict[str, Any]:
    rc, out, err = run_bounded([exe, *pre, *spec.argv], _child_env(spec, env))
    line = next((ln for ln in out.decode("utf-8", "replace").splitlines() if ln.startswith("{")), "")
    try:
        answer = json.loads(line)
    except ValueError:
        answer = None
    if rc != 0 or not isinstance(answer, dict):
        detail = (err or out).decode("utf-8", "replace").strip().splitlines()
        raise IntrospectionError("failed", f"exit {rc}: {detail[-1][:200] if detail else 'no output'}")
    return answer


def _openssl_locations(file: str, dir_: str, file_env: str, dir_env: str, env: Mapping[str, Any]
                       ) -> list[StoreLocation]:
    """OpenSSL's default-paths rule: a variable that is set replaces the compiled-in default."""
    locs: list[StoreLocation] = []
    env_file, env_dir = env.get(file_env), env.get(dir_env)
    if env_file is not None:
        locs.append(describe_file(str(env_file), f"env:{file_env}"))
    locs.append(describe_file(file, "default", used=env_file is None))
    if env_dir is not None:
        locs += [describe_dir(d, f"env:{dir_env}") for d in str(env_dir).split(":") if d] or [
            describe_dir(str(env_dir), f"env:{dir_env}")]
    locs.append(describe_dir(dir_, "default", used=env_dir is None))
    return locs


def _seen_env(answer: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    env = answer.get("env") or {}
    return tuple((str(k), str(v)) for k, v in env.items() if v is not None and v is not False)


def _ask_openssl_kind(spec: RuntimeSpec, exe: str, env: Mapping[str, str]) -> RuntimeStore:
    if spec.id == "openssl":  # the CLI prints OPENSSLDIR; its defaults are fixed names under it
        rc, out, err = run_bounded([exe, *spec.argv], _child_env(spec, env))
        text = out.decode("utf-8", "replace")
        m = re.search(r'OPENSSLDIR: "([^"]*)"', text)
        if rc != 0 or not m:
            raise IntrospectionError("failed", (err or out).decode("utf-8", "replace").strip()[:200])
        answer: dict[str, Any] = {
            "version": text.splitlines()[0].strip(), "library": "",
            "file": os.path.join(m.group(1), "cert.pem"), "dir": os.path.join(m.group(1), "certs"),
            "file_env": "SSL_CERT_FILE", "dir_env": "SSL_CERT_DIR",
            "env": {k: env.get(k) for k in ("SSL_CERT_FILE", "SSL_CERT_DIR")},
        }
    else:
        answer = _json_answer(spec, exe, env)
    seen = {k: v for k, v in (answer.get("env") or {}).items() if v is not None and v is not False}
    locs = _openssl_locations(str(answer["file"]), str(answer["dir"]), str(answer["file_env"]),
                              str(answer["dir_env"]), seen)
    notes: list[Note] = []
    if answer.get("ini_file") or answer.get("ini_dir"):  # PHP: php.ini replaces the default paths
        locs = [StoreLocation(loc.kind, loc.path, loc.origin, loc.exists, loc.certificates, False, loc.unhashed)
                for loc in locs]
        if answer.get("ini_file"):
            locs.insert(0, describe_file(str(answer["ini_file"]), "ini:openssl.cafile"))
        if answer.get("ini_dir"):
            locs.insert(1, describe_dir(str(answer["ini_dir"]), "ini:openssl.capath"))
    if spec.id == "python":
        notes.append(Note("python_smtplib"))
        if answer.get("certifi"):
            locs.append(describe_file(str(answer["certifi"]), "certifi", used=False))
            notes.append(Note("python_certifi", {"path": str(answer["certifi"])}))
        for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            if seen.get(var):
                notes.append(Note("python_requests_env", {"var": var, "path": str(seen[var])}))
    for loc in locs:
        if loc.kind == "dir" and loc.used and loc.unhashed:
            notes.append(Note("unhashed", {"path": loc.path, "count": str(loc.unhashed)}))
    return RuntimeStore(spec.id, spec.label, spec.source, str(answer.get("executable") or exe), True,
                        str(answer.get("version", "")), str(answer.get("library", "")), "openssl", tuple(locs),
                        _seen_env(answer), tuple(notes))


def _openssldir_of(executable: str) -> str | None:
    """OPENSSLDIR compiled into a binary that bundles OpenSSL (Node does): the string `openssl
    version -d` prints, read from the same constant, since Node has no API for it."""
    try:
        with open(executable, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            at = mm.find(b'OPENSSLDIR: "')
            if at < 0:
                return None
            m = _OPENSSLDIR.match(mm[at: at + 1100])
            return m.group(1).decode("utf-8", "replace") if m else None
    except (OSError, ValueError):
        return None


def _ask_node(spec: RuntimeSpec, exe: str, env: Mapping[str, str], openssl_dir: str | None) -> RuntimeStore:
    flags = _kept_flags(spec, env)
    answer = _json_answer(spec, exe, env, flags)
    child = _child_env(spec, env)
    _, help_out, _ = run_bounded([exe, *spec.help_argv], child, limit=INFO_LIMIT * 4)
    help_text = re.sub(r"\s+", " ", help_out.decode("utf-8", "replace"))
    default_openssl = bool(re.search(r"--use-openssl-ca\s+use OpenSSL's default CA store \(default\)", help_text))
    argv_flags = [str(f) for f in answer.get("exec_argv") or []]
    seen = {k: v for k, v in (answer.get("env") or {}).items() if v is not None}
    openssl_store = "--use-openssl-ca" in argv_flags or (default_openssl and "--use-bundled-ca" not in argv_flags)
    system_ca = "--use-system-ca" in argv_flags or seen.get("NODE_USE_SYSTEM_CA") == "1"
    locs: list[StoreLocation] = []
    pems: tuple[bytes, ...] = ()
    notes = [Note("node_flags", {"flags": " ".join(flags)})] if flags else []
    if not openssl_store:
        _, roots, _ = run_bounded([exe, *flags, *spec.roots_argv], child, limit=ROOTS_LIMIT)
        pems = tuple(pem_blocks(roots))
        locs.append(StoreLocation("bundled", str(answer.get("exec") or exe), "bundled", True, len(pems)))
    if openssl_store or system_ca:
        base = openssl_dir if answer.get("shared_openssl") else _openssldir_of(str(answer.get("exec") or exe))
        if base:
            locs += _openssl_locations(os.path.join(base, "cert.pem"), os.path.join(base, "certs"),
                                       "SSL_CERT_FILE", "SSL_CERT_DIR", seen)
        else:
            notes.append(Note("node_openssldir_unknown"))
    if seen.get("NODE_EXTRA_CA_CERTS"):
        extra = describe_file(str(seen["NODE_EXTRA_CA_CERTS"]), "env:NODE_EXTRA_CA_CERTS")
        locs.append(extra)
        if not extra.exists or not extra.certificates:
            notes.append(Note("node_extra_unreadable", {"path": extra.path}))
    elif not openssl_store and (seen.get("SSL_CERT_FILE") or seen.get("SSL_CERT_DIR")):
        notes.append(Note("node_ignores_ssl_cert_file"))
    mode = "openssl" if openssl_store else "bundled"
    return RuntimeStore(spec.id, spec.label, spec.source, exe, True, str(answer.get("version", "")),
                        str(answer.get("library", "")), mode, tuple(locs), _seen_env(answer), tuple(notes), None,
                        pems)


def _java_props(text: str) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(" = ")
        if sep and key and " " not in key:
            props[key] = value
    return props


def _ask_java(spec: RuntimeSpec, exe: str, env: Mapping[str, str]) -> RuntimeStore:
    flags = _kept_flags(spec, env)
    rc, out, err = run_bounded([exe, *flags, *spec.argv], _child_env(spec, env))
    props = _java_props(err.decode("utf-8", "replace") + "\n" + out.decode("utf-8", "replace"))
    home = props.get("java.home")
    if rc != 0 or not home:
        raise IntrospectionError("failed", f"exit {rc}: no java.home in -XshowSettings output")
    configured = props.get("javax.net.ssl.trustStore")
    password = props.get("javax.net.ssl.trustStorePassword") or spec.default_store_password
    store_type = props.get("javax.net.ssl.trustStoreType", "")
    jsse = os.path.join(home, "lib", "security", "jssecacerts")
    cacerts = os.path.join(home, "lib", "security", "cacerts")
    if configured:
        path, origin = configured, "property:javax.net.ssl.trustStore"
    elif os.path.isfile(jsse):
        path, origin = jsse, "default"
    else:
        path, origin = cacerts, "default"
    notes: list[Note] = []
    pems: tuple[bytes, ...] = ()
    if os.path.isfile(path):
        keytool = os.path.join(home, "bin", "keytool")
        keytool = keytool if os.access(keytool, os.X_OK) else (shutil.which("keytool", path=env.get("PATH")) or "")
        if keytool:
            child = _child_env(spec, env) | {"SMTP_DOCTOR_STOREPASS": password}
            argv = [keytool, "-J-Duser.language=en", "-list", "-rfc", "-keystore", path,
                    "-storepass:env", "SMTP_DOCTOR_STOREPASS"] + (["-storetype", store_type] if store_type else [])
            try:
                krc, kout, _ = run_bounded(argv, child, limit=ROOTS_LIMIT * 4)
            except IntrospectionError:
                krc, kout = 1, b""
            pems = tuple(pem_blocks(kout))
            if krc != 0:
                notes.append(Note("java_keystore_unreadable", {"path": path}))
        else:
            notes.append(Note("java_no_keytool"))
    loc = StoreLocation("keystore", path, origin, os.path.isfile(path), len(pems))
    others = [StoreLocation("keystore", p, "default", os.path.isfile(p), 0, False)
              for p in (jsse, cacerts) if p != path]
    seen = tuple((k, v) for k, v in (("javax.net.ssl.trustStore", configured or ""),
                                     ("javax.net.ssl.trustStoreType", store_type)) if v)
    return RuntimeStore(spec.id, spec.label, spec.source, exe, True, props.get("java.version", ""),
                        props.get("java.vendor", ""), store_type or "default", (loc, *others), seen, tuple(notes),
                        None, pems)


def _go_store(spec: RuntimeSpec, env: Mapping[str, str]) -> RuntimeStore:
    """Go's rule (no interpreter to ask): first readable file, then every file of every directory."""
    locs: list[StoreLocation] = []
    env_file, env_dir = env.get("SSL_CERT_FILE") or "", env.get("SSL_CERT_DIR") or ""
    files = [env_file] if env_file else list(spec.files)
    chosen = next((f for f in files if os.path.isfile(f) and os.access(f, os.R_OK)), None)
    for f in files:
        if f == chosen or (f is files[0] and chosen is None) or os.path.isfile(f):
            locs.append(describe_file(f, "env:SSL_CERT_FILE" if env_file else "default", used=f == chosen))
    for d in (env_dir.split(":") if env_dir else spec.dirs):
        if d:
            locs.append(describe_dir(d, "env:SSL_CERT_DIR" if env_dir else "default", all_files=True))
    seen = tuple((k, env[k]) for k in ("SSL_CERT_FILE", "SSL_CERT_DIR") if env.get(k))
    return RuntimeStore(spec.id, spec.label, spec.source, None, True, "", "", "go", tuple(locs), seen,
                        (Note("go_static"),), None, (), True)


def _ask(spec: RuntimeSpec, env: Mapping[str, str], exe: str | None, openssl_dir: str | None) -> RuntimeStore:
    if spec.store == "go":
        return _go_store(spec, env)
    if not exe:
        return RuntimeStore(spec.id, spec.label, spec.source, None, False)
    try:
        if spec.store == "node":
            return _ask_node(spec, exe, env, openssl_dir)
        if spec.store == "java":
            return _ask_java(spec, exe, env)
        return _ask_openssl_kind(spec, exe, env)
    except IntrospectionError as exc:
        return RuntimeStore(spec.id, spec.label, spec.source, exe, exc.kind != "not_found", error=str(exc))
    except (KeyError, TypeError, ValueError) as exc:  # an answer of the wrong shape: say so, do not crash
        return RuntimeStore(spec.id, spec.label, spec.source, exe, True, error=f"unexpected answer: {exc}")


def discover(selected: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
             interpreters: Mapping[str, str] | None = None) -> list[RuntimeStore]:
    """Ask every selected runtime (all by default), concurrently, in the knowledge file's order."""
    env = dict(os.environ if env is None else env)
    specs = [s for s in runtimes().values() if selected is None or s.id in selected]
    exes = {s.id: (interpreters or {}).get(s.id) or (shutil.which(s.executable, path=env.get("PATH"))
                                                     if s.executable else None) for s in specs}
    openssl_dir: str | None = None
    if any(s.store == "node" for s in specs) and exes.get("openssl") is None and "openssl" in runtimes():
        exes.setdefault("openssl", shutil.which("openssl", path=env.get("PATH")))
    if exes.get("openssl"):  # Node linked to the system libcrypto shares its OPENSSLDIR
        try:
            _, out, _ = run_bounded([str(exes["openssl"]), "version", "-d"], env)
            m = re.search(rb'OPENSSLDIR: "([^"]*)"', out)
            openssl_dir = m.group(1).decode() if m else None
        except IntrospectionError:
            openssl_dir = None
    with ThreadPoolExecutor(max_workers=max(1, len(specs))) as pool:
        futures = [pool.submit(_ask, s, env, exes.get(s.id), openssl_dir) for s in specs]
        return [f.result() for f in futures]


def user_location(path: str) -> StoreLocation:
    """``--ca-file``: a bundle with one or many roots, or a c_rehash directory."""
    if os.path.isdir(path):
        return describe_dir(path, "ca-file")
    return describe_file(path, "ca-file")


__all__ = ["PEM_BEGIN", "IntrospectionError", "Note", "RuntimeStore", "discover", "run_bounded", "user_location"]
