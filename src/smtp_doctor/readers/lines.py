"""Line-oriented formats: Java ``.properties`` (Spring), INI (Gitea ``app.ini``, Grafana ``grafana.ini``),
Postfix ``main.cf`` and ``msmtprc``.

Each is a few rules of syntax, so a small tokenizer that keeps line and column beats a library that
forgets them (``configparser`` drops positions and rewrites keys to lower case).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..settings import Origin, RawConfig, RawValue, ValueKind
from ._common import Ev, add, finish, raw, syntax_error
from .yamlfile import SPRING_KEYS, normalise, placeholder

_GRAFANA_ENV = re.compile(r"^\$__env\{(?P<name>[^}]+)\}$")


@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    line: int
    column: int
    section: str = ""


#: msmtp passwordeval commands that only print one environment variable (what `config --for msmtp` writes):
#: read as that variable, so --env gives the app's password without running the user's command
_CAT = re.compile(r"cat\s+[^\s|;&$`<>()'\"]+")
_PRINTENV = re.compile(r'printenv\s+([A-Za-z_]\w*)|echo\s+"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))"')



#: a command that only prints a literal: `echo LITERAL`, `echo 'LITERAL'`, `echo "LITERAL"`, `printf %s LITERAL`
#: (no shell metacharacter outside single quotes, so the shell would print exactly the literal)
_ECHO = re.compile(r"""(?:echo(?:\s+-n)?|printf\s+(?:%s|'%s'|"%s"))\s+"""
                   r"""(?:'([^'\\]*)'|"([^"$`\\!]*)"|([^\s'"$`\\|;&<>()*?\[\]{}~#!]+))""")


def passwordeval_literal(command: str) -> str | None:
    """The literal a ``passwordeval`` command only prints (msmtp takes its output, one trailing newline
    removed); ``None`` for any other command. Nothing is run: this reads the command's text."""
    m = _ECHO.fullmatch(command.strip())
    if m is None:
        return None
    literal = next(g for g in m.groups() if g is not None)
    return literal or None


def _passwordeval(command: str, env: Mapping[str, str] | None) -> Ev:
    """What msmtp's ``passwordeval`` gives, without running it: an environment variable it only prints (the
    variable, from ``--env``); ``cat FILE`` alone (code login.py may read as that file); any other command is
    a value known only when it runs — never run here (docs/check.md), and never read as a file."""
    if var := _PRINTENV.fullmatch(command):
        name = var.group(1) or var.group(2) or var.group(3)
        return Ev(ValueKind.STRING, env[name], name) if env and name in env else Ev(ValueKind.ENV, None, name)
    if (literal := passwordeval_literal(command)) is not None:
        return Ev(ValueKind.STRING, literal)  # a secret: raw() drops it; login.py reads it back for the login
    if _CAT.fullmatch(command) or not re.search(r"\bcat\b", command):
        return Ev(ValueKind.EXPRESSION)
    return Ev(ValueKind.ENV)  # `cat x | gpg -d`: reading x would not be the password


# ---- Java properties ----------------------------------------------------------------------------------
def read_properties(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    config = RawConfig("spring", str(path))
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        start = i
        i += 1
        stripped = line.lstrip()
        if not stripped or stripped[0] in "#!":
            continue
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):  # continuation
            line = line[:-1] + lines[i].lstrip()
            i += 1
        m = re.match(r"\s*((?:\\.|[^=:\s])+)\s*[=:\s]\s*", line)
        if not m:
            key, value, col = line.strip(), "", len(line) + 1
        else:
            key, value, col = m.group(1), line[m.end():], m.end() + 1
        key = normalise(key.replace("\\", ""))
        if key.startswith(SPRING_KEYS):
            # java.util.Properties.load: "all remaining characters on the line become part of the associated
            # element string", trailing blanks included ("127.0.0.1 " is no host, "true " is not true)
            value = value.rstrip("\r")
            ev = placeholder(Ev(ValueKind.STRING, value), env)
            add(config, key, raw(key, ev, value, Origin(str(path), start + 1, col, m.group(1) if m else key)))
    return [finish(config)] if config.values or framework else []


# ---- INI ----------------------------------------------------------------------------------------------
def ini_entries(path: Path, text: str) -> list[Entry]:
    out: list[Entry] = []
    section = ""
    for n, line in enumerate(text.split("\n"), start=1):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            if not s.endswith("]"):
                raise syntax_error(path, n, line.index("[") + 1)
            section = s[1:-1].strip()
            continue
        m = re.match(r"\s*([^=:]+?)\s*[=:]\s*", line)
        if not m:
            raise syntax_error(path, n, len(line) - len(line.lstrip()) + 1)
        value, col = line[m.end():].rstrip(), m.end() + 1
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
            value, col = value[1:-1], col + 1
        else:
            value = re.split(r"\s[#;]", value, maxsplit=1)[0].rstrip()
        out.append(Entry(m.group(1), value, n, col, section))
    return out


