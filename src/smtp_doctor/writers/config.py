"""A framework's mail config written from scratch for a probed server. Pure: facts in, text out.

The frame (file, first and last lines, host/port/user keys) is knowledge/writers.toml; the TLS mode, CA
and AUTH lines are the [[fix]] rows of knowledge/predict.toml, so a written config and a fixed one spell
every key the same way. The password is never written: the config reads it from the environment.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..plan import framework_facts
from ..predict import fill_params, fix_row, render_line


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


def _fill(value: Any, params: dict[str, Any]) -> Any:
    value = fill_params(value, params)
    return int(value) if isinstance(value, str) and value.isdigit() else value  # a port is a number everywhere


def _quote(value: str) -> str:
    """A string literal Ruby, JavaScript and PHP read the same way."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
    verifies through it alone (a private CA); ``mechanism`` an AUTH mechanism the server offered."""
    w = writers()[framework]
    syntax = w.get("syntax") or framework_facts(framework).get("syntax", "dotenv")
    domain = "example.com" if _is_ip(host) else host.split(".", 1)[1] if host.count(".") >= 2 else host
    params = {"host": host, "port": port, "user": user or "you@" + domain, "sender": sender or "app@" + domain,
              "domain": domain, "ca_file": ca_file or "", "mechanism": mechanism or ""}
    params |= {f"{k}_q": _quote(str(v)) for k, v in list(params.items())}
    values: dict[str, Any] = {k: _fill(v, params) for k, v in w["set"].items()}
    code: dict[str, Any] = {k: _fill(v, params) for k, v in w.get("code", {}).items()}
    env: dict[str, Any] = {}
    groups = ["plain_port" if port_mode == "starttls" else "implicit_port"]
    groups += ["trust_ca"] if ca_file else []
    groups += ["auth_mechanism"] if mechanism else []
    for group in groups:
        row = _group(framework, w, group, port_mode)
        if row is not None:
            values.update({k: _fill(v, params) for k, v in row.get("set", {}).items()})
            code.update({k: _fill(v, params) for k, v in row.get("code", {}).items()})
            env.update({k: _fill(v, params) for k, v in row.get("env", {}).items()})
    lines = [w["indent"] + _line(k, v, syntax) for k, v in values.items()]
    lines += [w["indent"] + _line(k, c, syntax, code=True) for k, c in code.items()]
    text = "\n".join([*w["head"], *lines, *w["tail"]]) + "\n"
    return Written(framework, w["file"], text, tuple(render_line(k, v, "dotenv") for k, v in env.items()))
