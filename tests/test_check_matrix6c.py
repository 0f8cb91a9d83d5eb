"""The check/fix matrix, sixth part C (issue 12): Spring Boot, the one framework check reads that no real-framework
matrix ran before.

tests/fixtures/matrix6/cells_c.toml holds NEW Spring Boot mail configurations (application.properties,
application.yml, profile files, SPRING_MAIL_* environment), written from Spring Boot's and JavaMail's
documentation and from what users post, without reading check's rules. They go through matrix 3's machinery
(test_check_matrix3.run_half, report_and_floors): check --json, the real sender against the lab, and
`fix --write` then the real sender again when it failed.

The sender is real: Spring's JavaMailSenderImpl (Debian's Spring 4.3) over javax.mail 1.6.5 in a JVM that reads
JAVA_TOOL_OPTIONS. Spring Boot cannot be installed here, so tests/fixtures/matrix6/spring/SpringSend.java
replicates only Boot's property binding into that sender (MailProperties + MailSenderPropertiesConfiguration,
relaxed names, profiles, placeholders; the source lines are cited there). It is compiled once per session.

Placeholders of this file's own: @CLOSED_PORT@ / @SILENT_PORT@ (matrix 5's refused and never-greeting ports),
@TRUSTSTORE@ (a PKCS12 trust store holding the lab CA, made with keytool as a Java user makes one; store
password "changeit") and @OTHER_TRUSTSTORE@ (the same for a CA that signed nothing here).

Split by a new salt: half = "heldout" when int(sha256("6|" + id).hexdigest(), 16) is odd, else "dev", recorded
in the file and checked here. The held-out half is reported as counts only; the dev half's disagreements are
printed. [measured.*] are the floors.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import test_check_matrix as m1
import test_check_matrix3 as m3
import test_check_matrix5 as m5
from smtp_doctor.lab import LabInfo
from test_check_matrix import TIMEOUT, other_ca
from test_check_matrix5 import dead_ports
from test_check_real import _delivered

__all__ = ["dead_ports", "other_ca"]  # the fixtures, imported so pytest finds them here

HERE = Path(__file__).parent / "fixtures" / "matrix6"
CELLS_FILE = HERE / "cells_c.toml"
DOC = tomllib.loads(CELLS_FILE.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
ROWS: dict[str, m3.Row] = {}
SOURCE = HERE / "spring" / "SpringSend.java"
JARS = tuple(f"/usr/share/java/{name}.jar" for name in (
    "spring3-context.support", "spring3-core", "spring3-beans", "spring3-context", "javax.mail",
    "javax.activation", "commons-logging", "snakeyaml"))
#: what the JVM itself would take from the tester's shell rather than from the cell
JVM_ENV = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "SPRING_PROFILES_ACTIVE")
_BUILT: dict[str, str] = {}  #: "classpath": the Debian jars plus the compiled runner, set by the fixture

#: JavaMail's own ways to turn the certificate check off, which matrix 3's pattern does not know: a trusted host
#: list (every certificate from those hosts is accepted: MailSSLSocketFactory) or "*", and no identity check
SPRING_UNSAFE = re.compile(r"ssl[._]trust\b|^\s*trust\s*:|checkserveridentity\s*[=:]\s*[\"']?false",
                           re.IGNORECASE | re.MULTILINE)


def _half_of(cid: str) -> str:
    """This matrix's own salt, so its split is independent of matrices 3-5."""
    return "heldout" if int(hashlib.sha256(("6|" + cid).encode()).hexdigest(), 16) % 2 else "dev"


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) >= 25
    older_ids, older_texts = m5.older_configs(m5.CELLS)
    older_ids |= {c["id"] for c in m5.CELLS}
    assert not older_ids & set(ids)
    assert all(cid.startswith("spring-") for cid in ids)
    assert not (older_texts | {"".join(c["files"].values()).strip() for c in m5.CELLS}) & {
        "".join(c["files"].values()).strip() for c in CELLS}
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS} == {"spring"}
    assert min(sum(c["half"] == h for c in CELLS) for h in ("dev", "heldout")) >= 8


def _available() -> str | None:
    if shutil.which("java") is None or shutil.which("javac") is None:
        return "no JDK (scripts/install-system-deps.sh installs default-jdk-headless)"
    missing = [j for j in JARS if not Path(j).is_file()]
    if missing:
        return f"{missing[0]} is missing (scripts/install-system-deps.sh: libspring-context-support-java " \
               "libmail-java libyaml-snake-java)"
    return None