def read_ini(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    entries = ini_entries(path, text)
    sections = {e.section.lower() for e in entries}
    wanted = [framework] if framework else [f for f, s in (("gitea", "mailer"), ("grafana", "smtp")) if s in sections]
    configs = []
    for fw in wanted:
        section = "mailer" if fw == "gitea" else "smtp"
        config = RawConfig(fw, str(path))
        for e in entries:
            if e.section.lower() != section:
                continue
            ev = Ev(ValueKind.STRING, e.value)
            if fw == "grafana":
                m = _GRAFANA_ENV.match(e.value)
                if m:
                    name = m.group("name")
                    ev = Ev(ValueKind.STRING, env[name], name) if env and name in env else Ev(ValueKind.ENV, None, name)
            add(config, e.key, raw(e.key, ev, e.value, Origin(str(path), e.line, e.column, e.key)))
        configs.append(finish(config))
    return configs


# ---- Postfix main.cf ------------------------------------------------------------------------------------
_POSTFIX_KEEP = re.compile(r"^(relayhost|myhostname|smtp_\w+)$")


def read_postfix(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    """``name = value`` with continuation lines starting in white space (postconf(5))."""
    config = RawConfig("postfix", str(path))
    current: Entry | None = None
    entries: list[Entry] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            if current is None:
                raise syntax_error(path, n, 1)
            current = replace(current, value=f"{current.value} {line.strip()}".strip())
            entries[-1] = current
            continue
        m = re.match(r"([A-Za-z0-9_.-]+)\s*=\s*", line)
        if not m:
            raise syntax_error(path, n, 1)
        current = Entry(m.group(1), line[m.end():].rstrip(), n, m.end() + 1)
        entries.append(current)
    for e in entries:
        if _POSTFIX_KEEP.match(e.key):
            add(config, e.key, raw(e.key, Ev(ValueKind.STRING, e.value), e.value,
                                   Origin(str(path), e.line, e.column, e.key)))
    return [finish(config)] if config.values or framework else []


# ---- msmtprc --------------------------------------------------------------------------------------------
def read_msmtp(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None) -> list[RawConfig]:
    """One config per account; ``defaults`` and ``account a : b`` inheritance applied as msmtp does."""
    defaults: dict[str, RawValue] = {}
    accounts: dict[str, dict[str, RawValue]] = {}
    order: list[str] = []
    current: dict[str, RawValue] = defaults
    for n, line in enumerate(text.split("\n"), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"\s*(\S+)(?:\s+(.*?))?\s*$", line)
        if not m:
            continue
        cmd, arg = m.group(1), m.group(2) or ""
        col = (m.start(2) + 1) if m.group(2) is not None else len(line) + 1
        if cmd == "defaults":
            current = defaults
            continue
        if cmd == "account":
            name, _, parents = arg.partition(":")
            name = name.strip()
            if not name:
                raise syntax_error(path, n, col)
            current = dict(defaults)
            for parent in (p.strip() for p in parents.split(",") if p.strip()):
                if parent not in accounts:
                    raise syntax_error(path, n, col)
                current.update(accounts[parent])
            name_origin = Origin(str(path), n, col, "account")
            current["account"] = RawValue(name, ValueKind.STRING, name, name_origin)
            accounts[name] = current
            if name not in order:
                order.append(name)
            continue
        value = arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] == '"' else arg
        ev = Ev(ValueKind.STRING, value)
        if cmd == "passwordeval":
            ev = _passwordeval(value.strip(), env)
        current[cmd] = raw(cmd, ev, arg, Origin(str(path), n, col, cmd),
                           secret=cmd in ("password", "passwordeval") or None)
    configs = []
    # msmtp without --account uses the account named "default" (msmtp(1) 1.8.23, --account): it comes first,
    # so the first config is the one the app sends with (check's exit code and the first JSON entry)
    order.sort(key=lambda name: name != "default")
    for name in order:
        config = RawConfig("msmtp", str(path))
        config.values.update(accounts[name])
        configs.append(finish(config))
    if not configs and (defaults or framework):
        config = RawConfig("msmtp", str(path))
        config.values.update(defaults)
        configs.append(finish(config))
    return configs
