"""`config --for`: values from the command line can never break out of their string or add a setting (issue 17).

Each framework's writer gets hostile values (quotes, newlines, backslashes, ``#``, ``${…}``, ``<?php``, an ESC,
a bidi override …). Either the value is refused with one line and exit 2 — only where the syntax cannot hold it
— or the written config is read back by smtp-doctor's own reader AND, where installed, by the real interpreter
of that syntax (ruby, python3, node, msmtp --pretend, bash for dotenv): the value read back is the value given,
and the keys are exactly those of the same config written with harmless values.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smtp_doctor.cli import cli
from smtp_doctor.errors import ExitCode, UserError
from smtp_doctor.lab import LabInfo
from smtp_doctor.readers import read_file
from smtp_doctor.writers.config import Written, write_config, writers

HOSTILE = [
    "o'brien@example.com", 'say "hi"@example.com', "back\\slash", "ends-with\\", "hash#tag", "${HOME}", "$(id)",
    "`id`", "#{`id`}", "<?php system('id'); ?>", "x', address: 'evil.example', y: '", 'x", EVIL="1', "{user}",
    "{ca_file_q}", " padded ", '"quoted"', "ünïcode コード", "a\\'b", "line\nEVIL=1", "tab\there", "esc\x1b[2J",
    "rlo\u202etxt", "nul-free\x7f", "ls\u2028sep",
    "12345", "\u00b2",  # digits stay a string (a numeric login is not a port); "²" passes isdigit(), not int()
]
FRAMEWORKS = sorted(writers())
SYNTAX = {"actionmailer": "ruby", "gitlab": "ruby", "django": "python", "nodemailer": "js", "msmtp": "msmtprc",
          "mastodon": "dotenv", "laravel": "dotenv", "flask_mail": "python", "symfony": "dsn",
          "spring": "properties"}
INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _refusal_allowed(framework: str, value: str) -> bool:
    """Where a syntax cannot hold a value, and only there, the writer may refuse it."""
    invisible = any(unicodedata.category(c) in INVISIBLE for c in value)
    kind = SYNTAX[framework]
    if kind == "ruby":  # double quotes hold \n \t \r \e; nothing else invisible
        return any(unicodedata.category(c) in INVISIBLE and c not in "\n\t\r\x1b" for c in value)
    if kind == "js":
        return False
    if framework == "flask_mail":  # repr holds anything, and Flask-Mail has no CA to write
        return False
    if kind == "python":  # repr holds anything; its SSL_CERT_FILE environment line is dotenv
        return _dotenv_refuses("/ca/" + value)
    if kind == "dsn":  # the user percent-encoded in the URL; the CA is an SSL_CERT_FILE environment line
        return invisible or _dotenv_refuses("/ca/" + value)
    if kind == "properties":  # no CA key; a backslash escapes, ${ is a placeholder, ASCII only, no blank ends
        return invisible or "\\" in value or "${" in value or value != value.strip() or not value.isascii()
    if kind == "msmtprc":
        return invisible
    return _dotenv_refuses(value) or _dotenv_refuses("/ca/" + value)


def _dotenv_refuses(value: str) -> bool:
    if any(unicodedata.category(c) in INVISIBLE for c in value):
        return True
    return "\\" in value or ("'" in value and any(c in value for c in '"$`'))


def _write(framework: str, user: str, ca: str, host: str = "smtp.example.test") -> Written:
    return write_config(framework, host, 587, "starttls", user=user, sender=user, ca_file=ca, mechanism="plain")


def _read_back(tmp: Path, framework: str, w: Written) -> dict[str, Any]:
    path = tmp / Path(w.file).name
    path.write_text(w.text, encoding="utf-8")
    configs = [c for c in read_file(path, framework=framework) if c.framework == framework]
    assert configs, w.text  # msmtp: the account, then `account default` inheriting it (as `config` reads it)
    return {k: v.value for k, v in configs[0].values.items()}


# --- the real interpreters ----------------------------------------------------------------------------------

RUBY_RAILS = r"""
require 'json'
class AM; attr_accessor :delivery_method, :smtp_settings; end
class Cfg; def action_mailer; @am ||= AM.new; end; end
class App; def config; @c ||= Cfg.new; end; def configure(&b); instance_eval(&b); end; end
module Rails; def self.application; @app ||= App.new; end; end
load ARGV[0]
settings = Rails.application.config.action_mailer.smtp_settings
puts JSON.generate(settings.transform_values { |v| v.is_a?(Symbol) ? v.to_s : v })
"""
RUBY_GITLAB = r"""
require 'json'
gitlab_rails = {}
eval(File.read(ARGV[0]), binding, ARGV[0])
puts JSON.generate(gitlab_rails)
"""
PYTHON_SANDBOX = r"""
import json, sys, types
env = types.SimpleNamespace(environ={"SMTP_PASSWORD": "x"})
scope = {"__builtins__": {"__import__": lambda name, *a, **k: env}}
exec(compile(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1], "exec"), scope)
print(json.dumps({k: v for k, v in scope.items() if k.isupper()}))
"""
NODE_STUB = r"""
const fs = require('fs');
const read = fs.readFileSync;  // the module loader reads sources with an encoding; the config without one
fs.readFileSync = (p, enc) => (enc === undefined ? 'CA:' + p : read(p, enc));
const o = require(process.argv[1]);
console.log(JSON.stringify(o));
"""


PHP_DSN = r"""
require_once '/usr/share/php/Symfony/Component/Mailer/autoload.php';
preg_match('/^MAILER_DSN=(.*)$/m', file_get_contents($argv[1]), $m);
$d = Symfony\Component\Mailer\Transport\Dsn::fromString($m[1]);
echo json_encode(['scheme' => $d->getScheme(), 'user' => $d->getUser(), 'host' => $d->getHost(),
                  'port' => $d->getPort()]);
