"""Turn runtime stores and an assessment into words (rich text) or data (JSON); no I/O besides printing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from ..i18n import t
from ..render.inert import escape
from .anchors import StoreLocation
from .engine import Assessment, MissingIssuer, Remedy, RuntimeVerdict
from .knowledge import FrameworkSpec, frameworks, runtimes
from .runtimes import RuntimeStore


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    hostname: str
    hostname_ok: bool | None


@dataclass(frozen=True)
class Fix:
    framework: str
    label: str
    where: str
    snippet: str
    insecure: str


def origin_text(origin: str) -> str:
    kind, _, name = origin.partition(":")
    key = f"trust.origin.{kind}"
    return t(key, name=name) if name else t(key) if kind in ("default", "bundled", "certifi", "ca-file",
                                                              "candidate") else origin


def state_text(loc: StoreLocation, all_files: bool = False) -> str:
    if not loc.exists:
        return t("trust.state.missing")
    if loc.origin == "certifi":
        return t("trust.state.optional", count=loc.certificates)
    if not loc.used:
        return t("trust.state.replaced")
    if loc.kind == "dir":
        return t("trust.state.count_dir_all" if all_files else "trust.state.count_dir", count=loc.certificates)
    if loc.kind == "keystore":
        return t("trust.state.count_keystore", count=loc.certificates)
    return t("trust.state.count_file", count=loc.certificates)


def fixes_for(remedy: Remedy, failing: Sequence[str], chosen: Sequence[str] = ()) -> list[Fix]:
    """Framework snippets for the failing runtimes (or the frameworks the user named)."""
    if remedy.path is None:
        return []
    fws = frameworks()
    ids = list(chosen) or [f for r in failing for f in (runtimes()[r].frameworks if r in runtimes() else ())]
    out: list[Fix] = []
    for fid in dict.fromkeys(ids):
        spec: FrameworkSpec | None = fws.get(fid)
        if spec is None:
            continue
        template = spec.dir_fix if remedy.kind == "dir" else spec.file_fix
        if not template:
            continue
        out.append(Fix(fid, spec.label, spec.where.replace("{path}", remedy.path),
                       template.replace("{path}", remedy.path).replace("{dir}", remedy.path), spec.insecure))
    return out


def verdict_text(v: RuntimeVerdict) -> str:
    if v.verification is None:
        reason = v.store.error or t("trust.runtime.not_found")
        return t("trust.verdict.unknown", reason=reason)
    if v.verification.ok:
        return t("trust.verdict.ok", chain=" → ".join(_short(s) for s in v.verification.chain))
    return t("trust.verdict.fail", error=v.verification.error or v.verification.error_code)


def missing_lines(m: MissingIssuer) -> list[str]:
    out = [t(f"trust.missing.{m.kind}", name=m.name, needed_by=m.needed_by)]
    out.append(t("trust.missing.found_in", name=m.name, paths=", ".join(m.found_in)) if m.found_in
               else t("trust.missing.found_nowhere", name=m.name))
    return out


def remedy_lines(remedy: Remedy, missing: MissingIssuer | None, failing: Sequence[RuntimeVerdict]) -> list[str]:
    name = missing.name if missing else "?"
    if remedy.path:
        return [t("trust.remedy.dir" if remedy.kind == "dir" else "trust.remedy.file", path=remedy.path)]
    if remedy.server_side == "certificate":
        error = remedy.error or next((v.verification.error for v in failing if v.verification), "")
        return [t("trust.remedy.certificate", error=error)]
    if remedy.server_side == "intermediate":
        return [t("trust.remedy.intermediate", name=name)]
    if remedy.package is not None:
        return [t("trust.remedy.package", command=remedy.package.install, bundle=remedy.package.bundle)]
    aia = t("trust.remedy.aia", url=missing.aia[0]) if missing and missing.aia else ""
    return [t("trust.remedy.unknown_issuer", name=name, aia=aia)]


def _short(dn: str) -> str:
    for part in dn.split(","):
        if part.startswith("CN="):
            return part[3:]
    return dn


# ---- text ---------------------------------------------------------------------------------------------


def render_stores(out: Console, stores: Sequence[RuntimeStore]) -> None:
    out.print(f"[bold]{escape(t('trust.header.runtimes'))}[/]")
    for s in stores:
        head = f"[bold]{escape(s.label)}[/]"
        if not s.found:
            out.print(f"  {head}  [dim]{escape(t('trust.runtime.not_found'))}[/]")
            continue
        facts = " · ".join(x for x in (s.version, s.library, s.executable or "") if x)
        out.print(f"  {head}  [dim]{escape(facts)}[/]")
        if s.error:
            out.print(f"    [red]✖[/] {escape(t('trust.runtime.error', error=s.error))}")
            continue
        if s.mode in ("bundled", "openssl") and s.runtime == "node":
            out.print(f"    [dim]{escape(t(f'trust.runtime.mode_{s.mode}'))}[/]")
        for loc in s.locations:
            style = "" if loc.used and loc.exists else "dim"
            line = (f"{t(f'trust.kind.{loc.kind}')} {loc.path}  ({origin_text(loc.origin)}) — "
                    f"{state_text(loc, s.all_files)}")
            out.print(f"    [{style}]{escape(line)}[/]" if style else f"    {escape(line)}")
        if s.anchors:
            out.print(f"    [green]✔[/] {escape(t('trust.runtime.anchors', count=s.anchors))}")
        else:
            out.print(f"    [red]✖[/] {escape(t('trust.runtime.no_anchors'))}")
        for n in s.notes:
            out.print(f"    [cyan]ℹ[/] [dim]{escape(t(f'trust.note.{n.key}', **n.params))}[/]")


def render_assessment(out: Console, a: Assessment, server: Server, chosen: Sequence[str] = ()) -> None:
    out.print()
    out.print(f"[bold]{escape(t('trust.header.server', host=server.host, port=server.port, count=len(a.chain)))}[/]")
    for i, subject in enumerate(a.chain):
        out.print(f"  [dim]{i}[/] {escape(subject)}")
    if server.hostname_ok is not None:
        ok = server.hostname_ok
        out.print(f"  {'[green]✔[/]' if ok else '[red]✖[/]'} "
                  f"{escape(t('trust.hostname.ok' if ok else 'trust.hostname.bad', name=server.hostname))}")
    out.print()
    out.print(f"[bold]{escape(t('trust.header.verdicts'))}[/]")
    width = max((len(v.store.label) for v in a.verdicts), default=0)
    for v in a.verdicts:
        icon = "[dim]·[/]" if v.ok is None else "[green]✔[/]" if v.ok else "[red]✖[/]"
        out.print(f"  {icon} {escape(v.store.label.ljust(width))}  {escape(verdict_text(v))}")
        if v.missing:
            for line in missing_lines(v.missing):
                out.print(f"      [dim]{escape(line)}[/]")
    if a.user_location is not None and a.user is not None:
        loc = a.user_location
        said = t("trust.verdict.user_ok") if a.user.ok else t("trust.verdict.user_fail", error=a.user.error)
        out.print(f"  {'[green]✔[/]' if a.user.ok else '[red]✖[/]'} "
                  f"{escape(t('trust.header.user_ca', path=loc.path, count=loc.certificates))}: {escape(said)}")
    if a.remedy is None:
        return
    failing = [v for v in a.verdicts if v.ok is False]
    missing = next((v.missing for v in failing if v.missing), None)
    out.print()
    for line in remedy_lines(a.remedy, missing, failing):
        out.print(f"[bold]→[/] {escape(line)}")
    fixes = fixes_for(a.remedy, [v.store.runtime for v in failing], chosen)
    for fix in fixes:
        out.print(f"    [dim]{escape(t('trust.remedy.snippet', label=fix.label, where=fix.where))}[/]")
        out.print(f"      {escape(fix.snippet)}")
    insecure = next((f.insecure for f in fixes if f.insecure), "verify_mode: none")
    out.print(f"  [yellow]▲[/] [dim]{escape(t('trust.remedy.never_off', insecure=insecure))}[/]")


# ---- JSON ---------------------------------------------------------------------------------------------


def verdict_json(v: RuntimeVerdict) -> dict[str, Any]:
    ver = v.verification
    return {
        "runtime": v.store.runtime, "ok": v.ok, "text": verdict_text(v),
        "error_code": ver.error_code if ver else None, "error": ver.error if ver else None,
        "error_depth": ver.error_depth if ver else None, "verified_chain": list(ver.chain) if ver else [],
        "missing": v.missing.to_dict() if v.missing else None,
    }


def to_json(stores: Sequence[RuntimeStore], a: Assessment | None, server: Server | None,
            chosen: Sequence[str] = ()) -> dict[str, Any]:
    obj: dict[str, Any] = {"runtimes": [s.to_dict() for s in stores]}
    if a is None or server is None:
        obj["ok"] = all(s.anchors > 0 for s in stores if s.found and not s.error)
        return obj
    failing = [v for v in a.verdicts if v.ok is False]
    obj["server"] = {"host": server.host, "port": server.port, "chain": list(a.chain),
                     "hostname": server.hostname, "hostname_ok": server.hostname_ok}
    obj["verdicts"] = [verdict_json(v) for v in a.verdicts]
    if a.user_location is not None:
        obj["ca_file"] = {**a.user_location.to_dict(), "ok": a.user.ok if a.user else None,
                          "error": a.user.error if a.user else None}
    if a.remedy is not None:
        missing = next((v.missing for v in failing if v.missing), None)
        obj["remedy"] = {**a.remedy.to_dict(), "text": remedy_lines(a.remedy, missing, failing),
                         "fixes": [fix.__dict__ for fix in fixes_for(a.remedy, [v.store.runtime for v in failing],
                                                                     chosen)]}
    obj["ok"] = not failing and server.hostname_ok is not False and (a.user is None or a.user.ok)
    return obj
