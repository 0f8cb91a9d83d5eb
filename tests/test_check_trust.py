"""check predicts with the trust the app really has: its own CA file as it is on disk, the trust variables of
its environment, and a wrong CA file is a wrong CA file. Real TLS from the lab; Settings as a reader makes them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import trustme

from smtp_doctor.facts import PortFacts
from smtp_doctor.frameworks.apptrust import app_trust, apply, ca_state, with_app_trust
from smtp_doctor.lab import LabInfo
from smtp_doctor.plan import ConnectionPlan, plan
from smtp_doctor.predict import Prediction, Verdict, predict
from smtp_doctor.probe import ProbeOptions, probe_host
from smtp_doctor.settings import Setting, Settings, TLSMode


def _plan(framework: str, port: int, ca_file: str | None, mode: TLSMode = TLSMode.STARTTLS) -> ConnectionPlan:
    s = Settings(framework=framework, source="cfg", host=Setting("127.0.0.1"), port=Setting(port),
                 tls_mode=Setting(mode), verify_peer=Setting(True), verify_hostname=Setting(True),
                 ca_file=Setting(ca_file) if ca_file else None, auth_mechanism=Setting("none"),
                 read_timeout=Setting(3.0))
    return plan(s)


def _facts(port: int, ca_file: str | None) -> PortFacts:
    opts = ProbeOptions(timeout=20, ca_file=ca_file if ca_file and Path(ca_file).is_file() else None)
    return asyncio.run(probe_host("127.0.0.1", [port], opts)).ports[0]


def _predict(p: ConnectionPlan, environ: dict[str, str], probe_ca: str | None) -> Prediction:
    trust = app_trust(p, environ)
    return predict(with_app_trust(p, trust), apply(_facts(p.port or 0, probe_ca), trust))


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_an_app_ca_file_openssl_cannot_load_fails_the_app(state: str, lab: LabInfo, tmp_path: Path) -> None:
    """Ruby loads ca_file when TLS starts; a missing one is 'SSL_CTX_load_verify_file: system lib' (lab,
    Debian ActionMailer), whatever --ca-file would verify: the probe may even be given a good CA."""
    path = tmp_path / "ca.pem"
    if state == "empty":
        path.write_text("not a certificate\n")
    assert ca_state(str(path)) == state
    p = _plan("actionmailer", lab.servers["starttls"].port, str(path))
    pred = _predict(p, {}, str(lab.ca_file))
    assert (pred.verdict, pred.failure, pred.stage) == (Verdict.FAILS, "cert_verify_failed", "tls")
    assert pred.text and "SSL_CTX_load_verify_file" in pred.text


def test_no_tls_no_ca_load(lab: LabInfo, tmp_path: Path) -> None:
    """STARTTLS when offered, on a server without it: TLS never starts, so the missing CA file never matters."""
    p = _plan("actionmailer", lab.servers["plain"].port, str(tmp_path / "missing.pem"), TLSMode.STARTTLS_AUTO)
    assert _predict(p, {}, None).verdict is Verdict.DELIVERED


@pytest.mark.parametrize("framework", ["django", "actionmailer"])
def test_ssl_cert_file_from_the_app_environment_is_its_system_store(framework: str, lab: LabInfo,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    p = _plan(framework, lab.servers["starttls"].port, None)
    assert _predict(p, {}, None).failure == "cert_unknown_issuer"
    trust = app_trust(p, {"SSL_CERT_FILE": str(lab.ca_file), "REQUESTS_CA_BUNDLE": str(lab.ca_file)})
    assert trust.ignored == ("REQUESTS_CA_BUNDLE",)  # requests' own variable: no SMTP client reads it
    assert _predict(p, {"SSL_CERT_FILE": str(lab.ca_file)}, None).verdict is Verdict.DELIVERED


def test_node_extra_ca_certs_is_read_by_nodemailer_only(lab: LabInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    env = {"NODE_EXTRA_CA_CERTS": str(lab.ca_file)}
    node = _plan("nodemailer", lab.servers["starttls"].port, None)
    assert _predict(node, env, None).verdict is Verdict.DELIVERED
    django = _plan("django", lab.servers["starttls"].port, None)
    assert _predict(django, env, None).failure == "cert_unknown_issuer"
    assert app_trust(django, env).ignored == ("NODE_EXTRA_CA_CERTS",)


def test_an_expired_certificate_under_node_extra_ca_certs_is_expired_not_unknown(
        lab: LabInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Node has one store, its bundle plus the extra file: the chain builds there, and what fails is the date
    (matrix 6 dev: real Nodemailer said 'certificate has expired', check said unknown issuer)."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    node = _plan("nodemailer", lab.servers["expired"].port, None)
    assert _predict(node, {"NODE_EXTRA_CA_CERTS": str(lab.ca_file)}, None).failure == "cert_expired"
    assert _predict(node, {}, None).failure == "cert_unknown_issuer"


def test_a_wrong_ca_file_is_not_a_missing_intermediate(lab: LabInfo, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's CA file is another CA. Whether or not another store verifies the chain, check never says the
    server forgot its intermediate; with the right CA in SSL_CERT_FILE it says the app's file is the wrong one."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    other = tmp_path / "other-ca.pem"
    trustme.CA(organization_name="Another private CA").cert_pem.write_to_path(str(other))
    for server in ("starttls", "missing-intermediate"):
        p = _plan("actionmailer", lab.servers[server].port, str(other))
        pred = _predict(p, {}, str(other))
        assert pred.failure == "cert_unknown_issuer" and pred.why == "check.why.issuer_not_in_ca_file", pred
    p = _plan("actionmailer", lab.servers["starttls"].port, str(other))
    pred = _predict(p, {"SSL_CERT_FILE": str(lab.ca_file)}, str(other))
    # Ruby adds ca_file to the default store, so the app itself verifies through SSL_CERT_FILE: it delivers
    assert pred.verdict is Verdict.DELIVERED
    django_like = _plan("smtplib", lab.servers["starttls"].port, str(other))  # cafile= replaces the store
    pred = _predict(django_like, {"SSL_CERT_FILE": str(lab.ca_file)}, str(other))
    assert (pred.failure, pred.why) == ("cert_unknown_issuer", "check.why.ca_file_wrong")


def _check_node(tmp_path: Path, lab: LabInfo, server: str, options: str, env: str = "") -> dict[str, object]:
    """`check --json` on a Nodemailer transport file against one lab server (reader → probe → prediction)."""
    import json

    from click.testing import CliRunner

    from smtp_doctor.cli import cli

    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "mailer.js").write_text(
        'const fs = require("fs");\nconst nodemailer = require("nodemailer");\n'
        f'module.exports = nodemailer.createTransport({{ host: "127.0.0.1", port: {lab.servers[server].port}, '
        f"{options} }});\n")
    (app / "app.env").write_text(env)
    out = CliRunner().invoke(cli, ["check", str(app / "mailer.js"), "--json", "--timeout", "10",
                                   "--env", str(app / "app.env")]).output
    return json.loads(out)["configs"][0]["prediction"]  # type: ignore[no-any-return]


def test_node_tls_reject_unauthorized_0_turns_verification_off_unless_the_config_says(lab: LabInfo,
                                                                                     tmp_path: Path) -> None:
    """Node's default rejectUnauthorized is NODE_TLS_REJECT_UNAUTHORIZED !== '0' (nodejs.org cli docs): with it
    the app delivers to a self-signed server (a risk, not a failure); an explicit rejectUnauthorized wins."""
    pred = _check_node(tmp_path, lab, "self-signed", "", "NODE_TLS_REJECT_UNAUTHORIZED=0\n")
    assert pred["verdict"] == "delivered" and "verify_off" in pred["risks"]  # type: ignore[operator]
    pred = _check_node(tmp_path, lab, "self-signed", "tls: { rejectUnauthorized: true },",
                       "NODE_TLS_REJECT_UNAUTHORIZED=0\n")
    assert pred["verdict"] == "fails" and str(pred["failure"]).startswith("cert_")
    assert _check_node(tmp_path, lab, "self-signed", "")["verdict"] == "fails"


def test_node_tls_servername_is_the_name_the_certificate_is_checked_against(lab: LabInfo, tmp_path: Path) -> None:
    """Node checks the certificate against tls.servername when it is set, not the host (lib/_tls_wrap.js)."""
    ca = f'tls: {{ ca: fs.readFileSync("{lab.ca_file}")'
    names = _facts(lab.servers["wrong-name"].port, str(lab.ca_file)).tls.certs[0].san_dns  # type: ignore[union-attr]
    assert names
    pred = _check_node(tmp_path, lab, "wrong-name", f'{ca}, servername: "{names[0]}" }},')
    assert pred["verdict"] == "delivered", pred
    pred = _check_node(tmp_path, lab, "wrong-name", f"{ca} }},")
    assert (pred["verdict"], pred["failure"]) == ("fails", "cert_hostname_mismatch")


def test_node_user_without_password_is_refused_at_auth(lab: LabInfo, tmp_path: Path) -> None:
    """Nodemailer refuses to log in without a password ('Missing credentials for "PLAIN"') when the server
    offers AUTH; a server offering none is never asked."""
    auth = 'auth: { user: "app", pass: process.env.SMTP_PASS },'
    ca = f'tls: {{ ca: fs.readFileSync("{lab.ca_file}") }},'
    pred = _check_node(tmp_path, lab, "implicit", f"secure: true, {auth} {ca}")
    assert (pred["verdict"], pred["failure"]) == ("fails", "auth_missing_credentials")
    assert 'Missing credentials for "PLAIN"' in str(pred["error_text"])
    pred = _check_node(tmp_path, lab, "implicit", f"secure: true, {auth} {ca}", "SMTP_PASS=x\n")
    assert pred["failure"] != "auth_missing_credentials"


def test_the_jvm_trust_store_in_java_tool_options_is_the_java_app_s_store(lab: LabInfo, tmp_path: Path) -> None:
    """A Spring app trusts what its JVM trusts: -Djavax.net.ssl.trustStore in JAVA_TOOL_OPTIONS replaces
    cacerts. The store is made by keytool, as a Java user makes one; a wrong store password means the JVM
    cannot open it and every handshake fails."""
    import shutil
    import subprocess

    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.skip("no keytool (default-jdk: scripts/install-system-deps.sh)")
    store = tmp_path / "trust.p12"
    subprocess.run([keytool, "-importcert", "-noprompt", "-alias", "lab", "-file", str(lab.ca_file), "-keystore",
                    str(store), "-storetype", "PKCS12", "-storepass", "changeit"], check=True, capture_output=True,
                   timeout=60)
    p = _plan("spring", lab.servers["starttls"].port, None)
    good = f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword=changeit"
    assert _predict(p, {"JAVA_TOOL_OPTIONS": good}, None).verdict is Verdict.DELIVERED
    assert _predict(p, {}, None).failure == "cert_unknown_issuer"  # cacerts: no lab CA
    wrong = _predict(p, {"JAVA_TOOL_OPTIONS": good.replace("=changeit", "=not-it")}, None)
    assert wrong.verdict is Verdict.FAILS and wrong.failure is not None and wrong.failure.startswith("cert_")


def test_jvm_options_as_the_jvm_reads_them(lab: LabInfo, tmp_path: Path) -> None:
    """_JAVA_OPTIONS is read after JAVA_TOOL_OPTIONS and wins; quotes group a path with a blank and go; a JKS
    store (keytool -storetype JKS) is read, and so is a PKCS12 file named as type JKS (keystore.type.compat);
    a PKCS12 store opened without its password shows no certificate (matrix 7c dev)."""
    import shutil
    import subprocess

    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.skip("no keytool (default-jdk: scripts/install-system-deps.sh)")
    folder = tmp_path / "with blank"
    folder.mkdir()
    stores = {}
    for kind in ("JKS", "PKCS12"):
        stores[kind] = folder / f"trust.{kind.lower()}"
        subprocess.run([keytool, "-importcert", "-noprompt", "-alias", "lab", "-file", str(lab.ca_file), "-keystore",
                        str(stores[kind]), "-storetype", kind, "-storepass", "changeit"], check=True,
                       capture_output=True, timeout=60)
    p = _plan("spring", lab.servers["starttls"].port, None)
    pw = " -Djavax.net.ssl.trustStorePassword=changeit"
    jks = f"-Djavax.net.ssl.trustStore='{stores['JKS']}' -Djavax.net.ssl.trustStoreType=JKS"
    assert _predict(p, {"JAVA_TOOL_OPTIONS": jks + pw}, None).verdict is Verdict.DELIVERED
    assert _predict(p, {"JAVA_TOOL_OPTIONS": jks}, None).verdict is Verdict.DELIVERED  # unchecked, still read
    assert _predict(p, {"JAVA_TOOL_OPTIONS": jks + pw + "x"}, None).verdict is Verdict.FAILS
    compat = f'-Djavax.net.ssl.trustStore="{stores["PKCS12"]}" -Djavax.net.ssl.trustStoreType=jks' + pw
    assert _predict(p, {"JAVA_TOOL_OPTIONS": compat}, None).verdict is Verdict.DELIVERED
    other = f"-Djavax.net.ssl.trustStore={tmp_path / 'none.p12'}"
    assert _predict(p, {"JAVA_TOOL_OPTIONS": compat, "_JAVA_OPTIONS": other}, None).verdict is Verdict.FAILS
    no_password = f'-Djavax.net.ssl.trustStore="{stores["PKCS12"]}"'
    assert _predict(p, {"JAVA_TOOL_OPTIONS": no_password}, None).verdict is Verdict.FAILS
