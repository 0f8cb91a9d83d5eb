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
from ..predict import fix_row, render_line


@dataclass(frozen=True)
class Written:
    framework: str
    file: str  #: where it belongs in the app
    text: str
    env: tuple[str, ...] = ()  #: lines for the app's environment (SSL_CERT_FILE=… where the framework has no CA key)


@cache
def writers() -> dict[str, dict[str, Any]]:
    text = (resources.files("smtp_doctor") / "knowledge" / "writers.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["writer"])


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _fill(value: Any, params: dict[str, Any]) -> Any:
    if not isinstance(value, str):
        return value
    for key, v in params.items():
        value = value.replace("{" + key + "}", str(v))
    return int(value) if value.isdigit() else value  # a port is a number, not a string, in every syntax


def _code(key: str, code: str, syntax: str) -> str:
    """A line whose value is code (an environment lookup), written as it is."""
    if syntax == "ruby_hash":
        return f"{key}: {code},"
    if syntax == "gitlab_rb":
        return f"gitlab_rails['{key}'] = {code}"
    if syntax == "python":
        return f"{key} = {code}"
    return f"{key}={code}"


def write_config(framework: str, host: str, port: int, port_mode: str, user: str | None = None,
                 sender: str | None = None, ca_file: str | None = None, mechanism: str | None = None) -> Written:
    """``port_mode`` is what the probe found (starttls / implicit_tls); ``ca_file`` only when the server
    verifies through it alone (a private CA); ``mechanism`` an AUTH mechanism the server offered."""
    w = writers()[framework]
    syntax = framework_facts(framework).get("syntax", "dotenv")
    domain = "example.com" if _is_ip(host) else host.split(".", 1)[1] if host.count(".") >= 2 else host
    params = {"host": host, "port": port, "user": user or "you@" + domain, "sender": sender or "app@" + domain,
              "domain": domain, "ca_file": ca_file or "", "mechanism": mechanism or ""}
    values: dict[str, Any] = {k: _fill(v, params) for k, v in w["set"].items()}
    env: dict[str, Any] = {}
    groups = ["plain_port" if port_mode == "starttls" else "implicit_port"]
    groups += ["trust_ca"] if ca_file else []
    groups += ["auth_mechanism"] if mechanism else []
    for group in groups:
        row = fix_row(framework, group, port_mode)
        if row is not None:
            values.update({k: _fill(v, params) for k, v in row.get("set", {}).items()})
            env.update({k: _fill(v, params) for k, v in row.get("env", {}).items()})
    lines = [w["indent"] + render_line(k, v, syntax) for k, v in values.items()]
    lines += [w["indent"] + _code(k, c, syntax) for k, c in w.get("code", {}).items()]
    text = "\n".join([*w["head"], *lines, *w["tail"]]) + "\n"
    return Written(framework, w["file"], text, tuple(render_line(k, v, "dotenv") for k, v in env.items()))
