"""What ``lint`` found, as text for a terminal or as the JSON document (schema_version 1)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from ..findings import Finding, worst
from ..i18n import Term, t
from ..settings import RawConfig, Settings
from .inert import escape
from .text import ICON

JSON_SCHEMA_VERSION = 1


def settings_json(s: Settings) -> dict[str, Any]:
    """The connection plan; the password appears only as a reference (ENV[X] / literal file:line)."""
    out: dict[str, Any] = {}
    for name in ("host", "port", "tls_mode", "verify_peer", "verify_hostname", "ca_file", "ca_path", "client_cert",
                 "auth_mechanism", "username", "password_ref", "open_timeout", "read_timeout", "helo_domain",
                 "sender"):
        setting = getattr(s, name)
        if setting is None:
            out[name] = None
            continue
        value = setting.value.value if name == "tls_mode" else setting.value
        out[name] = {"value": value, "default": setting.default,
                     "location": str(setting.origin) if setting.origin else None}
    out["has_password"] = s.has_password
    return out


def lint_json(results: list[tuple[RawConfig, Settings, list[Finding]]]) -> dict[str, Any]:
    findings = [f for _, _, fs in results for f in fs]
    return {"schema_version": JSON_SCHEMA_VERSION, "tool": "smtp-doctor", "severity": str(worst(findings)),
            "configs": [{"file": raw.file, "framework": raw.framework, "framework_version": raw.framework_version,
                         "settings": settings_json(s), "findings": [f.to_dict() for f in fs]}
                        for raw, s, fs in results]}


def render_lint(out: Console, results: list[tuple[RawConfig, Settings, list[Finding]]]) -> None:
    for raw, s, findings in results:
        head = t("lint.cli.config_head", file=raw.file, framework=t(f"frameworks.name.{raw.framework}"))
        icon, style = ICON[worst(findings)]
        out.print(f"[{style}]{icon}[/] [bold]{escape(head)}[/]", highlight=False)
        if s.host and s.port and s.tls_mode:
            mode = Term(f"frameworks.tlsmode.{s.tls_mode.value.value}")
            plan = t("lint.cli.plan", host=s.host.value, port=s.port.value, mode=mode)
        else:
            plan = t("lint.cli.plan_unknown")
        out.print(f"  [dim]{escape(plan)}[/]", highlight=False)
        for f in findings:
            icon, style = ICON[f.severity]
            out.print(f"  [{style}]{icon}[/] {escape(f.subject)} [{style}]{f.id}[/] {escape(f.verdict())}",
                      highlight=False)
            if (why := f.explanation()):
                out.print(f"      [dim]{escape(why)}[/]", highlight=False)
            if (fix := f.fix()):
                out.print(f"      [bold]→[/] {escape(fix)}", highlight=False)
            for name, value in f.details:
                if name == "framework_error":
                    label = escape(t("lint.cli.framework_error"))
                    out.print(f"      [dim]{label}:[/] {escape(value)}", highlight=False)
