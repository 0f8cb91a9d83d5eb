"""Jakarta Mail TLS keys as Jakarta Mail reads them (issue 12; new configurations, not from any matrix):

- ``mail.smtp.starttls.required=true`` alone turns STARTTLS on: protocolConnect starts it when
  ``useStartTLS || requireStartTLS``, and fails when the server does not offer it. check read it as "no TLS".
- ``mail.smtp.socketFactory.class=javax.net.ssl.SSLSocketFactory`` (the old, much-copied way to 465) makes the
  first socket an SSL one; when that handshake fails and ``socketFactory.fallback`` is not "false",
  SocketFetcher.getSocket makes a plain socket instead and the STARTTLS keys decide. check ignored the key.
- ``mail.smtp.ssl.trust`` lists the hosts trusted without a chain check; any other host is refused after the
  handshake ("Server is not trusted"). check took any value as "verification off".
- Every property is read under the transport's name: with ``spring.mail.protocol=smtps`` that is
  ``mail.smtps.*``, and a ``mail.smtp.*`` key is never read. check read ``mail.smtp.ssl.trust`` under smtps.

Each config goes through check and through Spring's real sender (JavaMailSenderImpl over javax.mail 1.6.5,
matrix 6c's runner) against the lab; asserted: the outcome and failure mode agree, never a client's words."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import test_check_matrix3 as m3
import test_check_matrix6c as m6c
from app_case import check_entry, fix_write, write_case
from smtp_doctor.lab import LabInfo
from test_check_matrix import _agree, other_ca
from test_check_matrix6c import spring
from test_check_real import _delivered

__all__ = ["other_ca", "spring"]  # the fixtures, imported so pytest finds them here

LOGIN = ("spring.mail.username=@USER@\nspring.mail.password=@PASSWORD@\n"
         "spring.mail.properties.mail.smtp.auth=true\n")
KEY = "spring.mail.properties.mail.smtp."
SSL_FACTORY = KEY + "socketFactory.class=javax.net.ssl.SSLSocketFactory\n"
CASES = {  # name: (lab server, lines after host and port, what the real sender does)
    "required_alone_on_starttls": ("starttls", LOGIN + KEY + "starttls.required=true\n", "delivered"),
    "required_alone_on_plain": ("plain", KEY + "starttls.required=true\n", "starttls_not_offered"),
    "ssl_factory_on_implicit": ("implicit", LOGIN + SSL_FACTORY + KEY + "socketFactory.port=@PORT@\n", "delivered"),
    "ssl_factory_falls_back_to_starttls": ("starttls", LOGIN + SSL_FACTORY + KEY + "starttls.enable=true\n",
                                           "delivered"),
    "ssl_factory_no_fallback_on_starttls": ("starttls", LOGIN + SSL_FACTORY + KEY + "socketFactory.fallback=false\n"
                                            + KEY + "starttls.enable=true\n", "implicit_tls_on_plain_port"),
    "ssl_factory_falls_back_to_plain": ("plain", SSL_FACTORY, "delivered"),
    # no JVM trust store for these two: only the trust key can make the lab's certificate pass
    "smtps_reads_no_smtp_trust": ("implicit", LOGIN + "spring.mail.protocol=smtps\n" + KEY + "ssl.trust=*\n",
                                  "cert_unknown_issuer"),
    "smtps_reads_its_own_trust": ("implicit", LOGIN + "spring.mail.protocol=smtps\n"
                                  "spring.mail.properties.mail.smtps.ssl.trust=*\n", "delivered"),
    # a trust list without the host: refused whatever the certificate; with it: no chain check
    "trust_list_without_the_host": ("starttls", LOGIN + KEY + "starttls.enable=true\n" + KEY
                                    + "ssl.trust=smtp.example.com\n", "cert_host_not_trusted"),
    "trust_list_with_the_host": ("starttls", LOGIN + KEY + "starttls.enable=true\n" + KEY
                                 + "ssl.trust=smtp.example.com localhost\n", "delivered"),
}
NO_STORE = {"smtps_reads_no_smtp_trust", "smtps_reads_its_own_trust", "trust_list_without_the_host",
            "trust_list_with_the_host"}


@pytest.mark.parametrize("name", list(CASES))
def test_check_reads_the_key_as_jakarta_mail_does(name: str, lab: LabInfo, tmp_path: Path, other_ca: str,
                                                  monkeypatch: pytest.MonkeyPatch, spring: dict[str, str]) -> None:
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)
    server, lines, want = CASES[name]
    text = f"spring.mail.host=localhost\nspring.mail.port=@PORT@\n{lines}"
    cell = {"id": name, "half": "dev", "runner": "spring", "server": server, "lock": False,
            "config": "src/main/resources/application.properties",
            "env": {} if name in NO_STORE else {"JAVA_TOOL_OPTIONS": "-Djavax.net.ssl.trustStore=@TRUSTSTORE@ "
                                                                     "-Djavax.net.ssl.trustStorePassword=changeit"},
            "files": {"src/main/resources/application.properties": text}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch, stores=spring)
    code, _, output = check_entry(config, envfile, lab)
    doc = json.loads(output)
    real = m3._read(m3._real("spring", app, config, env, f"tlskeys-{uuid.uuid4()}"))
    assert real == want, real
    assert _agree(m3._said(doc, code), real), output


def test_fix_takes_the_ssl_factory_off_a_starttls_port(lab: LabInfo, tmp_path: Path, other_ca: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       spring: dict[str, str]) -> None:
    """The SSL socket factory with no fallback on a STARTTLS port: fix removes the factory's keys and requires
    STARTTLS, and the real sender delivers."""
    for var in m6c.JVM_ENV:
        monkeypatch.delenv(var, raising=False)
    server, lines, _ = CASES["ssl_factory_no_fallback_on_starttls"]
    cell = {"id": "fix", "half": "dev", "runner": "spring", "server": server, "lock": False,
            "config": "src/main/resources/application.properties",
            "env": {"JAVA_TOOL_OPTIONS": "-Djavax.net.ssl.trustStore=@TRUSTSTORE@ "
                                         "-Djavax.net.ssl.trustStorePassword=changeit"},
            "files": {"src/main/resources/application.properties":
                      f"spring.mail.host=localhost\nspring.mail.port=@PORT@\n{lines}"}}
    app = tmp_path / "app"
    config, env, envfile = write_case(cell, lab, app, other_ca, monkeypatch, stores=spring)
    code, output = fix_write(config, envfile, lab)
    assert code == 0 and "socketFactory" not in config.read_text(), output
    subject = f"tlskeys-fixed-{uuid.uuid4()}"
    after = m3._real("spring", app, config, env, subject)
    assert after == "DELIVERED" and _delivered(lab, subject), after
