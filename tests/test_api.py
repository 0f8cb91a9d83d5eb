"""The library API and the CLI's shape (issue 16): docs/api.md's examples run against the lab, every command
is a function, no import circles, thin CLI modules, a start-up that loads only what the command needs."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from smtp_doctor import api
from smtp_doctor.cache import RegexCache, cached
from smtp_doctor.errors import ExitCode, UserError
from smtp_doctor.lab import LabInfo

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "smtp_doctor"


# -- import graph -----------------------------------------------------------------------------------------------


def import_graph(src: Path) -> dict[str, set[str]]:
    """Module → the package modules it imports, at any level (a deferred import is still a dependency);
    imports only for type checking are left out (they never run)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in src.rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, (path, is_pkg) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = [node for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)]
        skip = {id(n) for node in guarded for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                if node.level:
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_circle(tmp_path: Path) -> None:
    """The check below can fail: a deferred import back is a circle too (cli/check ↔ cli/fix was one)."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("def x():\n    from .a import y\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n")
    assert cycles(import_graph(tmp_path)) == [["pkg.a", "pkg.b"]]


def test_no_import_circles() -> None:
    assert cycles(import_graph(SRC)) == []


# -- the CLI is thin --------------------------------------------------------------------------------------------


def test_cli_modules_are_short_and_use_no_other_modules_private_names() -> None:
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 125, f"{path.name}: {lines} lines; logic belongs in the library"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from cli/{node.module}"


def test_help_summaries_are_the_commands_own() -> None:
    """--help reads SUMMARY instead of importing every command: it must say what each command says."""
    import click

    from smtp_doctor.cli import COMMANDS, SUMMARY, cli

    assert set(SUMMARY) <= set(COMMANDS)
    for name in SUMMARY:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        for limit in (30, 45, 60, 80, 120):
            assert click.Command(name, help=SUMMARY[name]).get_short_help_str(limit) == \
                command.get_short_help_str(limit), name


def _loaded(*args: str) -> set[str]:
    """Modules a real `python -m smtp_doctor ARGS` process imported (from -X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "smtp_doctor", *args], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, LANG="C.UTF-8"), cwd=ROOT, check=False)
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


SHARED = {"smtp_doctor.cli.group", "smtp_doctor.cli.streams"}  #: the group and main()'s stream set-up
HEAVY = {"asyncio", "ssl", "cryptography", "OpenSSL", "tree_sitter", "httpx", "dns", "aiosmtpd",
         "smtp_doctor.probe.engine", "smtp_doctor.diagnose.host"}


def test_help_imports_no_subcommand_and_no_heavy_stack() -> None:
    loaded = _loaded("--help")
    assert "smtp_doctor.cli" in loaded
    assert not {m for m in loaded if m.startswith("smtp_doctor.cli.")} - SHARED
    assert not loaded & (HEAVY | {"rich.console", "tomllib"})


def test_explain_imports_no_probe_stack() -> None:
    loaded = _loaded("explain", "SSL_connect returned=1 errno=0 state=error: wrong version number")
    assert "smtp_doctor.explain.engine" in loaded
    assert not loaded & HEAVY
    assert not {m for m in loaded if m.startswith("smtp_doctor.cli.")} - SHARED - {"smtp_doctor.cli.explain",
                                                                                   "smtp_doctor.cli.common"}


