"""Start and stop real, unmodified mail servers (Postfix + Dovecot SASL, Exim) on 127.0.0.1.

Why here and not in the lab: these are other people's servers, configured the way deployments configure
them, so that smtp-doctor's verdicts can be checked against software nobody here wrote. Each instance
gets its own config, queue, spool, logs and mail store under one private directory, listens only on
ephemeral loopback ports, and is stopped (process group included) when the session ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trustme

HOST = "127.0.0.1"
MAIL_DOMAIN = "example.test"
SERVER_NAME = "mail.example.test"
CERT_NAMES = ("localhost", HOST, "::1", SERVER_NAME)

def sbin(name: str) -> str:
    """Absolute path of a daemon/admin program, also where PATH lacks the sbin directories."""
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") or name


POSTFIX, POSTCONF, DOVECOT = sbin("postfix"), sbin("postconf"), sbin("dovecot")
EXIM_BIN = Path(os.environ.get("SMTP_DOCTOR_EXIM", "/opt/smtp-doctor-peers/exim4/usr/sbin/exim4"))
EXIM_USER = "Debian-exim"  # compiled into Debian's binary; created by scripts/install-system-deps.sh
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Listener:
    """How one port is configured (the intent, which the smoke tests check against the real server).

    tls: "starttls-required" | "starttls-optional" | "implicit"; cert: "valid" | "expired";
    auth: "after-tls" (AUTH advertised only once TLS is up), "before-tls" (also in clear), "none".
    """

    port: int
    tls: str
    cert: str
    auth: str


@dataclass
class RealPeer:
    """What a test needs to talk to one running real server."""

    name: str  # "Postfix", "Exim"
    version: str  # e.g. "3.7.11"
    host: str
    listeners: dict[str, Listener]  # by role: "submission", "smtps", "smtp"
    ca_file: Path
    user: str
    password: str = field(repr=False)  # a throw-away secret, still kept out of reprs and logs
    mail_dir: Path  # maildirs of the test domain's users: <mail_dir>/<local part>/new/*
    domain: str = MAIL_DOMAIN
    server_name: str = SERVER_NAME
    log_file: Path | None = None
    components: dict[str, str] = field(default_factory=dict)  # e.g. {"Dovecot": "2.3.19.1"}

    @property
    def ports(self) -> dict[str, int]:
        return {role: lst.port for role, lst in self.listeners.items()}

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def address(self) -> str:
        """The test user's mail address in the domain the server delivers locally."""
        return f"{self.user}@{self.domain}"

    def delivered(self, local_part: str | None = None) -> list[Path]:
        """Messages delivered so far into ``local_part``'s maildir (default: the test user)."""
        new = self.mail_dir / (local_part or self.user) / "new"
        return sorted(new.iterdir()) if new.is_dir() else []

    def wait_for_delivery(self, needle: str, timeout: float = 20.0) -> Path:
        """The delivered message containing ``needle``; polls with a deadline (delivery is async)."""
        deadline = time.monotonic() + timeout
        while True:
            for path in self.delivered():
                if needle in path.read_text(errors="replace"):
                    return path
            if time.monotonic() > deadline:
                raise TimeoutError(f"no message containing {needle!r} in {self.mail_dir} after {timeout}s"
                                   f"{_log_tail(self.log_file)}")
            time.sleep(0.1)


@dataclass
class PeerPKI:
    """One test CA for the whole tier; server certificates name localhost, 127.0.0.1, ::1 and SERVER_NAME."""

    directory: Path
    ca: trustme.CA = field(init=False)
    ca_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="smtp-doctor real-peers CA", key_type=trustme.KeyType.RSA)
        self.ca_file = self.directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def issue(self, kind: str) -> tuple[Path, Path]:
        """(certificate chain PEM, private key PEM) for kind "valid" or "expired"."""
        if kind == "valid":
            leaf = self.ca.issue_cert(*CERT_NAMES, key_type=trustme.KeyType.RSA)
        elif kind == "expired":
            leaf = self.ca.issue_cert(*CERT_NAMES, not_before=dt.datetime(2020, 1, 1),
                                      not_after=dt.datetime(2021, 1, 1), key_type=trustme.KeyType.RSA)
        else:
            raise ValueError(kind)
        cert, key = self.directory / f"{kind}-cert.pem", self.directory / f"{kind}-key.pem"
        cert.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        key.chmod(0o600)
        return cert, key


