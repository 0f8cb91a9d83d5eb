"""Corpus 4 for explain: real client output against REAL servers (Postfix, Exim, Dovecot submission) in every
scenario of corpora 1-3, stored in cases4.json (the schema of cases3.json plus ``server`` -- postfix, exim,
dovecot-submission or lab --, ``listener`` and ``server_version``).

Why: corpora 1-3 mostly talk to the lab's aiosmtpd servers, whose banners and replies never change, so the
server's own wording (each server's banners, its 421/454/530/535/554 replies, GnuTLS's alerts next to
OpenSSL's) was missing. Here one real Postfix 3.7 (Dovecot SASL) and one real Exim 4.96 (GnuTLS) each serve
a listener per scenario on loopback (LISTENERS): bad password, STARTTLS required, STARTTLS not offered, no
common AUTH mechanism, expired / wrong-name / self-signed / missing-intermediate / untrusted certificates,
implicit-TLS ports (Postfix smtpd_tls_wrappermode, Exim tls_on_connect_ports) spoken to with STARTTLS or in
clear and the reverse, a legacy-TLS-only listener, relay denied, a connection limit reached (421), a broken
certificate/key pair (454), successes, and the unsafe successes (AUTH in clear; verification off). Dovecot's
submission service plays what its 587/465 pair can. The scenarios only a fake server can play (silent
server, slow greeting, refused, DNS, closed on connect, DNSBL refusal) stay on the lab. The truth label comes
from the listener's configuration and the client's settings (capture.label / capture3.label3: the scenario's
mode, a client's known behaviour, or -- when the client exited 0 -- the success it really was), never from
the text.

It reuses capture.py's and capture3.py's machinery (Scenario, Job, Variant, run_one, the builders and both
corpora's variants); the earlier variants are split between Postfix and Exim (each sees every family), the
lab and Dovecot get one earlier variant per family, and the new versions run everywhere.

    .venv/bin/python -m tests.corpus.explain.capture4            # prints a summary
    .venv/bin/python -m tests.corpus.explain.capture4 --write    # (re)writes cases4.json

Re-capturing is a manual step (tests only read cases4.json); it runs as root (Postfix's and Exim's own
users), like tests/realpeers. Beyond what capture.py and capture3.py need (their docstrings; capture3's
/tmp/c3 paths may be symlinks to /tmp/aio2, /tmp/aio4, /tmp/nm7, /tmp/nm8 and
/opt/smtp-doctor-peers/django42), the new versions:

    /usr/bin/python3 -m venv /tmp/c4/dj51 && /tmp/c4/dj51/bin/pip install 'django>=5.1,<5.2'
    /usr/bin/python3 -m venv /tmp/c4/dj32 && /tmp/c4/dj32/bin/pip install 'django>=3.2,<4'
    .venv/bin/python -m venv /tmp/c4/aio1 && /tmp/c4/aio1/bin/pip install 'aiosmtplib>=1.1,<2'
    npm install --prefix /tmp/c4/nm9 nodemailer@9
    npm install --prefix /tmp/c4/ejs3 emailjs@3; npm install --prefix /tmp/c4/ejs4 emailjs@4

and Postfix, Dovecot and Exim as the real-peer tier installs them (scripts/install-system-deps.sh), plus
Dovecot's submission service: apt-get install -y --no-install-recommends dovecot-submissiond. A full
capture takes about 10 minutes with 4 workers (1,901 runs).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from smtp_doctor.lab import LabInfo, LabServer, run_lab_in_thread
from smtp_doctor.lab.certs import LabPKI
from smtp_doctor.lab.hostile import scripted_in_thread

from . import capture, capture3
from .capture import Builder, Job, Scenario, Variant

CASES_4 = capture.HERE / "cases4.json"
HOST = "127.0.0.1"

#: The listeners each real server gets (name -> what it is); the scenario's ``server`` names one of them,
#: prefixed "pf-" (Postfix) or "ex-" (Exim).
LISTENERS = {
    "submission": "STARTTLS required before AUTH/MAIL, AUTH only inside TLS, valid certificate",
    "smtps": "implicit TLS, AUTH inside TLS",
    "smtp": "port-25 role: STARTTLS optional, no AUTH, relays only for authenticated clients",
    "clear": "no STARTTLS at all, AUTH PLAIN/LOGIN offered in clear",
    "mech": "STARTTLS, then AUTH only by a mechanism no default client uses (Postfix: a Dovecot doing only "
            "SCRAM-SHA-256; Exim: EXTERNAL)",
    "expired": "STARTTLS with an expired certificate",
    "wrong-name": "STARTTLS with a certificate for another name",
    "self-signed": "STARTTLS with a self-signed certificate",
    "missing-intermediate": "STARTTLS with a leaf whose intermediate CA is not sent",
    "legacy": "STARTTLS with TLS 1.0/1.1 only",
    "busy": "one connection per client address, already taken (421)",
    "broken": "STARTTLS with a certificate paired with another key (454)",
}


def _real(prefix: str) -> tuple[Scenario, ...]:
    """Every scenario of corpora 1-3 a real server can play, on that server's listeners."""
    p = prefix
    return (
        Scenario("implicit_on_starttls", f"{p}submission", "implicit", "implicit_tls_on_plain_port"),
        Scenario("starttls_on_implicit", f"{p}smtps", "starttls", "plain_on_implicit_port", role_port=465,
                 accept=("greeting_timeout",)),
        Scenario("plain_on_implicit", f"{p}smtps", "none", "plain_on_implicit_port", role_port=465,
                 accept=("greeting_timeout",)),
        Scenario("expired", f"{p}expired", "starttls", "cert_expired"),
        Scenario("wrong_name", f"{p}wrong-name", "starttls", "cert_hostname_mismatch"),
        Scenario("self_signed", f"{p}self-signed", "starttls", "cert_self_signed", accept=("cert_unknown_issuer",)),
        Scenario("missing_intermediate", f"{p}missing-intermediate", "starttls", "cert_missing_intermediate",
                 accept=("cert_unknown_issuer",)),
        Scenario("untrusted_ca", f"{p}submission", "starttls", "cert_unknown_issuer", ca=False,
                 accept=("cert_missing_intermediate",)),
        Scenario("bad_password", f"{p}submission", "starttls", "auth_bad_credentials", password_ok=False),
        Scenario("auth_not_offered", f"{p}submission", "none", "starttls_required"),
        Scenario("tls_version", f"{p}legacy", "starttls", "tls_version_mismatch"),
        Scenario("unsafe_auth_in_clear", f"{p}clear", "none", "unsafe_auth_in_clear"),
        Scenario("unsafe_no_verify", f"{p}self-signed", "starttls", "unsafe_no_verify", verify=False, ca=False),
        Scenario("ok_starttls", f"{p}submission", "starttls", "none"),
        Scenario("ok_implicit", f"{p}smtps", "implicit", "none", role_port=465),
        Scenario("no_common_mechanism", f"{p}mech", "starttls", "auth_mechanism"),
        Scenario("starttls_missing", f"{p}clear", "starttls", "starttls_not_offered"),
        Scenario("busy_421", f"{p}busy", "starttls", "temp_failure"),
        Scenario("server_tls_broken", f"{p}broken", "starttls", "server_tls_broken"),
        Scenario("relay_denied", f"{p}smtp", "starttls", "relay_denied", user=False, role_port=25),
    )


