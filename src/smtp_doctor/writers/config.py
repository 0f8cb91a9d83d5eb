"""A framework's mail config written from scratch for a probed server. Pure: facts in, text out.

The frame (file, first and last lines, host/port/user keys) is knowledge/writers.toml; the TLS mode, CA
and AUTH lines are the [[fix]] rows of knowledge/predict.toml, so a written config and a fixed one spell
every key the same way. The password is never written: the config reads it from the environment.

Values from the command line (host, login, sender, CA path) are quoted for the target syntax by
``literal`` — Ruby, Python and JavaScript string literals, dotenv and msmtprc arguments — and a value
that syntax cannot hold safely is refused with ``UserError`` (exit 2) instead of written: a quote, a
newline or ``${…}`` must never end a string early or add a setting of its own (issue 17).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from ..errors import ExitCode, UserError
from ..plan import framework_facts
from ..predict import fix_row, render_line

#: a placeholder in a writers.toml / predict.toml template: {host}, {user_q} …
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: what a value may be when it is put into a template unquoted (":{mechanism}", a port)
_BARE = re.compile(r"[\w.@:+-]*", re.ASCII)
#: dotenv values written without quotes: identical in Ruby's dotenv, phpdotenv and python-dotenv
_DOTENV_BARE = re.compile(r"[A-Za-z0-9._@:/+-]+")
#: Unicode categories that are never text in a setting: controls (newline, ESC …), format characters
#: (bidi overrides, zero-width), line/paragraph separators, surrogates (undecodable argv bytes)
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


@dataclass(frozen=True)
class Written:
    framework: str
    file: str  #: where it belongs in the app
    text: str
    env: tuple[str, ...] = ()  #: lines for the app's environment (SSL_CERT_FILE=… where the framework has no CA key)


@cache
def writers_knowledge() -> dict[str, Any]:
    """knowledge/writers.toml: the [writer.*] frames and the [[harden]] rows (remedy.py)."""
    text = (resources.files("smtp_doctor") / "knowledge" / "writers.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def writers() -> dict[str, dict[str, Any]]:
    return dict(writers_knowledge()["writer"])


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in _INVISIBLE


def _refuse(reason: str, key: str, syntax: str) -> UserError:
    """One line, exit 2; the value itself is never repeated (it may be hostile or a secret)."""
    return UserError(f"config.value.{reason}", ExitCode.USAGE, setting=key, syntax=syntax)


def _ruby(value: str, key: str) -> str:
    """Single quotes when nothing in the value needs an escape (``#{}`` is inert there); else double quotes
    with ``\\\\ \\" \\# \\n \\t \\r \\e`` (every ``#`` escaped, so no interpolation); other invisible
    characters are refused (the readers and a reader of the file would not see them)."""
    if not any(_invisible(c) or c in "\\'" for c in value):
        return "'" + value + "'"
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\\": "\\\\", '"': '\\"', "#": "\\#"}
    if any(_invisible(c) and c not in named for c in value):
        raise _refuse("invisible", key, "Ruby")
    return '"' + "".join(named.get(c, c) for c in value) + '"'


def _js(value: str) -> str:
    """Single quotes; every invisible character as ``\\uXXXX`` (a surrogate pair above U+FFFF)."""
    out = []
    for c in value:
        if c in "\\'":
            out.append("\\" + c)
        elif _invisible(c):
            code = ord(c)
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(c)
    return "'" + "".join(out) + "'"


def _dotenv(value: str, key: str) -> str:
    """Quoting that Ruby's dotenv (Mastodon), phpdotenv (Laravel) and python-dotenv all read back alike:
    bare when plain, else single quotes (no escapes, no ``${}``), else double quotes when nothing in the
    value is special there; a line break or a value needing escapes cannot be written for all three
    (read in bkeepers/dotenv lib/dotenv/parser.rb and vlucas/phpdotenv src/Parser/EntryParser.php)."""
    if any(_invisible(c) for c in value):
        raise _refuse("invisible", key, "dotenv")
    if _DOTENV_BARE.fullmatch(value):
        return value
    if "'" not in value and "\\" not in value:
        return "'" + value + "'"
    if not any(c in value for c in '"\\$`'):
        return '"' + value + '"'
    raise _refuse("dotenv_quotes", key, "dotenv")


def _msmtprc(value: str, key: str) -> str:
    """msmtp takes the rest of the line, trimmed, and strips one pair of enclosing double quotes; it has
    no escapes, so a line break cannot be written, and a file name starting with ``~`` means $HOME."""
    if any(_invisible(c) for c in value):
        raise _refuse("invisible", key, "msmtprc")
    if key.endswith("_file") and value.startswith("~"):
        raise _refuse("tilde", key, "msmtprc")
    if not value or value != value.strip() or (value[0] == '"' and value[-1] == '"'):
        return '"' + value + '"'
    return value


def _properties(value: str, key: str) -> str:
    """A Java .properties value as written: a backslash is an escape, ``${`` a Spring placeholder, blanks
    around the value are dropped by readers, and a file's encoding is ISO-8859-1 for Properties.load but
    UTF-8 for some Spring Boot versions, so those (and invisible characters) are refused, never mangled."""
    if (any(_invisible(c) for c in value) or "\\" in value or "${" in value or value != value.strip()
            or not value.isascii()):
        raise _refuse("properties", key, "properties")
    return value


def _dsn(w: dict[str, Any], values: dict[str, tuple[Any, bool]], host: str, user: str) -> str:
    """``MAILER_DSN=scheme://user:${SMTP_PASSWORD}@host:port``: the user percent-encoded (a DSN is a URL),
    the host as probed (bracketed when IPv6), the port always written (Symfony 5.4: no port = 465)."""
    scheme, port = values.get("scheme", ("", False))[0], values.get("port", ("", False))[0]
    if not re.fullmatch(r"[\w.:-]+", host, re.ASCII) or scheme not in ("smtp", "smtps") or not isinstance(port, int):
        raise _refuse("not_bare", "host", "dsn")
    if any(_invisible(c) for c in user):
        raise _refuse("invisible", "user", "dsn")
    where = f"[{host}]" if ":" in host else host
    return f"{w['dsn']}={scheme}://{quote(user, safe='')}:${{SMTP_PASSWORD}}@{where}:{port}"


def literal(value: str, syntax: str, key: str = "value") -> str:
    """``value`` as a string in ``syntax`` that reads back as exactly ``value``; UserError when it cannot."""
    if syntax in ("ruby_hash", "gitlab_rb"):
        return _ruby(value, key)
    if syntax == "python":
        return repr(value)  # a Python literal for any str: quotes, backslashes and controls escaped
    if syntax == "js_object":
        return _js(value)
    if syntax == "msmtprc":
        return _msmtprc(value, key)
    if syntax == "dotenv":
        return _dotenv(value, key)
    if syntax == "properties":
        return _properties(value, key)
    raise _refuse("unsupported", key, syntax)


def _fill(key: str, template: Any, params: dict[str, Any], syntax: str) -> tuple[Any, bool]:
    """A template filled in one pass (a value that itself looks like ``{user}`` stays text): ``(value,
    is_code)``. A lone ``{x}`` becomes a quoted literal (the port a number); ``{x_q}`` inside code is the
    quoted literal; any other value put into a template as it is must be a bare word."""
    if not isinstance(template, str):
        return template, False
    whole = _PLACEHOLDER.fullmatch(template)
    if whole and whole.group(1) in params:
        value = params[whole.group(1)]
        return (value, False) if isinstance(value, int) else (literal(str(value), syntax, key), True)

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.endswith("_q") and name[:-2] in params:
            return literal(str(params[name[:-2]]), syntax, key)
        if name not in params:
            return m.group(0)
        value = str(params[name])
        if not _BARE.fullmatch(value):
            raise _refuse("not_bare", key, syntax)
        return value

    return _PLACEHOLDER.sub(one, template), False


def _line(key: str, value: Any, syntax: str, code: bool = False) -> str:
    """One setting in the writer's syntax: predict.render_line's, plus msmtprc (``key value``, on/off) and a
    JavaScript object (written like a Ruby hash entry: ``key: 'value',``)."""
    if syntax == "msmtprc":
        return f"{key} {value if code or not isinstance(value, bool) else 'on' if value else 'off'}"
    return render_line(key, value, "ruby_hash" if syntax == "js_object" else syntax, code)


def _group(framework: str, w: dict[str, Any], group: str, port_mode: str) -> dict[str, Any] | None:
    """The lines for one part of the config: predict.toml's [[fix]] row (shared with `fix`), else the
    writer's own [writer.<id>.group.<name>] for frameworks `fix` has no rows for yet."""
    row = fix_row(framework, group, port_mode)
    return row if row is not None else w.get("group", {}).get(group)


def write_config(framework: str, host: str, port: int, port_mode: str, user: str | None = None,
                 sender: str | None = None, ca_file: str | None = None, mechanism: str | None = None) -> Written:
    """``port_mode`` is what the probe found (starttls / implicit_tls); ``ca_file`` only when the server
    verifies through it alone (a private CA); ``mechanism`` an AUTH mechanism the server offered.
    Raises UserError (exit 2) when a value cannot be written safely in the framework's syntax."""
    w = writers()[framework]
    syntax = w.get("syntax") or framework_facts(framework).get("syntax", "dotenv")
    domain = "example.com" if _is_ip(host) else host.split(".", 1)[1] if host.count(".") >= 2 else host
    params: dict[str, Any] = {"host": host, "port": int(port), "user": user or "you@" + domain,
                              "sender": sender or "app@" + domain, "domain": domain, "ca_file": ca_file or "",
                              "mechanism": mechanism or "",
                              "mechanism_name": (mechanism or "").upper().replace("_", "-")}
    values: dict[str, tuple[Any, bool]] = {k: _fill(k, v, params, syntax) for k, v in w["set"].items()}
    code: dict[str, Any] = {k: _fill(k, v, params, syntax)[0] for k, v in w.get("code", {}).items()}
    env: dict[str, tuple[Any, bool]] = {}
    groups = ["plain_port" if port_mode == "starttls" else "implicit_port"]
    groups += ["trust_ca"] if ca_file else []
    groups += ["auth_mechanism"] if mechanism else []
    for group in groups:
        row = _group(framework, w, group, port_mode)
        if row is not None:
            values.update({k: _fill(k, v, params, syntax) for k, v in row.get("set", {}).items()})
            code.update({k: _fill(k, v, params, syntax)[0] for k, v in row.get("code", {}).items()})
            env.update({k: _fill(k, v, params, "dotenv") for k, v in row.get("env", {}).items()})
    if w.get("dsn"):  # one URL holds every part (Symfony's MAILER_DSN)
        lines = [_dsn(w, values, host, str(params["user"]))]
    else:
        lines = [w["indent"] + _line(k, v, syntax, code=quoted) for k, (v, quoted) in values.items()]
        lines += [w["indent"] + _line(k, c, syntax, code=True) for k, c in code.items()]
    text = "\n".join([*w["head"], *lines, *w["tail"]]) + "\n"
    return Written(framework, w["file"], text,
                   tuple(render_line(k, v, "dotenv", code=quoted) for k, (v, quoted) in env.items()))