# --- small process helpers ---------------------------------------------------------------------------

def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- " + str(path) + " (tail) ---\n" + "\n".join(tail)


def run(argv: list[str], timeout: float = 30.0) -> str:
    """Runs a short admin command (postconf, exim -bV); its output, or an error with that output."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stdout}{done.stderr}")
    return done.stdout


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited {proc.returncode} before creating {path}{_log_tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} not created within {timeout}s{_log_tail(log)}")
        time.sleep(0.05)


def wait_for_banner(port: int, proc: subprocess.Popen[bytes], log: Path, tls: bool = False,
                    ca_file: Path | None = None, timeout: float = START_TIMEOUT) -> str:
    """Polls until the server on ``port`` greets (over TLS for implicit-TLS ports); returns the banner."""
    import ssl

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited {proc.returncode} during start-up{_log_tail(log)}")
        try:
            with socket.create_connection((HOST, port), timeout=2.0) as raw:
                raw.settimeout(5.0)
                sock: socket.socket = raw
                if tls:
                    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE  # start-up check only; the smoke tests verify
                    sock = ctx.wrap_socket(raw, server_hostname=HOST)
                data = b""
                while b"\r\n" not in data and len(data) < 4096:
                    chunk = sock.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"220"):
                    return data.decode(errors="replace").strip()
                last = RuntimeError(f"unexpected greeting {data!r}")
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"no 220 greeting on {HOST}:{port} within {timeout}s ({last}){_log_tail(log)}")


@dataclass
class Daemon:
    """A foreground server process in its own process group, with a bounded stop."""

    proc: subprocess.Popen[bytes]
    log: Path
    graceful: Callable[[], None] | None = None

    @classmethod
    def start(cls, argv: list[str], log: Path, env: dict[str, str] | None = None) -> Daemon:
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=env)
        return cls(proc, log)

    def stop(self) -> None:
        """Graceful stop (the server's own command, else SIGTERM to the leader), then SIGKILL stragglers."""
        if self.proc.poll() is None:
            try:
                if self.graceful is not None:
                    self.graceful()
                else:
                    self.proc.terminate()
                self.proc.wait(timeout=STOP_TIMEOUT)
            except (OSError, RuntimeError, subprocess.SubprocessError):
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # children that outlived their master, if any
        if self.proc.poll() is None:
            self.proc.wait(timeout=STOP_TIMEOUT)


# --- Postfix + Dovecot -------------------------------------------------------------------------------

POSTFIX_MASTER_CF = """\
# Listeners: only on 127.0.0.1, on ports picked at start-up. chroot = n everywhere: smtpd must reach the
# Dovecot socket and the maildirs, which live outside any chroot.
{host}:{smtp} inet n - n - - smtpd
{host}:{submission} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
{host}:{smtps} inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

POSTFIX_MAIN_CF = """\
# A submission server as deployments run it, confined to a private directory and loopback.
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
meta_directory = /etc/postfix
maillog_file = /dev/stdout
inet_interfaces = {host}
inet_protocols = ipv4
myhostname = {server_name}
mydomain = {server_name}
mydestination =
mynetworks =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
readme_directory = no
# Nothing ever leaves this instance: no local users, no outbound SMTP.
local_transport = error:local delivery is disabled in this test instance
default_transport = error:outbound mail is disabled in this test instance
relay_transport = error:outbound mail is disabled in this test instance
# The test domain is delivered into maildirs under {mail_dir}, owned by nobody.
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail_dir}
virtual_mailbox_maps = inline:{{ {{ {user}@{domain} = {user}/ }}, {{ postmaster@{domain} = postmaster/ }} }}
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
# TLS: the test CA's certificate; AUTH only once TLS is up.
smtpd_tls_chain_files = {key}, {cert}
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
# SASL: Dovecot's auth service (relative to queue_directory, so smtpd needs no path outside it).
smtpd_sasl_auth_enable = no
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
"""

DOVECOT_CONF = """\
# Dovecot as Postfix's SASL back end only: no IMAP/POP listeners.
protocols =
listen = {host}
base_dir = {base}/run
state_dir = {base}/state
log_path = /dev/stderr
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Answer failed logins at once: no 2 s pause, no growing per-IP penalty (anvil). The replies are the same;
# the tier stays fast although clients retry every mechanism and every test logs in from 127.0.0.1.
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {socket} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""