SCENARIOS_POSTFIX = _real("pf-")
SCENARIOS_EXIM = _real("ex-")
#: Dovecot's submission service (one instance: STARTTLS on 587, implicit TLS on 465, valid certificate,
#: relaying into Postfix): the scenarios one such listener pair can play. Dovecot 2.3 counts a connection
#: whose remote address is its local one as secured, so on loopback it accepts AUTH PLAIN in clear despite
#: disable_plaintext_auth (and ssl = required), so "auth_not_offered" cannot be played; nor can a certain
#: "unsafe_auth_in_clear" (it offers STARTTLS, and clients set to no TLS may still upgrade opportunistically).
SCENARIOS_DOVECOT: tuple[Scenario, ...] = (
    *(dataclasses.replace(s, server=s.server.replace("pf-", "dv-")) for s in SCENARIOS_POSTFIX
      if s.server in ("pf-submission", "pf-smtps") and s.id != "auth_not_offered"),
)
#: What only a fake server can play: the lab (capture.py's servers, capture3's scripted DNSBL refusal).
SCENARIOS_LAB: tuple[Scenario, ...] = (
    *(s for s in capture.SCENARIOS_2 if s.id in {"refused", "dns", "slow_greeting", "closed_on_connect"}),
    next(s for s in capture.SCENARIOS if s.id == "silent_server"),
    next(s for s in capture3.SCENARIOS_3 if s.id == "blocklisted"),
)
ALL_4: tuple[Scenario, ...] = (*SCENARIOS_POSTFIX, *SCENARIOS_EXIM, *SCENARIOS_DOVECOT, *SCENARIOS_LAB)