def _real(app: Path, config: Path, env: dict[str, str], subject: str) -> str:
    """DELIVERED, ERROR <the exception chain's head and tail> or TIMEOUT: the real sender with the app as it is.
    The process environment is the tester's minus anything that changes trust or the JVM, plus the cell's."""
    base = {k: v for k, v in os.environ.items() if k not in m3.TRUST_ENV + JVM_ENV}
    argv = ["java", "-cp", _BUILT["classpath"], "SpringSend", str(app), subject]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
                              env=base | env, cwd=app)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
    if not lines:
        return "ERROR " + (m1.crash_text(done.stderr) or "no output")
    # the chain's head and tail (Spring's "Mail server connection failed; … Could not convert socket to TLS"
    # opens it), as matrix 1's runners keep a crash since a15fad3
    return lines[-1] if lines[-1] == "DELIVERED" else "ERROR " + m1.crash_text(lines[-1].removeprefix("ERROR "))


m3.EXTRA_RUNNERS["spring"] = (_available, _real)


@pytest.fixture(scope="module")
def spring(tmp_path_factory: pytest.TempPathFactory, lab: LabInfo, other_ca: str) -> Iterator[dict[str, str]]:
    """The runner compiled once, and the two trust stores (keytool, as a Java user makes them)."""
    if (why := _available()) is not None:
        pytest.skip(why)
    out = tmp_path_factory.mktemp("spring")
    classpath = ":".join(JARS)
    built = subprocess.run(["javac", "-nowarn", "-cp", classpath, "-d", str(out), str(SOURCE)],
                           capture_output=True, text=True, timeout=180)
    assert built.returncode == 0, built.stderr
    _BUILT["classpath"] = f"{classpath}:{out}"
    stores = {}
    for key, ca in (("@TRUSTSTORE@", str(lab.ca_file)), ("@OTHER_TRUSTSTORE@", other_ca)):
        store = out / f"{key.strip('@').lower()}.p12"
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", ca, "-keystore",
                        str(store), "-storetype", "PKCS12", "-storepass", "changeit"], check=True,
                       capture_output=True, timeout=60)
        stores[key] = str(store)
    yield stores


def _spring_unsafe(tmp_path: Path) -> bool:
    """fix newly wrote one of JavaMail's verification-off settings (matrix 3's pattern has no Spring spelling)."""
    def text(folder: Path) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())
    fixed, pristine = tmp_path / "fixed", tmp_path / "pristine"
    if not fixed.is_dir():
        return False
    return len(SPRING_UNSAFE.findall(text(fixed))) > len(SPRING_UNSAFE.findall(text(pristine)))


@pytest.mark.parametrize("cell", CELLS, ids=[c["id"] for c in CELLS])
def test_matrix6c_config(cell: dict[str, Any], lab: LabInfo, tmp_path: Path, other_ca: str,
                         monkeypatch: pytest.MonkeyPatch, dead_ports: dict[str, str],
                         spring: dict[str, str]) -> None:
    for var in JVM_ENV:
        monkeypatch.delenv(var, raising=False)  # the app's JVM options are the cell's, given with --env
    m5.run_part_cell(cell, "spring", dead_ports | spring, lab, tmp_path, other_ca, monkeypatch, ROWS,
                     DOC.get("lock", {}), "matrix6c")
    row = ROWS.get(cell["id"])
    if row is not None and _spring_unsafe(tmp_path):
        row.fix_unsafe = True


def test_matrix6c_runner_alone(lab: LabInfo, tmp_path: Path, spring: dict[str, str]) -> None:
    """The runner itself can fail: a working config delivers and one with a wrong password does not."""
    app = tmp_path / "app"
    props = app / "src" / "main" / "resources" / "application.properties"
    props.parent.mkdir(parents=True)
    base = (f"spring.mail.host=localhost\nspring.mail.port={lab.servers['starttls'].port}\n"
            f"spring.mail.username={lab.user}\nspring.mail.properties.mail.smtp.auth=true\n"
            "spring.mail.properties.mail.smtp.starttls.enable=true\n")
    env = {"JAVA_TOOL_OPTIONS": f"-Djavax.net.ssl.trustStore={spring['@TRUSTSTORE@']} "
                                "-Djavax.net.ssl.trustStorePassword=changeit"}
    props.write_text(base + f"spring.mail.password={lab.password}\n")
    assert _real(app, props, env, "matrix6c-alone-ok") == "DELIVERED"
    assert _delivered(lab, "matrix6c-alone-ok")
    props.write_text(base + f"spring.mail.password={m3.WRONG_PASSWORD}\n")
    out = _real(app, props, env, "matrix6c-alone-bad")
    assert out.startswith("ERROR ") and "Authentication" in out and m3.WRONG_PASSWORD not in out, out


def test_matrix6c_summary() -> None:
    m5.part_summary(ROWS, "matrix6c", DOC, CELLS_FILE)