def _nobody() -> tuple[int, int]:
    return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid


def _mail_dir(path: Path, uid: int, gid: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, gid)
    path.chmod(0o750)
    return path


def start_postfix(base: Path, pki: PeerPKI, stack: list[Daemon]) -> RealPeer:
    """Dovecot (SASL) and Postfix with three listeners; appends both daemons to ``stack`` as they start."""
    pf, dv = base / "postfix", base / "dovecot"
    for d in (pf / "conf", pf / "data", pf / "queue", dv):
        d.mkdir(parents=True)
    (pf / "data").chmod(0o700)
    shutil.chown(pf / "data", "postfix", "postfix")
    uid, gid = _nobody()
    mail_dir = _mail_dir(pf / "mail", uid, gid)
    user, password = "alice", secrets.token_hex(12)
    cert, key = pki.issue("valid")
    ports = {"smtp": free_port(), "submission": free_port(), "smtps": free_port()}
    uid, gid = _nobody()

    # Dovecot first: its auth socket lives in Postfix's queue directory (private/ must exist and be
    # reachable by the postfix user; postfix start-fg creates the rest of the queue tree).
    private = pf / "queue" / "private"
    private.mkdir()
    shutil.chown(private, "postfix")
    private.chmod(0o700)
    users = dv / "users"
    users.write_text(f"{user}:{{PLAIN}}{password}\n")
    users.chmod(0o640)
    shutil.chown(users, "root", "dovecot")
    dovecot_conf = dv / "dovecot.conf"
    dovecot_conf.write_text(DOVECOT_CONF.format(host=HOST, base=dv, users=users, socket=private / "auth"))
    dovecot = Daemon.start([DOVECOT, "-F", "-c", str(dovecot_conf)], dv / "dovecot.log")
    stack.append(dovecot)
    wait_for_file(private / "auth", dovecot.proc, dovecot.log)

    conf = pf / "conf"
    (conf / "main.cf").write_text(POSTFIX_MAIN_CF.format(
        base=pf, host=HOST, server_name=SERVER_NAME, domain=MAIL_DOMAIN, mail_dir=mail_dir, user=user,
        uid=uid, gid=gid, key=key, cert=cert))
    (conf / "master.cf").write_text(POSTFIX_MASTER_CF.format(host=HOST, **ports))
    log = pf / "postfix.log"
    postfix = Daemon.start([POSTFIX, "-c", str(conf), "start-fg"], log)

    def postfix_stop() -> None:
        run([POSTFIX, "-c", str(conf), "stop"], timeout=STOP_TIMEOUT)

    postfix.graceful = postfix_stop
    stack.append(postfix)
    listeners = {
        "submission": Listener(ports["submission"], "starttls-required", "valid", "after-tls"),
        "smtps": Listener(ports["smtps"], "implicit", "valid", "after-tls"),
        "smtp": Listener(ports["smtp"], "starttls-optional", "valid", "none"),
    }
    for lst in listeners.values():
        wait_for_banner(lst.port, postfix.proc, log, tls=lst.tls == "implicit")
    return RealPeer(
        name="Postfix", version=run([POSTCONF, "-c", str(conf), "-h", "mail_version"]).strip(),
        host=HOST, listeners=listeners, ca_file=pki.ca_file, user=user, password=password,
        mail_dir=mail_dir, log_file=log,
        components={"Dovecot": run([DOVECOT, "--version"]).split()[0]})


# --- Exim ----------------------------------------------------------------------------------------------

