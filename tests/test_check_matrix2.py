"""The check/fix matrix, second part (issue 12): the frameworks check reads that matrix.toml had no real run for.

tests/fixtures/check/matrix2.toml holds NEW configurations for Symfony Mailer, Mastodon and GitLab, with their own
dev / held-out split (sha256 of the id, recorded in the file and checked here). Each goes through
`smtp-doctor check --json`, then the real framework against the lab; fixable ones through `fix --write` and the
real framework again. The helpers (app folder, check, reading of the real text, agreement) are
test_check_matrix.py's, imported, so both matrices judge the same way.

The real frameworks: Symfony Mailer is Debian's php-symfony-mailer 5.4 (Transport::fromDsn, runners/
symfony_send.php). Mastodon and GitLab are their own SMTP mappings run in Ruby into Debian's ActionMailer 6.1:
Mastodon 4.2's config/email.yml (ERB + YAML) and Mastodon::EmailConfigurationHelper.smtp_settings;
omnibus-gitlab's smtp_settings.rb.erb (each gitlab_rails['smtp_<key>'] that is set becomes the <key> of
ActionMailer's smtp_settings, only when smtp_enable is true), with attributes/default.rb's smtp_ca_file default.

Version gap, said not hidden: Debian ships mail 2.7.1; check models current Mastodon (mail 2.9, which refuses
:tls with :enable_starttls, mikel/mail #1536) when no Gemfile.lock says otherwise, so a Mastodon cell where the
two mail versions differ disagrees here although check is right for current Mastodon.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.lab import LabInfo
from test_check_matrix import (
    SEND_ONE,
    TIMEOUT,
    Row,
    _agree,
    _check,
    _env_file,
    _half_of,
    _rate,
    _reading,
    _unsafe,
    _write_app,
    crash_text,
    other_ca,
)
from test_check_real import _delivered

__all__ = ["other_ca"]  # the fixture, imported so pytest finds it here

MATRIX = Path(__file__).parent / "fixtures" / "check" / "matrix2.toml"
DOC = tomllib.loads(MATRIX.read_text(encoding="utf-8"))
CELLS: list[dict[str, Any]] = DOC["cell"]
SYMFONY = Path(__file__).parent / "fixtures" / "check" / "runners" / "symfony_send.php"

#: Mastodon 4.2 config/email.yml (production) and EmailConfigurationHelper.smtp_settings, into ActionMailer
MASTODON = r'''
require "action_mailer"
require "yaml"
require "erb"
require "active_support/core_ext/hash/keys"
require "active_support/core_ext/object/blank"
File.readlines(ARGV[0], chomp: true).each do |line|  # dotenv: KEY=value, optional quotes, # comments
  next if line.strip.empty? || line.strip.start_with?("#")
  key, value = line.split("=", 2)
  next if value.nil?
  value = value.strip
  value = value[1..-2] if value.length >= 2 && %w[" '].include?(value[0]) && value[-1] == value[0]
  ENV[key.strip] = value unless ENV.key?(key.strip)  # Dotenv.load (dotenv-rails) never overrides a set variable
end
EMAIL_YML = <<~'YML'
  production:
    delivery_method: <%= ENV.fetch('SMTP_DELIVERY_METHOD', 'smtp') %>
    smtp_settings:
      port: <%= ENV.fetch('SMTP_PORT', nil) %>
      address: <%= ENV.fetch('SMTP_SERVER', nil) %>
      user_name: <%= ENV.fetch('SMTP_LOGIN', nil) %>
      password: <%= ENV.fetch('SMTP_PASSWORD', nil) %>
      domain: <%= ENV.fetch('SMTP_DOMAIN', ENV.fetch('LOCAL_DOMAIN', nil)) %>
      authentication: <%= ENV.fetch('SMTP_AUTH_METHOD', 'plain') %>
      ca_file: <%= ENV.fetch('SMTP_CA_FILE', '/etc/ssl/certs/ca-certificates.crt') %>
      openssl_verify_mode: <%= ENV.fetch('SMTP_OPENSSL_VERIFY_MODE', nil) %>
      enable_starttls: <%= ENV.fetch('SMTP_ENABLE_STARTTLS', nil) %>
      enable_starttls_auto: <%= ENV.fetch('SMTP_ENABLE_STARTTLS_AUTO', true) %>
      tls: <%= ENV.fetch('SMTP_TLS', false) %>
      ssl: <%= ENV.fetch('SMTP_SSL', false) %>
      read_timeout: 20
YML
def smtp_settings(config)
  enable_starttls = nil
  enable_starttls_auto = nil
  case config[:enable_starttls]
  when "always" then enable_starttls = true
  when "never" then enable_starttls = false
  when "auto" then enable_starttls_auto = true
  else enable_starttls_auto = config[:enable_starttls_auto] != "false"
  end
  authentication = config[:authentication] == "none" ? nil : (config[:authentication] || "plain")
  config.merge(authentication: authentication, enable_starttls: enable_starttls,
               enable_starttls_auto: enable_starttls_auto)
end
ActionMailer::Base.raise_delivery_errors = true
begin
  yml = YAML.load(ERB.new(EMAIL_YML).result).deep_symbolize_keys[:production]
  ActionMailer::Base.delivery_method = yml[:delivery_method].to_sym
  ActionMailer::Base.smtp_settings = smtp_settings(yml[:smtp_settings])
''' + SEND_ONE

#: gitlab.rb evaluated as omnibus does (a Ruby file of attribute assignments), then smtp_settings.rb.erb
GITLAB = r'''
require "action_mailer"
class GitLabRb  # gitlab.rb's own names; every other attribute (external_url, nginx[...]) is ignored
  attr_reader :gitlab_rails
  def initialize = (@gitlab_rails = {})
  def method_missing(*) = Hash.new { |h, k| h[k] = {} }
  def respond_to_missing?(*) = true
end
ActionMailer::Base.raise_delivery_errors = true
begin
  omnibus = GitLabRb.new
  omnibus.instance_eval(File.read(ARGV[0]), ARGV[0])
  # attributes/default.rb: smtp_ca_file defaults to the omnibus bundle (absent here, as on a host without it)
  GITLAB_RAILS = {"smtp_ca_file" => "/opt/gitlab/embedded/ssl/certs/cacert.pem"}.merge(omnibus.gitlab_rails)
  raise "smtp_enable is not true: GitLab uses sendmail" unless GITLAB_RAILS["smtp_enable"]
  keys = %w[address port user_name password domain authentication enable_starttls enable_starttls_auto tls ssl
            openssl_verify_mode ca_path ca_file open_timeout read_timeout]
  settings = {}
  keys.each { |k| v = GITLAB_RAILS["smtp_#{k}"]; settings[k.to_sym] = v unless v.nil? }
  ActionMailer::Base.delivery_method = :smtp
  ActionMailer::Base.smtp_settings = settings
''' + SEND_ONE


def test_the_split_is_the_recorded_one() -> None:
    ids = [c["id"] for c in CELLS]
    assert len(set(ids)) == len(ids) and not set(ids) & {
        c["id"] for c in tomllib.loads((MATRIX.parent / "matrix.toml").read_text(encoding="utf-8"))["cell"]}
    assert all(c["half"] == _half_of(c["id"]) for c in CELLS)
    assert {c["runner"] for c in CELLS if c["half"] == "heldout"} == {"symfony", "mastodon", "gitlab"}


def _available(runner: str) -> str | None:
    if runner == "symfony":
        if shutil.which("php") is None or not Path("/usr/share/php/Symfony/Component/Mailer").is_dir():
            return "php-symfony-mailer is not installed (scripts/install-system-deps.sh)"
        return None
    if shutil.which("ruby") is None or subprocess.run(
            ["ruby", "-e", 'require "action_mailer"'], capture_output=True, timeout=TIMEOUT).returncode:
        return "ruby-actionmailer is not installed (scripts/install-system-deps.sh)"
    return None


def _real(runner: str, app: Path, config: Path, env: dict[str, str], subject: str) -> str:
    """DELIVERED, ERROR <text>, or TIMEOUT: what the real framework did with the app folder as it is now."""
    base = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "MAILER_DSN")}
    if runner == "symfony":
        argv = ["php", str(SYMFONY), str(config), subject]
    else:
        script = app / "_app.rb"
        script.write_text(MASTODON if runner == "mastodon" else GITLAB)
        argv = ["ruby", str(script), str(config), subject]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
                              env=base | env, cwd=app)
    except subprocess.TimeoutExpired:
        return "TIMEOUT"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("DELIVERED", "ERROR "))]
    return lines[-1] if lines else "ERROR " + (crash_text(done.stderr) or "no output")


ROWS: dict[str, Row] = {}


@pytest.mark.parametrize("cell", CELLS, ids=[c["id"] for c in CELLS])
def test_matrix2_cell(cell: dict[str, Any], lab: LabInfo, tmp_path: Path, other_ca: str,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    if (why := _available(cell["runner"])) is not None:
        pytest.skip(why)
    if os.environ.get("SMTP_DOCTOR_MATRIX_HALF", cell["half"]) != cell["half"]:
        pytest.skip("the other half (SMTP_DOCTOR_MATRIX_HALF)")
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "MAILER_DSN"):
        monkeypatch.delenv(var, raising=False)  # the app's environment is the cell's, given with --env
    app = tmp_path / "app"
    config, env = _write_app(cell, lab, app, other_ca)
    code, doc = _check(config, _env_file(app, env))
    assert lab.password not in json.dumps(doc)
    configs = doc["configs"]
    pred = configs[0]["prediction"] if configs else None
    said = "unknown" if pred is None else "delivered" if pred["verdict"] == "delivered" else (
        "unknown" if pred["verdict"] == "unknown" else pred["failure"] or "unknown")
    subject = f"matrix2-{uuid.uuid4()}"
    real_text = _real(cell["runner"], app, config, env, subject)
    real = _reading(real_text)
    if real == "delivered":
        assert _delivered(lab, subject), real_text
    row = Row(cell["id"], cell["half"], cell["runner"], said, real, _agree(said, real), code, cell["fixable"])
    row.notes.append(real_text[:300])
    ROWS[cell["id"]] = row
    if cell["fixable"] and real != "delivered":
        fixed = tmp_path / "fixed"
        fconfig, fenv = _write_app(cell, lab, fixed, other_ca)
        result = CliRunner().invoke(cli, ["fix", str(fconfig), "--write", "--json", "--timeout", "15", "--ca-file",
                                          str(lab.ca_file), *_env_file(fixed, fenv)])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert result.exit_code in (0, 1, 3), result.output
        assert lab.password not in result.output
        fdoc = json.loads(result.output)["configs"][0]
        written = "".join(p.read_text(errors="replace") for p in fixed.rglob("*") if p.is_file()
                          and not p.name.startswith("_app"))
        original = "".join(p.read_text(errors="replace") for p in app.rglob("*") if p.is_file())
        row.fix_unsafe = (_unsafe(written) or "verify_peer=0" in written or "verify_peer=false" in written) and not (
            _unsafe(original) or "verify_peer=0" in original)
        subject2 = f"matrix2-fix-{uuid.uuid4()}"
        run_env = fenv | {line.split("=", 1)[0]: line.split("=", 1)[1] for line in fdoc.get("env", [])}
        after = _real(cell["runner"], fixed, fconfig, run_env, subject2)
        row.fix_delivers = after == "DELIVERED" and _delivered(lab, subject2)
        row.fix_claimed = bool(fdoc["delivers"])
        row.notes.append("fix: " + after[:200])


def test_matrix2_summary() -> None:
    if not ROWS:
        pytest.skip("no matrix2 cell ran")
    out: dict[str, dict[str, Any]] = {}
    for half in ("dev", "heldout"):
        rows = [r for r in ROWS.values() if r.half == half]
        out[half] = {"check_agree": list(_rate(rows, "agree")), "fix_delivers": list(_rate(rows, "fix_delivers")),
                     "false_delivered": [r.cell for r in rows if r.said == "delivered" and r.real != "delivered"],
                     "false_fix_claims": [r.cell for r in rows if r.fix_claimed and not r.fix_delivers],
                     "unsafe_fixes": [r.cell for r in rows if r.fix_unsafe],
                     "misses": {r.cell: [r.said, r.real, *r.notes] for r in rows if not r.agree},
                     "fix_misses": {r.cell: r.notes for r in rows if r.fix_delivers is False},
                     "by_runner": {runner: [*_rate([r for r in rows if r.runner == runner], "agree"),
                                            *_rate([r for r in rows if r.runner == runner], "fix_delivers")]
                                   for runner in sorted({r.runner for r in rows})}}
    report = Path(os.environ.get("SMTP_DOCTOR_MATRIX2_REPORT", "/tmp/smtp-doctor-matrix2.json"))
    report.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps({h: {k: o[k] for k in ("check_agree", "fix_delivers", "by_runner")} for h, o in out.items()}))
    for half, o in out.items():
        assert not o["false_delivered"] and not o["unsafe_fixes"], (half, o)
    held = out["heldout"]
    assert not held["false_fix_claims"], held
    floor = DOC["measured"]["heldout"]  # the one held-out measurement, a regression guard (never tuned on)
    agree, n = held["check_agree"]
    if n:
        assert agree * floor["check_agree"][1] >= floor["check_agree"][0] * n, held["misses"]
    delivers, fixes = held["fix_delivers"]
    if fixes:  # as a rate: a runner not installed here leaves fewer fix cases, never a lower share
        assert delivers * floor["fix_delivers"][1] >= floor["fix_delivers"][0] * fixes, held["fix_misses"]