def test_the_package_is_light_and_probe_stays_the_function() -> None:
    code = textwrap.dedent("""
        import sys
        import smtp_doctor
        assert "asyncio" not in sys.modules and "ssl" not in sys.modules, sorted(sys.modules)
        import smtp_doctor.probe.engine
        from smtp_doctor import probe, ProbeOptions, Severity
        assert callable(smtp_doctor.probe) and smtp_doctor.probe is probe and probe.__module__ == "smtp_doctor"
        assert Severity.ERROR.rank > Severity.OK.rank and ProbeOptions().timeout > 0
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)


# -- the on-disk cache ------------------------------------------------------------------------------------------


def test_cached_regexes_are_the_patterns_re_compile_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    monkeypatch.setenv("SMTP_DOCTOR_CACHE_DIR", str(tmp_path))
    source = PACKAGE / "knowledge" / "errors.toml"
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    texts = [p["re"] for m in data["mode"] for p in m.get("pattern", []) if "re" in p]
    texts += [c["re"] for c in data["client"]] + [f["re"] for f in data["field"]]
    flags = int(re.IGNORECASE | re.MULTILINE)
    first = RegexCache("t", [source])
    assert [first.compile(t, flags) for t in texts] == [re.compile(t, flags) for t in texts]
    first.save()
    assert (tmp_path / "t.marshal").exists()
    again = RegexCache("t", [source])
    assert len(again.stored) == len(set(texts))
    assert [again.compile(t, flags) for t in texts] == [re.compile(t, flags) for t in texts]
    assert not again.changed  # every one came from the file
    with pytest.raises(re.error):
        again.compile("(unclosed", flags)


def test_the_cache_rebuilds_on_change_and_survives_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_DOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "data.txt"
    source.write_text("one")
    calls: list[str] = []

    def build() -> str:
        calls.append(source.read_text())
        return source.read_text()

    assert cached("d", [source], build) == "one" and cached("d", [source], build) == "one"
    assert calls == ["one"]
    source.write_text("two!")
    assert cached("d", [source], build) == "two!" and calls == ["one", "two!"]
    (tmp_path / "cache" / "d.marshal").write_bytes(b"\x00garbage")
    assert cached("d", [source], build) == "two!" and len(calls) == 3
    monkeypatch.setenv("SMTP_DOCTOR_CACHE_DIR", "")
    assert cached("d", [source], build) == "two!" and len(calls) == 4
    monkeypatch.setenv("SMTP_DOCTOR_CACHE_DIR", str(source / "not-a-folder"))  # cannot be created: no cache
    assert cached("d", [source], build) == "two!" and len(calls) == 5
    monkeypatch.delenv("SMTP_DOCTOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "gone" / "home" / ".cache"))  # a home that is not there
    assert cached("d", [source], build) == "two!" and len(calls) == 6
    assert not (tmp_path / "gone").exists()  # is not created


# -- the functions --------------------------------------------------------------------------------------------------


def _app(tmp_path: Path, port: int) -> Path:
    app = tmp_path / "app"
    env = app / "config" / "environments"
    env.mkdir(parents=True)
    (env / "production.rb").write_text(
        "Rails.application.configure do\n"
        f"  config.action_mailer.smtp_settings = {{ address: '127.0.0.1', port: {port}, tls: true }}\n"
        "end\n")
    return app


def _examples() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize("index", range(len(_examples())))
def test_docs_api_examples_run_against_the_lab(index: int, lab: LabInfo, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    server = lab.servers["starttls"]
    scope = {"server": server.address, "ca_file": str(lab.ca_file), "app": _app(tmp_path, server.port)}
    exec(compile(_examples()[index], f"docs/api.md example {index + 1}", "exec"), scope)  # noqa: S102
    assert capsys.readouterr().out.strip()  # every example shows something


def test_examples_cover_every_command() -> None:
    code = "\n".join(_examples())
    for name in ("lint", "check", "fix", "explain", "trust", "send", "config"):
        assert f"api.{name}(" in code
    assert "smtp_doctor.probe(" in code and "audit(" in code


def test_bad_input_raises_user_error_with_the_cli_exit_code(tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        api.check(tmp_path / "missing")
    assert exc.value.exit_code == ExitCode.USAGE
    with pytest.raises(UserError):
        api.lint(tmp_path, framework="nosuch")
    with pytest.raises(UserError):
        api.explain("   ")
    with pytest.raises(UserError):
        api.send("127.0.0.1:25", "not-an-address", ["ops@example.com"])


def test_fix_write_applies_only_a_change_that_delivers(lab: LabInfo, tmp_path: Path) -> None:
    server = lab.servers["starttls"]
    app = _app(tmp_path, server.port)
    config = app / "config" / "environments" / "production.rb"
    before = config.read_text()
    result = api.fix(app, ca_file=str(lab.ca_file), write=True)
    assert result.written and result.exit_code == ExitCode.OK
    assert config.read_text() == result.repairs[0].fixed != before
    assert api.check(app, ca_file=str(lab.ca_file)).exit_code == ExitCode.OK  # the written file delivers


def test_lint_strict_fails_on_warnings_only_when_asked(tmp_path: Path) -> None:
    django = ROOT / "tests" / "fixtures" / "configs" / "django"
    result = api.lint([django])
    assert result.configs and result.findings
    assert api.lint(django, strict=True).exit_code == ExitCode.PROBLEMS


def test_probe_hosts_probes_each_host_once_with_the_cli_exit_code(lab: LabInfo) -> None:
    import socket

    from smtp_doctor import ProbeOptions

    starttls, implicit = lab.servers["starttls"], lab.servers["implicit"]
    result = api.probe_hosts({lab.host: [starttls.port, implicit.port]}, ProbeOptions(ca_file=str(lab.ca_file)))
    [report] = result.reports
    assert [p.facts.mode for p in report.ports] == ["starttls", "implicit_tls"]
    assert result.exit_code == api.exit_code_for(report.severity, True)
    with socket.socket() as s:  # a port that was just free: nothing listens there
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert api.probe_hosts({"127.0.0.1": [closed]}, ProbeOptions(timeout=5)).exit_code == ExitCode.UNREACHABLE