EXIM_CONF = """\
# Exim (Debian's exim4-daemon-light binary, GnuTLS) misconfigured the way small servers often are:
# AUTH PLAIN/LOGIN advertised before STARTTLS, and an expired certificate on two of its ports.
primary_hostname = {server_name}
# The binary is not at its compiled-in path (see scripts/install-system-deps.sh): re-exec this one.
exim_path = {exim}
never_users = root
keep_environment =
spool_directory = {base}/spool
log_file_path = {base}/log/%slog
pid_file_path = {base}/exim.pid
local_interfaces = {host}
daemon_smtp_ports = {submission} : {smtps} : {smtp}
daemon_startup_retries = 0
tls_on_connect_ports = {smtps}
tls_advertise_hosts = *
tls_certificate = ${{if ={{$received_port}}{{{submission}}}{{{valid_cert}}}{{{expired_cert}}}}}
tls_privatekey = ${{if ={{$received_port}}{{{submission}}}{{{valid_key}}}{{{expired_key}}}}}
auth_advertise_hosts = *
host_lookup =
rfc1413_hosts =
domainlist local_domains = {domain}
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept domains = +local_domains
         local_parts = {user} : postmaster
  deny   message = relay not permitted

begin routers
test_domain:
  driver = accept
  domains = +local_domains
  local_parts = {user} : postmaster
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = {mail_dir}/$local_part_data/
  maildir_format
  create_directory
  # Re-exec'd deliveries run with -C and so without root: deliver as the Exim user itself.
  user = {exim_user}
  mode = 0600

begin retry
*   *   F,1m,10s

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${{if and{{{{eq{{$auth2}}{{{user}}}}}{{eq{{$auth3}}{{{password}}}}}}}}}
  server_set_id = $auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = ${{if and{{{{eq{{$auth1}}{{{user}}}}}{{eq{{$auth2}}{{{password}}}}}}}}}
  server_set_id = $auth1
"""


def start_exim(base: Path, pki: PeerPKI, stack: list[Daemon]) -> RealPeer:
    """Exim with AUTH before TLS and expired certificates; appends the daemon to ``stack``."""
    ex = base / "exim"
    uid, gid = pwd.getpwnam(EXIM_USER).pw_uid, grp.getgrnam(EXIM_USER).gr_gid
    for d in (ex / "spool", ex / "log"):
        d.mkdir(parents=True)
        os.chown(d, uid, gid)
    mail_dir = _mail_dir(ex / "mail", uid, gid)
    user, password = "alice", secrets.token_hex(12)
    valid_cert, valid_key = pki.issue("valid")
    expired_cert, expired_key = pki.issue("expired")
    for k in (valid_key, expired_key):  # read by the receiving process, which runs as the Exim user
        os.chown(k, uid, gid)
    ports = {"submission": free_port(), "smtps": free_port(), "smtp": free_port()}
    conf = ex / "exim.conf"
    conf.write_text(EXIM_CONF.format(
        server_name=SERVER_NAME, exim=EXIM_BIN, exim_user=EXIM_USER, base=ex, host=HOST, domain=MAIL_DOMAIN,
        mail_dir=mail_dir, user=user,
        password=password, valid_cert=valid_cert, valid_key=valid_key, expired_cert=expired_cert,
        expired_key=expired_key, **ports))
    conf.chmod(0o640)  # re-exec'd deliveries read it as the Exim user (holds only throw-away test secrets)
    os.chown(conf, 0, gid)
    log = ex / "exim-daemon.log"
    daemon = Daemon.start([str(EXIM_BIN), "-C", str(conf), "-bdf", "-q1m"], log)
    stack.append(daemon)
    listeners = {
        "submission": Listener(ports["submission"], "starttls-optional", "valid", "before-tls"),
        "smtps": Listener(ports["smtps"], "implicit", "expired", "after-tls"),
        "smtp": Listener(ports["smtp"], "starttls-optional", "expired", "before-tls"),
    }
    try:
        for lst in listeners.values():
            wait_for_banner(lst.port, daemon.proc, log, tls=lst.tls == "implicit")
    except (RuntimeError, TimeoutError) as exc:  # Exim says why in its own logs, not on stderr
        raise type(exc)(f"{exc}{_log_tail(ex / 'log' / 'paniclog')}{_log_tail(ex / 'log' / 'mainlog')}") from exc
    version_line = run([str(EXIM_BIN), "-C", str(conf), "-bV"]).splitlines()[0]  # "Exim version 4.96 #2 ..."
    return RealPeer(
        name="Exim", version=version_line.split()[2], host=HOST, listeners=listeners, ca_file=pki.ca_file,
        user=user, password=password, mail_dir=mail_dir, log_file=ex / "log" / "mainlog")
