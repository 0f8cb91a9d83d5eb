#!/usr/bin/env bash
# Installs the Debian packages the test tiers need. Idempotent: each group is a small block that does
# nothing when its packages are already there, so a warm machine pays almost nothing. Others may append
# blocks; use the helpers below (apt_install, with_services_blocked) so `apt-get update` runs at most once.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/sbin:/sbin"  # useradd, postfix: root shells without sbin on PATH exist
SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive); fi
APT_UPDATED=0

# Prints the packages among "$@" that are not installed.
missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=120 update -qq; APT_UPDATED=1; fi
}

# apt_install PKG...: installs what is missing; refreshes the package lists only when they are empty,
# do not know a package, or an install from them fails (stale lists point at removed files).
apt_install() {
  local missing p
  missing=$(missing_pkgs "$@")
  [ -z "$missing" ] && return 0
  if ! ls /var/lib/apt/lists/*Packages* >/dev/null 2>&1; then apt_update_once; fi
  for p in $missing; do
    apt-cache show "$p" >/dev/null 2>&1 || apt_update_once
  done
  # shellcheck disable=SC2086
  if ! "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends $missing; then
    [ "$APT_UPDATED" -eq 1 ] && return 1
    apt_update_once
    # shellcheck disable=SC2086
    "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends $missing
  fi
}

# with_services_blocked CMD...: runs CMD with a policy-rc.d that forbids maintainer scripts to start
# daemons (an MTA package would otherwise start a system MTA on port 25). Leaves an existing policy alone.
with_services_blocked() {
  local policy=/usr/sbin/policy-rc.d made=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    made=1
  fi
  "$@" || rc=$?
  if [ "$made" -eq 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi
  return "$rc"
}

# --- real-peer tier (tests/realpeers, docs/dev/realpeers.md) -------------------------------------------
# Postfix + Dovecot (SASL only) + Exim as real servers; openssl s_client and swaks as real clients.
# postfix/main_mailer_type "No configuration": no /etc/postfix/main.cf, so no system instance can run;
# the tests start private instances with `postfix -c <tmp dir>`.
realpeers_install() {
  if [ -n "$(missing_pkgs postfix)" ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
  fi
  with_services_blocked apt_install postfix dovecot-core openssl swaks libnet-ssleay-perl \
    libio-socket-ssl-perl libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0 libdb5.3 \
    libcrypt1
  # Every Debian MTA Conflicts with every other (mail-transport-agent), so Exim cannot be installed next
  # to Postfix. Its package is unpacked into a private prefix instead (its libraries are installed above);
  # nothing is registered with dpkg and no daemon, user or init script is created.
  local prefix=/opt/smtp-doctor-peers/exim4
  if [ ! -x "$prefix/usr/sbin/exim4" ]; then
    local tmp
    tmp=$(mktemp -d)
    chmod 755 "$tmp"  # apt-get download drops to user _apt
    if ! (cd "$tmp" && apt-get download -qq exim4-daemon-light); then
      apt_update_once
      (cd "$tmp" && apt-get download -qq exim4-daemon-light)
    fi
    "${SUDO[@]}" mkdir -p "$prefix"
    "${SUDO[@]}" dpkg-deb -x "$tmp"/exim4-daemon-light_*.deb "$prefix"
    rm -rf "$tmp"
  fi
  # The binary looks up its compiled-in user at start, before reading any configuration; create it as
  # exim4-base's maintainer script would (a system user with no home and no shell).
  if ! getent passwd Debian-exim >/dev/null; then
    "${SUDO[@]}" useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin Debian-exim
  fi
  # Belt and braces: whatever a maintainer script may have started (where no policy-rc.d was honoured),
  # stop it, so no system MTA or Dovecot outlives the install.
  if [ -e /etc/postfix/main.cf ] && "${SUDO[@]}" postfix status >/dev/null 2>&1; then
    "${SUDO[@]}" postfix stop || true
  fi
  if [ -e /run/dovecot/master.pid ] && [ -x /etc/init.d/dovecot ]; then
    "${SUDO[@]}" /etc/init.d/dovecot stop || true
  fi
}
realpeers_install

# --- explain fixtures (tests/fixtures/errors/capture.py) ----------------------------------------------
# Ruby (its bundled net-smtp gem) as one more real client whose error texts are captured; curl, openssl
# and swaks come from the blocks above or the base image.
apt_install ruby curl openssl

# --- benchmark (bench/run.sh, docs/benchmarks.md) -------------------------------------------------------
# swaks, curl and openssl are the clients timed in the wrong mode; iproute2 gives `ip netns` and `tc` for
# the 50 ms RTT run.
apt_install swaks curl openssl iproute2 coreutils

# --- trust (tests/test_trust_*.py, docs/trust.md) ------------------------------------------------------
# Real clients whose CA lookup `smtp-doctor trust` predicts: Ruby (net/smtp) and Node (tls); openssl for
# `openssl rehash`. Node comes from the base image when present (any build); Debian's otherwise.
apt_install ruby openssl ca-certificates
command -v node >/dev/null 2>&1 || apt_install nodejs

# --- real clients against the real peers (tests/realpeers/test_clients.py, docs/compatibility.md) -------
# msmtp (GnuTLS), PHP's CLI (stream functions), Rails' ActionMailer (Debian's 6.1 with the mail gem),
# libnss-wrapper (resolves a name absent from the certificate to 127.0.0.1 for the "wrong host name"
# cases, per process, without touching /etc/hosts). Node's nodemailer comes from the npm registry,
# pinned, into a private prefix.
apt_install msmtp php-cli ruby-actionmailer libnss-wrapper curl swaks ruby
# the check/fix matrix's Symfony cells (tests/test_check_matrix2.py): the real Symfony Mailer (5.4).
apt_install php-symfony-mailer
# matrix 3 (tests/test_check_matrix3.py): Laravel 8's real mail stack (Illuminate\Mail + SwiftMailer 6)
apt_install php-laravel-framework
# audit's attacker lab (tests/test_audit_client.py): tcpdump captures the lab's loopback ports, so the
# report is checked against what really crossed the wire.
apt_install tcpdump
command -v node >/dev/null 2>&1 || apt_install nodejs
command -v npm >/dev/null 2>&1 || apt_install npm
# npm_pin PREFIX PACKAGE VERSION: installs PACKAGE@VERSION into PREFIX unless exactly that version is there.
npm_pin() {
  local prefix=$1 pkg=$2 version=$3
  if [ "$(grep -o '"version": *"[^"]*"' "$prefix/node_modules/$pkg/package.json" 2>/dev/null \
        | grep -o '[0-9][0-9.]*')" != "$version" ]; then
    "${SUDO[@]}" mkdir -p "$prefix"
    "${SUDO[@]}" npm install --silent --no-audit --no-fund --prefix "$prefix" "$pkg@$version"
  fi
}
npm_pin /opt/smtp-doctor-peers/node nodemailer 6.10.1
# a second major of nodemailer for the check/fix matrix (tests/test_check_matrix.py), pinned, own prefix
npm_pin /opt/smtp-doctor-peers/node10 nodemailer 10.6.1
# matrix 7b (tests/test_check_matrix7b.py): Node apps that load .env with the dotenv package
npm_pin /opt/smtp-doctor-peers/node dotenv 16.4.7
npm_pin /opt/smtp-doctor-peers/node10 dotenv 16.4.7
# a second Django major for matrix 3 (tests/test_check_matrix3.py), pinned, in its own venv; the test skips
# those configs when this could not be built (no python3 venv module, no registry)
django42=/opt/smtp-doctor-peers/django42
if ! "$django42/bin/python" -c 'import ssl, django; assert django.__version__ == "4.2.30"' 2>/dev/null; then
  { "${SUDO[@]}" "${PYTHON:-python3}" -m venv "$django42" && "${SUDO[@]}" "$django42/bin/pip" install -q django==4.2.30; } \
    || echo "install-system-deps: Django 4.2 venv not built; matrix 3 skips its django42 configs" >&2
fi
# matrix 7b: its Django 4.2 apps load settings with django-environ, python-decouple and python-dotenv
"$django42/bin/python" -c 'import environ, decouple, dotenv' 2>/dev/null \
  || "${SUDO[@]}" "$django42/bin/pip" install -q django-environ==0.14.0 python-decouple==3.8 python-dotenv==1.2.4 \
  || echo "install-system-deps: django-environ/decouple/dotenv not in the Django 4.2 venv" >&2

# --- check: real frameworks against the lab (tests/test_check_real.py, docs/check.md) -------------------
# Rails' ActionMailer from Debian (6.1 with mail 2.7 and Ruby's net-smtp); Django comes from the venv's
# `test` extra.
apt_install ruby ruby-actionmailer

# --- explain: a real Go app against the lab (tests/test_explain_go.py) ---------------------------------
# Go's net/smtp and crypto/tls word their failures their own way ("x509: certificate signed by unknown
# authority", "read tcp …: i/o timeout"); Debian's golang-go builds the small client offline.
command -v go >/dev/null 2>&1 || apt_install golang-go
# fix / config --for: `patch` applies the printed diff (tests/test_fix_real.py)
command -v patch >/dev/null 2>&1 || apt_install patch

# --- explain: a real Java app with Jakarta Mail against the lab (tests/test_explain_java.py) -------------
command -v javac >/dev/null 2>&1 || apt_install default-jdk-headless
apt_install libjakarta-mail-java
# check matrix 6c: the real Spring mail sender (JavaMailSenderImpl, Spring 4.3) over javax.mail 1.6.5, and
# SnakeYAML for application.yml (tests/test_check_matrix6c.py)
apt_install libspring-context-support-java libmail-java libyaml-snake-java

# --- domain: the DNSSEC lab and the DANE cross-check (src/smtp_doctor/lab/dns.py, tests/test_domain*.py) --
# NSD serves the lab's signed zones, Unbound validates them (one instance with the lab's root key, one
# without); ldns-dane (ldnsutils) and drill are the second DANE/DNSSEC implementation the tests agree with.
# Services blocked: both packages would otherwise start a system daemon on port 53.
with_services_blocked apt_install nsd unbound ldnsutils

# --- scan: the benchmark's farm served by nginx's mail module (src/smtp_doctor/lab/farm.py nginx_farm,
# bench/scan_bench.py, tests/test_scan.py). Services blocked: the package would start nginx on port 80.
with_services_blocked apt_install nginx-core libnginx-mod-mail
