"""Asking the real runtimes where their anchors are; bounded subprocesses; directory layouts; Go's rule."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smtp_doctor.lab import LabInfo
from smtp_doctor.trust.anchors import describe_dir, describe_file
from smtp_doctor.trust.engine import assess
from smtp_doctor.trust.knowledge import OSSpec, os_family, os_release
from smtp_doctor.trust.runtimes import IntrospectionError, discover, run_bounded, user_location

PY = {"python": sys.executable}


def test_run_bounded_kills_a_runtime_that_hangs() -> None:
    started = time.monotonic()
    with pytest.raises(IntrospectionError) as exc:
        run_bounded(["sleep", "30"], os.environ, timeout=0.5)
    assert exc.value.kind == "timeout" and time.monotonic() - started < 5


def test_run_bounded_stops_a_runtime_that_floods() -> None:
    with pytest.raises(IntrospectionError) as exc:
        run_bounded(["yes"], os.environ, timeout=10, limit=10_000)
    assert exc.value.kind == "output"


def test_a_missing_interpreter_is_reported_not_raised() -> None:
    [store] = discover(["ruby"], interpreters={"ruby": "/nonexistent/ruby"})
    assert store.error and "not_found" in store.error and not store.found


def test_python_reports_its_real_lookup_locations(tmp_path: Path) -> None:
    bundle = tmp_path / "two.pem"
    bundle.write_bytes(Path(ssl.get_default_verify_paths().openssl_cafile).read_bytes()
                       if os.path.exists(ssl.get_default_verify_paths().openssl_cafile) else b"")
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    [store] = discover(["python"], env=env, interpreters=PY)
    paths = ssl.get_default_verify_paths()
    by_origin = {(loc.kind, loc.origin): loc for loc in store.locations}
    assert by_origin[("file", "default")].path == paths.openssl_cafile and by_origin[("file", "default")].used
    assert by_origin[("dir", "default")].path == paths.openssl_capath
    [store] = discover(["python"], env=env | {"SSL_CERT_FILE": str(bundle)}, interpreters=PY)
    by_origin = {(loc.kind, loc.origin): loc for loc in store.locations}
    assert by_origin[("file", "env:SSL_CERT_FILE")].path == str(bundle)
    assert by_origin[("file", "env:SSL_CERT_FILE")].certificates == bundle.read_bytes().count(b"BEGIN CERTIFICATE")
    assert not by_origin[("file", "default")].used  # an env var that is set replaces the default


@pytest.mark.skipif(shutil.which("ruby") is None or shutil.which("openssl") is None, reason="needs ruby + openssl")
def test_ruby_reports_the_openssl_defaults_of_its_libssl(tmp_path: Path) -> None:
    out = subprocess.run(["openssl", "version", "-d"], capture_output=True, text=True, timeout=30).stdout
    openssldir = out.split('"')[1]
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    [store] = discover(["ruby"], env=env)
    files = [loc for loc in store.locations if loc.kind == "file"]
    assert files[0].path == os.path.join(openssldir, "cert.pem") and files[0].origin == "default"
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    [store] = discover(["ruby"], env=env | {"SSL_CERT_FILE": str(empty), "SSL_CERT_DIR": str(tmp_path)})
    assert store.anchors == 0 and dict(store.env)["SSL_CERT_FILE"] == str(empty)


def test_interpreter_variables_never_load_code(tmp_path: Path) -> None:
    """RUBYOPT / NODE_OPTIONS / PYTHONSTARTUP could run app code: they are dropped before asking."""
    marker = tmp_path / "ran"
    (tmp_path / "evil.rb").write_text(f"File.write({str(marker)!r}, 'x')\n")
    (tmp_path / "evil.js").write_text(f"require('fs').writeFileSync({json.dumps(str(marker))}, 'x')\n")
    (tmp_path / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    env = dict(os.environ, RUBYOPT=f"-r{tmp_path / 'evil.rb'}", PYTHONPATH=str(tmp_path),
               NODE_OPTIONS=f"--require {tmp_path / 'evil.js'} --use-openssl-ca")
    stores = {s.runtime: s for s in discover(["ruby", "python", "node"], env=env, interpreters=PY)}
    assert not marker.exists()
    for s in stores.values():
        assert s.error is None or not s.found, s
    if stores["node"].found:
        assert stores["node"].mode == "openssl"  # the trust flag from NODE_OPTIONS is kept


def test_a_directory_counts_only_what_openssl_can_find(tmp_path: Path, lab: LabInfo) -> None:
    d = tmp_path / "cas"
    d.mkdir()
    shutil.copy(lab.ca_file, d / "lab.pem")
    loc = describe_dir(str(d), "ca-file")
    assert (loc.certificates, loc.unhashed) == (0, 1)
    subprocess.run(["openssl", "rehash", str(d)], check=True, timeout=30, capture_output=True)
    loc = describe_dir(str(d), "ca-file")
    assert (loc.certificates, loc.unhashed) == (1, 0)
    go_view = describe_dir(str(d), "env:SSL_CERT_DIR", all_files=True)
    assert go_view.certificates == 1  # Go reads every file; the link and the file hold the same cert


def test_go_rule_first_file_then_every_directory(tmp_path: Path, lab: LabInfo) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shutil.copy(lab.ca_file, a / "anything.crt")  # no c_rehash name: Go still reads it
    env = dict(os.environ, SSL_CERT_FILE="", SSL_CERT_DIR=f"{a}:{b}")
    [go] = discover(["go"], env=env)
    dirs = [loc for loc in go.locations if loc.kind == "dir"]
    assert [loc.path for loc in dirs] == [str(a), str(b)] and dirs[0].certificates == 1
    assert any(loc.kind == "file" and loc.origin == "default" for loc in go.locations)  # "" counts as unset


def test_anchor_count_is_distinct_certificates(tmp_path: Path, lab: LabInfo) -> None:
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(lab.ca_file, d / "x.pem")
    subprocess.run(["openssl", "rehash", str(d)], check=True, timeout=30, capture_output=True)
    env = dict(os.environ, SSL_CERT_FILE=str(lab.ca_file), SSL_CERT_DIR=str(d))
    [store] = discover(["python"], env=env, interpreters=PY)
    assert store.anchors == 1  # the bundle and the directory hold the same root


@pytest.mark.skipif(shutil.which("java") is None or shutil.which("keytool") is None, reason="needs a JDK")
def test_java_truststore_property_and_password_never_shown(tmp_path: Path, lab: LabInfo) -> None:
    store_path = tmp_path / "smtp-truststore.p12"
    secret = "s3cret-storepass-91"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "lab", "-file", str(lab.ca_file),
                    "-keystore", str(store_path), "-storetype", "PKCS12", "-storepass", secret],
                   check=True, capture_output=True, timeout=60)
    env = dict(os.environ, JAVA_TOOL_OPTIONS=f"-Djavax.net.ssl.trustStore={store_path} "
                                             f"-Djavax.net.ssl.trustStorePassword={secret} -javaagent:/nope.jar")
    [java] = discover(["java"], env=env)
    assert java.error is None, java.error
    assert java.locations[0].path == str(store_path) and java.locations[0].certificates == 1
    assert java.locations[0].origin == "property:javax.net.ssl.trustStore"
    assert secret not in json.dumps(java.to_dict())
    [default_java] = discover(["java"], env={k: v for k, v in os.environ.items() if k != "JAVA_TOOL_OPTIONS"})
    assert default_java.locations[0].path.endswith(os.path.join("lib", "security", "cacerts"))


def test_os_family_and_the_package_to_install(tmp_path: Path, lab: LabInfo) -> None:
    for text, install in (('ID=debian\n', "apt-get install ca-certificates"),
                          ('ID="ubuntu"\nID_LIKE=debian\n', "apt-get install ca-certificates"),
                          ("ID=alpine\n", "apk add ca-certificates"),
                          ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "dnf install ca-certificates")):
        (tmp_path / "os-release").write_text(text)
        spec = os_family(os_release(str(tmp_path / "os-release")))
        assert spec is not None and spec.install == install
    assert os_family({"ID": "plan9"}) is None


def test_no_bundle_on_the_machine_means_install_the_package(tmp_path: Path, lab: LabInfo) -> None:
    """The slim-image case: no CA file verifies and the OS bundle itself is missing."""
    import asyncio

    from smtp_doctor.probe import ProbeOptions, probe_host

    server = lab.servers["starttls"]
    facts = asyncio.run(probe_host(server.host, [server.port], ProbeOptions(timeout=20))).ports[0]
    assert facts.tls is not None
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    env = dict(os.environ, SSL_CERT_FILE=str(empty), SSL_CERT_DIR=str(tmp_path))
    stores = discover(["python"], env=env, interpreters=PY)
    system = OSSpec("debian", ("debian",), "apt-get install ca-certificates", str(tmp_path / "nope.crt"), "")
    a = assess(facts.tls.chain, stores, None, system)
    assert a.remedy is not None and a.remedy.path is None
    assert a.remedy.package is not None and a.remedy.package.install == "apt-get install ca-certificates"


def test_user_location_file_and_dir(lab: LabInfo, tmp_path: Path) -> None:
    assert user_location(str(lab.ca_file)) == describe_file(str(lab.ca_file), "ca-file")
    assert user_location(str(tmp_path)).kind == "dir"