"""
JAVA_PROPS = r"""
import java.io.FileInputStream;
import java.util.Properties;
public class Props {
  public static void main(String[] a) throws Exception {
    Properties p = new Properties();
    try (FileInputStream in = new FileInputStream(a[0])) { p.load(in); }
    StringBuilder b = new StringBuilder("{");
    for (String k : p.stringPropertyNames()) {
      if (b.length() > 1) b.append(',');
      b.append(q(k)).append(':').append(q(p.getProperty(k)));
    }
    System.out.println(b.append('}'));
  }
  static String q(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
"""


def _java_props(tmp: Path) -> Path:
    """Props.class (compiled once per test folder): reads a .properties file with java.util.Properties."""
    out = tmp / "java-props"
    if not (out / "Props.class").exists():
        out.mkdir(exist_ok=True)
        (out / "Props.java").write_text(JAVA_PROPS)
        _run(["javac", "-d", str(out), str(out / "Props.java")])
    return out


def _run(cmd: list[str], **kw: Any) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False,
                       env={**os.environ, "SMTP_PASSWORD": "x", "LANG": "C.UTF-8"}, **kw)
    assert r.returncode == 0, (cmd, r.stdout, r.stderr)
    return r.stdout


def _interpreter(tmp: Path, framework: str, w: Written) -> dict[str, Any] | None:
    """The config as the real interpreter of its syntax reads it (keys flattened); None when not installed."""
    path = tmp / ("real-" + Path(w.file).name)
    path.write_text(w.text, encoding="utf-8")
    kind = SYNTAX[framework]
    if kind == "ruby":
        if not shutil.which("ruby"):
            return None
        _run(["ruby", "-c", str(path)])
        return dict(json.loads(_run(["ruby", "-e", RUBY_RAILS if framework == "actionmailer" else RUBY_GITLAB,
                                     str(path)])))
    if kind == "python":
        if not shutil.which("python3"):
            return None
        return dict(json.loads(_run(["python3", "-I", "-c", PYTHON_SANDBOX, str(path)])))
    if kind == "js":
        if not shutil.which("node"):
            return None
        stub = tmp / "node_modules" / "nodemailer"
        stub.mkdir(parents=True, exist_ok=True)
        (stub / "index.js").write_text("exports.createTransport = (o) => o;\n")
        js = tmp / "mailer.js"
        js.write_text(w.text, encoding="utf-8")
        _run(["node", "--check", str(js)])
        flat: dict[str, Any] = {}
        for k, v in json.loads(_run(["node", "-e", NODE_STUB, str(js)])).items():
            inner = v.items() if isinstance(v, dict) else ()
            flat.update({f"{k}.{k2}": v2[0] if isinstance(v2, list) and len(v2) == 1 else v2 for k2, v2 in inner}
                        if isinstance(v, dict) else {k: v})
        return flat
    if kind == "msmtprc":
        if not shutil.which("msmtp"):
            return None
        path.chmod(0o600)
        out = _run(["msmtp", "-C", str(path), "--pretend", "-t"], input="")
        return {k: v for k, _, v in (line.partition(" = ") for line in out.splitlines()) if _}
    if kind == "dsn":  # Symfony Mailer's own DSN parser (Debian's php-symfony-mailer)
        if not shutil.which("php") or not Path("/usr/share/php/Symfony/Component/Mailer").is_dir():
            return None
        return dict(json.loads(_run(["php", "-r", PHP_DSN, str(path)])))
    if kind == "properties":  # java.util.Properties.load, the format's reference reader
        if not shutil.which("javac") or not shutil.which("java"):
            return None
        return dict(json.loads(_run(["java", "-cp", str(_java_props(tmp)), "Props", str(path)])))
    if not shutil.which("bash"):  # dotenv: a POSIX shell reads every quoting this writer uses the same way
        return None
    script = 'set -a; . "$1"; env -0'
    out = _run(["bash", "--noprofile", "--norc", "-c", script, "bash", str(path)])
    before = set(_run(["bash", "--noprofile", "--norc", "-c", "env -0"]).split("\0"))
    return dict(e.partition("=")[::2] for e in out.split("\0") if e and e not in before)


# --- the tests ------------------------------------------------------------------------------------------------


def _markers(tmp: Path, framework: str) -> tuple[dict[str, str], set[str], dict[str, str], set[str]]:
    """Which keys hold the user / CA path, and every key, with harmless values (ours and the interpreter's)."""
    w = _write(framework, "USERMARK", "/ca/CAMARK")
    ours = _read_back(tmp, framework, w)
    real = _interpreter(tmp, framework, w) or {}

    def where(values: dict[str, Any]) -> dict[str, str]:
        return {k: ("user" if "USERMARK" in str(v) else "ca") for k, v in values.items()
                if ("USERMARK" in str(v) or "CAMARK" in str(v)) and "://" not in str(v)}  # not a whole DSN

    return where(ours), set(ours), where(real), set(real)


def _expected(kind: str, value: str, real_value: Any) -> str:
    return value if kind == "user" else ("CA:" if str(real_value).startswith("CA:") else "") + "/ca/" + value


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_hostile_values_read_back_exactly_or_are_refused(framework: str, tmp_path: Path) -> None:
    our_keys, all_ours, real_keys, all_real = _markers(tmp_path, framework)
    assert set(our_keys.values()) >= {"user"}, our_keys  # the reader sees the login
    written = refused = 0
    for value in HOSTILE:
        try:
            w = _write(framework, value, "/ca/" + value)
        except UserError as exc:
            assert exc.exit_code is ExitCode.USAGE and "\n" not in exc.message()
            assert value not in exc.message()  # never echoed: it may be hostile
            assert _refusal_allowed(framework, value), f"{framework} refused {value!r}, which its syntax can hold"
            refused += 1
            continue
        assert not _refusal_allowed(framework, value), f"{framework} wrote {value!r}, which it must refuse"
        assert "\x1b" not in w.text and "\u202e" not in w.text  # the printed config is inert on a terminal
        ours = _read_back(tmp_path, framework, w)
        assert set(ours) == all_ours, (value, w.text)  # no key added, none lost
        for key, kind in our_keys.items():
            assert ours[key] == _expected(kind, value, ours[key]), (key, value, w.text)
        real = _interpreter(tmp_path, framework, w)
        if real is not None:
            assert set(real) == all_real, (value, w.text)
            for key, kind in real_keys.items():
                assert real[key] == _expected(kind, value, real[key]), (key, value, w.text)
        written += 1
    assert written >= len(HOSTILE) // 2  # most hostile values are held, not refused


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_hostile_host_stays_the_host(framework: str, tmp_path: Path) -> None:
    """The host (and the domain written from it) is quoted like every other value."""
    host = "mx.o'hara\"x#y.example.test"
    try:
        w = _write(framework, "u@example.test", "/ca/x", host=host)
    except UserError:
        # a ' with a " cannot be written for every dotenv parser; a DSN's host is a bare host name or address
        assert SYNTAX[framework] in ("dotenv", "dsn")
        return
    ours = _read_back(tmp_path, framework, w)
    assert host in ours.values(), w.text
    real = _interpreter(tmp_path, framework, w)
    assert real is None or host in real.values(), (real, w.text)


def test_a_value_that_looks_like_a_placeholder_is_not_filled_in() -> None:
    w = _write("nodemailer", "{ca_file_q}", "/ca/x")
    assert "user: '{ca_file_q}'" in w.text


def test_only_a_plain_word_goes_into_a_template_unquoted() -> None:
    with pytest.raises(UserError) as exc:
        write_config("actionmailer", "smtp.example.test", 587, "starttls", mechanism="plain, address: 'evil'")
    assert exc.value.exit_code is ExitCode.USAGE


def test_a_tilde_path_is_refused_for_msmtp() -> None:
    """msmtp replaces a leading ~ in a file name with $HOME, so the path read back would not be the one given."""
    with pytest.raises(UserError):
        _write("msmtp", "u", "~/ca.pem")


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize(("framework", "user"), [("msmtp", "me\naccount evil"), ("laravel", "me\nMAIL_HOST=evil"),
                                                 ("mastodon", "a'b\"c")])
def test_the_command_refuses_in_one_line_with_exit_2(framework: str, user: str, lab: LabInfo) -> None:
    code, out = _cli("config", "--for", framework, lab.servers["starttls"].address, "--user", user,
                     "--ca-file", str(lab.ca_file))
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1 and "evil" not in out and "Traceback" not in out


@pytest.mark.parametrize("framework", ["actionmailer", "django", "nodemailer", "msmtp"])
def test_the_command_writes_a_hostile_login_that_reads_back_and_still_delivers(framework: str, lab: LabInfo,
                                                                               tmp_path: Path) -> None:
    user = "x', address: 'evil.example', y: '#{`id`}$(id)"
    code, out = _cli("config", "--for", framework, lab.servers["starttls"].address, "--user", user,
                     "--ca-file", str(lab.ca_file), "--json")
    doc = json.loads(out)
    # the address is still the lab's, not evil.example (django: the CA goes in the environment, which check
    # cannot see, so `config` trusts its own probe for that part and says so with needs_env)
    assert code == 0 and (doc["check"] == "delivered" or doc["needs_env"]), out
    w = Written(framework, doc["file"], doc["text"])
    assert user in _read_back(tmp_path, framework, w).values()
    real = _interpreter(tmp_path, framework, w)
    assert real is None or user in real.values()