def server_of(s: Scenario) -> str:
    return {"pf-": "postfix", "ex-": "exim", "dv-": "dovecot-submission"}.get(s.server[:3], "lab")


# --- new client versions ----------------------------------------------------------------------------------

def _emailjs(entry: str, debug: bool) -> Builder:
    """capture3's emailjs app on another emailjs major (its entry file in $EMAILJS)."""
    def build(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
        argv, env, stdin = capture3._app(["node"], "emailjs_app.mjs", debug=debug)(job, work, password)
        return argv, {**env, "EMAILJS": entry}, stdin
    return build


def _v(family: str, variant: str, build: Builder, version: tuple[str, ...], skip: tuple[str, ...] = ()
       ) -> Variant:
    return Variant(family, variant, build, version, skip)


_DJV = "import django, platform; print('Django', django.get_version(), '/ Python', platform.python_version())"
_EJSV = "console.log('emailjs', require('/tmp/c4/ejs{m}/node_modules/emailjs/package.json').version, '/ Node', " \
        "process.version)"
_EJS_ENTRY = {3: "/tmp/c4/ejs3/node_modules/emailjs/rollup/email.mjs", 4: "/tmp/c4/ejs4/node_modules/emailjs/email.js"}
NEW_VARIANTS: tuple[Variant, ...] = (
    *(_v("django", f"django {v}", capture._py(f"/tmp/c4/dj{v.replace('.', '')}/bin/python", "django"),
         (f"/tmp/c4/dj{v.replace('.', '')}/bin/python", "-c", _DJV), skip=("unsafe_no_verify",))
      for v in ("5.1", "3.2")),
    _v("aiosmtplib", "aiosmtplib 1", capture._py("/tmp/c4/aio1/bin/python", "aiosmtplib"),
       ("/tmp/c4/aio1/bin/python", "-c", "import aiosmtplib; print('aiosmtplib', aiosmtplib.__version__)")),
    *(_v("nodemailer", f"nodemailer 9{' debug' if dbg else ''}", capture._node("/tmp/c4/nm9", dbg),
         ("node", "-e", "console.log('nodemailer', require('/tmp/c4/nm9/node_modules/nodemailer/package.json')"
                        ".version, '/ Node', process.version)"))
      for dbg in (False, True)),
    *(_v("emailjs", f"emailjs {m}{' logger' if dbg else ''}", _emailjs(_EJS_ENTRY[m], dbg),
         ("node", "-e", _EJSV.format(m=m)))
      for m in (3, 4) for dbg in (False, True)),
)


def _split(variants: tuple[Variant, ...]) -> tuple[tuple[Variant, ...], tuple[Variant, ...]]:
    """The earlier corpora's variants alternately to Postfix and Exim within each family, so that each server
    sees every family (a family with one variant goes to both)."""
    by_family: dict[str, list[Variant]] = collections.defaultdict(list)
    for v in variants:
        by_family[v.client].append(v)
    pf: list[Variant] = []
    ex: list[Variant] = []
    for vs in by_family.values():
        if len(vs) == 1:
            pf.append(vs[0])
            ex.append(vs[0])
            continue
        for i, v in enumerate(vs):
            (pf if i % 2 == 0 else ex).append(v)
    return tuple(pf), tuple(ex)


def _send_email_abs(job: Job, work: Path, password: str) -> tuple[list[str], dict[str, str], bytes]:
    """capture3's git send-email, given its patch by absolute path."""
    argv, env, stdin = capture3._send_email(job, work, password)
    return [*argv[:-1], str(work / argv[-1])], env, stdin


OLD_VARIANTS: tuple[Variant, ...] = tuple(
    dataclasses.replace(v, build=_send_email_abs) if v.build is capture3._send_email else v
    for v in (*capture.VARIANTS, *capture3.VARIANTS_3))
_PF_OLD, _EX_OLD = _split(OLD_VARIANTS)
#: server -> the variants run there (the lab's scenarios: the new versions and one old variant per family)
VARIANTS_BY_SERVER: dict[str, tuple[Variant, ...]] = {
    "postfix": (*_PF_OLD, *NEW_VARIANTS),
    "exim": (*_EX_OLD, *NEW_VARIANTS),
    "lab": (*NEW_VARIANTS, *{v.client: v for v in reversed(OLD_VARIANTS)}.values()),
    "dovecot-submission": (*NEW_VARIANTS, *{v.client: v for v in OLD_VARIANTS}.values()),
}


#: Runs that would record the harness, not the scenario: clients/ruby3_app.rb hands OpenSSL an empty CA path
#: when the scenario gives the client no CA, and it fails loading that path before it connects.
HARNESS_SKIP: dict[str, tuple[str, ...]] = {
    "net-smtp debug_output": ("untrusted_ca", "unsafe_no_verify"),
    "mail gem": ("untrusted_ca", "unsafe_no_verify"),
}
#: A text that shows the harness failed (git send-email not finding its patch file): such a run is dropped.
HARNESS_FAILED = ("Cannot run git format-patch from outside a repository",)


def _skipped(v: Variant, s: Scenario) -> bool:
    """A variant skips what it cannot be set to (its own skip list, by scenario id; HARNESS_SKIP); openssl
    s_client never sends mail (capture3.NOT_SEND, for capture.py's s_client variants too)."""
    return (s.id in v.skip or s.id in HARNESS_SKIP.get(v.variant, ())
            or (v.client == "openssl" and s.id in (*capture3.NOT_SEND, "plain_on_implicit")))


# --- the real servers -------------------------------------------------------------------------------------

def _hold(port: int) -> socket.socket:
    """One connection that takes the busy listener's only slot for the whole capture (read its greeting)."""
    sock = socket.create_connection((HOST, port), timeout=10)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(512)
        if not chunk:
            raise RuntimeError(f"busy listener {port} closed the holding connection")
        data += chunk
    return sock


def _pf_listener(port: int, *opts: str) -> str:
    lines = [f"{HOST}:{port} inet n - n - - smtpd"]
    lines += [f"  -o {{{o}}}" for o in opts]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _postfix(base: Path, pki: LabPKI) -> Iterator[tuple[LabInfo, str]]:
    """Postfix 3.7 + Dovecot (tests/realpeers/peers.py) with the extra listeners of LISTENERS appended to its
    master.cf; yields (a LabInfo naming every listener as "pf-<name>", the version)."""
    from tests.realpeers import peers  # only a capture run needs Postfix and Dovecot

    stack: list[peers.Daemon] = []
    peer = peers.start_postfix(base, peers.PeerPKI(base / "pki"), stack)
    try:
        # The "mech" listener's SASL back end: a second Dovecot that only does SCRAM-SHA-256 (Postfix's
        # smtpd_sasl_mechanism_filter alone only hides PLAIN/LOGIN from EHLO; Dovecot would still accept them)
        dv = base / "dovecot-scram"
        dv.mkdir()
        users = dv / "users"
        users.write_text(f"{peer.user}:{{PLAIN}}{peer.password}\n")
        users.chmod(0o640)
        shutil.chown(users, "root", "dovecot")
        scram_socket = base / "postfix" / "queue" / "private" / "auth-scram"
        dv_conf = dv / "dovecot.conf"
        dv_conf.write_text(peers.DOVECOT_CONF.format(host=HOST, base=dv, users=users, socket=scram_socket).replace(
            "auth_mechanisms = plain login", "auth_mechanisms = scram-sha-256"))
        scram = peers.Daemon.start([peers.DOVECOT, "-F", "-c", str(dv_conf)], dv / "dovecot.log")
        stack.insert(0, scram)
        peers.wait_for_file(scram_socket, scram.proc, dv / "dovecot.log")
        conf = base / "postfix" / "conf"
        good = pki.files("good")
        main_cf = conf / "main.cf"  # the lab PKI's certificate on peers' three listeners too (one CA for all)
        text = re.sub(r"(?m)^smtpd_tls_chain_files = .*$", f"smtpd_tls_chain_files = {good[1]}, {good[0]}",
                      main_cf.read_text())
        # mail to other domains is accepted and dropped (peers' error: transport refuses it at RCPT already)
        text = re.sub(r"(?m)^(default|relay)_transport = .*$", r"\1_transport = discard:corpus", text)
        main_cf.write_text(text)
        chains = {k: pki.files(k) for k in ("expired", "wrong-name", "self-signed", "missing-intermediate")}
        _, other_key = pki.files("expired")
        ports = {n: peers.free_port() for n in ("clear", "mech", *chains, "legacy", "busy", "broken", "relay-in")}
        sub = ("smtpd_sasl_auth_enable = yes", "smtpd_client_restrictions = permit_sasl_authenticated, reject")
        extra = [
            _pf_listener(ports["clear"], "syslog_name = postfix/clear", "smtpd_tls_security_level = none",
                         "smtpd_tls_auth_only = no", *sub),
            _pf_listener(ports["mech"], "syslog_name = postfix/mech", "smtpd_sasl_path = private/auth-scram",
                         f"smtpd_tls_chain_files = {good[1]}, {good[0]}", *sub),
            *(_pf_listener(ports[k], f"syslog_name = postfix/{k}", f"smtpd_tls_chain_files = {key}, {cert}", *sub)
              for k, (cert, key) in chains.items()),
            _pf_listener(ports["legacy"], "syslog_name = postfix/legacy",
                         f"smtpd_tls_chain_files = {good[1]}, {good[0]}",
                         "smtpd_tls_protocols = >=TLSv1, <=TLSv1.1",
                         "smtpd_tls_mandatory_protocols = >=TLSv1, <=TLSv1.1",
                         "tls_medium_cipherlist = DEFAULT:@SECLEVEL=0", "tls_high_cipherlist = DEFAULT:@SECLEVEL=0",
                         *sub),
            _pf_listener(ports["busy"], "syslog_name = postfix/busy", "smtpd_client_connection_count_limit = 1",
                         "smtpd_timeout = 3600s", *sub),
            _pf_listener(ports["broken"], "syslog_name = postfix/broken",
                         f"smtpd_tls_chain_files = {other_key}, {good[0]}", *sub),
            # where Dovecot's submission service relays what it accepted (it has authenticated the client)
            _pf_listener(ports["relay-in"], "syslog_name = postfix/relay-in", "mynetworks = 127.0.0.0/8",
                         "smtpd_relay_restrictions = permit_mynetworks, reject"),
        ]
        master = conf / "master.cf"
        master.write_text(master.read_text() + "".join(extra))
        peers.run([peers.POSTFIX, "-c", str(conf), "reload"])
        for port in ports.values():
            peers.wait_for_banner(port, stack[-1].proc, peer.log_file or base / "postfix.log")
        servers = {f"pf-{n}": LabServer(f"pf-{n}", HOST, lst.port) for n, lst in peer.listeners.items()}
        servers.update({f"pf-{n}": LabServer(f"pf-{n}", HOST, p) for n, p in ports.items()})
        holder = _hold(ports["busy"])
        info = LabInfo(HOST, pki.ca_file, base, user=peer.user, password=peer.password, hostile=servers)
        try:
            yield info, f"Postfix {peer.version} / Dovecot {peer.components.get('Dovecot', '?')}"
        finally:
            holder.close()
    finally:
        for daemon in reversed(stack):
            daemon.stop()


EXIM_CONF = """\
# Exim as small servers run it, one listener per scenario (chosen by $received_port).
primary_hostname = mail.example.test
exim_path = {exim}
never_users = root
keep_environment =
spool_directory = {base}/spool
log_file_path = {base}/log/%slog
pid_file_path = {base}/exim.pid
local_interfaces = {host}
daemon_smtp_ports = {all_ports}
daemon_startup_retries = 0
tls_on_connect_ports = {smtps}
tls_advertise_hosts = ${{if eq{{$received_port}}{{{clear}}}{{}}{{*}}}}
tls_certificate = ${{lookup{{$received_port}}lsearch{{{certmap}}}{{$value}}{{{good_cert}}}}}
tls_privatekey = ${{lookup{{$received_port}}lsearch{{{keymap}}}{{$value}}{{{good_key}}}}}
tls_require_ciphers = ${{if eq{{$received_port}}{{{legacy}}}{{NORMAL:-VERS-ALL:+VERS-TLS1.0:+VERS-TLS1.1}}{{NORMAL}}}}
auth_advertise_hosts = ${{if or{{{{eq{{$received_port}}{{{clear}}}}}{{def:tls_in_cipher}}}}{{*}}{{}}}}
smtp_accept_max_per_host = ${{if eq{{$received_port}}{{{busy}}}{{1}}{{0}}}}
host_lookup =
rfc1413_hosts =
domainlist local_domains = example.test
acl_smtp_mail = acl_check_mail
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_mail:
  deny   condition = ${{if eq{{$received_port}}{{{submission}}}}}
         condition = ${{if def:tls_in_cipher{{no}}{{yes}}}}
         message = 530 5.7.0 Must issue a STARTTLS command first
  accept

acl_check_rcpt:
  accept authenticated = *
  accept domains = +local_domains
         local_parts = {user} : postmaster
  deny   message = relay not permitted

begin routers
discard:
  driver = redirect
  data = :blackhole:

begin transports

begin retry
*   *   F,1m,10s

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${{if and{{{{eq{{$auth2}}{{{user}}}}}{{eq{{$auth3}}{{{password}}}}}}}}}
  server_set_id = $auth2
  server_advertise_condition = ${{if eq{{$received_port}}{{{mech}}}{{no}}{{yes}}}}
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = ${{if and{{{{eq{{$auth1}}{{{user}}}}}{{eq{{$auth2}}{{{password}}}}}}}}}
  server_set_id = $auth1
  server_advertise_condition = ${{if eq{{$received_port}}{{{mech}}}{{no}}{{yes}}}}
external:
  driver = external
  public_name = EXTERNAL
  server_param2 = ${{certextract{{subject,CN}}{{$tls_in_peercert}}}}
  server_condition = ${{if def:tls_in_peercert{{yes}}{{no}}}}
  server_set_id = $auth2
  server_advertise_condition = ${{if eq{{$received_port}}{{{mech}}}{{yes}}{{no}}}}
"""


@contextlib.contextmanager
def _exim(base: Path, pki: LabPKI, password: str) -> Iterator[tuple[LabInfo, str]]:
    """Exim 4.96 (Debian's binary, tests/realpeers/peers.py's EXIM_BIN) with one listener per LISTENERS
    entry; yields (a LabInfo naming every listener as "ex-<name>", the version)."""
    import grp
    import pwd

    from tests.realpeers import peers

    ex = base / "exim"
    uid, gid = pwd.getpwnam(peers.EXIM_USER).pw_uid, grp.getgrnam(peers.EXIM_USER).gr_gid
    for d in (ex / "spool", ex / "log", ex / "tls"):
        d.mkdir(parents=True)
        os.chown(d, uid, gid)
    ports = {n: peers.free_port() for n in LISTENERS}
    files = {}
    for kind in ("good", "expired", "wrong-name", "self-signed", "missing-intermediate"):
        cert, key = pki.files(kind)
        files[kind] = (shutil.copy(cert, ex / "tls" / cert.name), shutil.copy(key, ex / "tls" / key.name))
        os.chown(files[kind][1], uid, gid)
    cert_of = {ports[k]: files[k] for k in ("expired", "wrong-name", "self-signed", "missing-intermediate")}
    certmap, keymap = ex / "certmap", ex / "keymap"
    certmap.write_text("".join(f"{p}: {c}\n" for p, (c, _) in cert_of.items())
                       + f"{ports['broken']}: {files['good'][0]}\n")
    keymap.write_text("".join(f"{p}: {k}\n" for p, (_, k) in cert_of.items())
                      + f"{ports['broken']}: {files['expired'][1]}\n")
    conf = ex / "exim.conf"
    conf.write_text(EXIM_CONF.format(
        exim=peers.EXIM_BIN, base=ex, host=HOST, all_ports=" : ".join(str(p) for p in ports.values()),
        certmap=certmap, keymap=keymap, good_cert=files["good"][0], good_key=files["good"][1], user="alice",
        password=password, **{k.replace("-", "_"): v for k, v in ports.items()}))
    conf.chmod(0o640)
    os.chown(conf, 0, gid)
    log = ex / "exim-daemon.log"
    daemon = peers.Daemon.start([str(peers.EXIM_BIN), "-C", str(conf), "-bdf", "-q1m"], log)
    try:
        try:
            for name, port in ports.items():
                peers.wait_for_banner(port, daemon.proc, log, tls=name == "smtps")
        except (RuntimeError, TimeoutError) as exc:
            raise type(exc)(f"{exc}{peers._log_tail(ex / 'log' / 'paniclog')}{peers._log_tail(ex / 'log' / 'mainlog')}"
                            ) from exc
        version = peers.run([str(peers.EXIM_BIN), "-C", str(conf), "-bV"]).splitlines()[0].split()[2]
        holder = _hold(ports["busy"])
        servers = {f"ex-{n}": LabServer(f"ex-{n}", HOST, p) for n, p in ports.items()}
        try:
            yield LabInfo(HOST, pki.ca_file, base, user="alice", password=password, hostile=servers), \
                f"Exim {version} (GnuTLS)"
        finally:
            holder.close()
    finally:
        daemon.stop()


DOVECOT_SUBMISSION_CONF = """\
# Dovecot's submission service as a small deployment runs it: STARTTLS on 587 and implicit TLS on 465, no
# plaintext AUTH outside TLS, mail relayed into the local Postfix.
protocols = submission
listen = {host}
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
hostname = mail.example.test
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
submission_relay_host = {host}
submission_relay_port = {relay}
submission_relay_trusted = yes
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = {submission}
  }}
  inet_listener submissions {{
    port = {smtps}
    ssl = yes
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={base}/mail/%u
}}
mail_location = maildir:~/Maildir
"""


@contextlib.contextmanager
def _dovecot(base: Path, pki: LabPKI, password: str, relay_port: int) -> Iterator[tuple[LabInfo, str]]:
    """Dovecot's submission service (dovecot-submissiond); yields (a LabInfo naming "dv-submission" and
    "dv-smtps", the version)."""
    from tests.realpeers import peers

    base.mkdir(parents=True)
    (base / "mail").mkdir()
    shutil.chown(base / "mail", "nobody", "nogroup")  # the submission process runs as the user (nobody)
    users = base / "users"
    users.write_text(f"alice:{{PLAIN}}{password}\n")
    users.chmod(0o640)
    shutil.chown(users, "root", "dovecot")
    cert, key = pki.files("good")
    ports = {"submission": peers.free_port(), "smtps": peers.free_port()}
    conf = base / "dovecot.conf"
    conf.write_text(DOVECOT_SUBMISSION_CONF.format(host=HOST, base=base, cert=cert, key=key, relay=relay_port,
                                                   users=users, **ports))
    log = base / "dovecot.log"
    daemon = peers.Daemon.start([peers.DOVECOT, "-F", "-c", str(conf)], base / "dovecot.out")
    try:
        try:
            for name, port in ports.items():
                peers.wait_for_banner(port, daemon.proc, log, tls=name == "smtps")
        except (RuntimeError, TimeoutError) as exc:
            raise type(exc)(f"{exc}{peers._log_tail(base / 'dovecot.out')}") from exc
        servers = {f"dv-{n}": LabServer(f"dv-{n}", HOST, p) for n, p in ports.items()}
        yield (LabInfo(HOST, pki.ca_file, base, user="alice", password=password, hostile=servers),
               f"Dovecot {peers.run([peers.DOVECOT, '--version']).split()[0]} submission")
    finally:
        daemon.stop()


# --- the run ----------------------------------------------------------------------------------------------

def capture4(workers: int = 4, only: str = "", scenarios: str = "", servers: str = "postfix,exim,dovecot-submission,lab"
             ) -> list[dict[str, object]]:
    wanted = {s for s in ALL_4 if (not scenarios or s.id in scenarios.split(",")) and server_of(s) in servers}
    work_root = Path(tempfile.mkdtemp(prefix="smtp-doctor-corpus4-"))
    work_root.chmod(0o755)  # Postfix's and Exim's own users must reach their folders inside it
    try:
        with run_lab_in_thread(work_root / "lab") as lab, scripted_in_thread(work_root / "scripted") as scripted:
            pki = LabPKI(work_root / "pki4")
            with _postfix(work_root / "pf", pki) as (pf, pf_version), \
                    _exim(work_root / "ex", pki, lab.password) as (ex, ex_version), \
                    _dovecot(work_root / "dv", pki, lab.password, pf.hostile["pf-relay-in"].port) as (dv, dv_version):
                blocklisted = next(s for s in SCENARIOS_LAB if s.id == "blocklisted").server
                scripted_lab = dataclasses.replace(lab, ca_file=scripted[0], hostile={
                    **lab.hostile, blocklisted: LabServer(blocklisted, HOST, scripted[1][blocklisted])})
                capture._build_compiled(work_root, lab.ca_file)
                capture3._build_more(work_root, {scripted[0], pki.ca_file})
                infos = {"postfix": pf, "exim": ex, "dovecot-submission": dv}
                server_versions = {"postfix": pf_version, "exim": ex_version, "dovecot-submission": dv_version,
                                   "lab": "smtp-doctor lab (aiosmtpd)"}
                jobs = [(v, s) for s in ALL_4 if s in wanted for v in VARIANTS_BY_SERVER[server_of(s)]
                        if not _skipped(v, s) and (not only or only in v.variant)]
                variants = {v.variant: v for v, _ in jobs}
                versions = {name: capture._version(v) for name, v in variants.items()}

                def one(job: tuple[Variant, Scenario]) -> dict[str, object]:
                    v, s = job
                    srv = server_of(s)
                    info = infos.get(srv) or (scripted_lab if s.id == "blocklisted" else lab)
                    case = capture.run_one(info, v, s, work_root)
                    case["server"] = srv
                    case["listener"] = s.server  # which listener (LISTENERS) or lab server played the scenario
                    case["server_version"] = server_versions[srv]
                    return case

                with ThreadPoolExecutor(max_workers=workers) as pool:
                    cases = list(pool.map(one, jobs))
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    by_key = {(server_of(s), s.id): s for s in ALL_4}
    failed = [c for c in cases if any(m in str(c["text"]) for m in HARNESS_FAILED)]
    if failed:
        print(f"dropped {len(failed)} runs where the harness failed", file=sys.stderr)
        cases = [c for c in cases if c not in failed]
    for case in cases:
        case["text"] = str(case["text"]).replace(str(work_root), "<work>")
        s = by_key[(str(case["server"]), str(case["scenario"]))]
        case.update(capture3.label3(s, str(case["client"]), str(case["variant"]), case["exit_code"]))  # type: ignore[arg-type]
        case["version"] = versions[str(case["variant"])]
    return cases


def summary(cases: list[dict[str, object]]) -> str:
    out = [f"{len(cases)} cases"]
    for key in ("server", "scenario", "client", "expect"):
        counts = collections.Counter(str(c[key]) for c in cases)
        out.append(f"by {key}: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    versions = collections.Counter(f"{c['variant']} ({c['version']})" for c in cases)
    out.append("by variant: " + ", ".join(f"{k} {n}" for k, n in sorted(versions.items())))
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write tests/corpus/explain/cases4.json")
    ap.add_argument("--only", default="", help="only the variants whose name contains this (a trial run)")
    ap.add_argument("--scenarios", default="", help="only these scenarios (comma-separated; a trial run)")
    ap.add_argument("--servers", default="postfix,exim,dovecot-submission,lab", help="only these servers (a trial run)")
    ap.add_argument("--show", action="store_true", help="print every text whole (a trial run)")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    t0 = time.monotonic()
    cases = capture4(args.workers, args.only, args.scenarios, args.servers)
    if args.write:
        CASES_4.write_text(json.dumps({"cases": cases}, indent=1, ensure_ascii=False) + "\n")
    if args.show:
        for c in cases:
            print(f"=== {c['server']} {c['scenario']} {c['variant']} exit={c['exit_code']}\n{c['text']}")
    for c in cases:
        head = str(c["text"]).strip().splitlines()[-1:] or [""]
        print(f"{c['server']:8} {c['scenario']:22} {c['variant']:28} exit={c['exit_code']} {c['expect']:24} "
              f"{head[0][:70]}")
    print(summary(cases), file=sys.stderr)
    print(f"{time.monotonic() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
