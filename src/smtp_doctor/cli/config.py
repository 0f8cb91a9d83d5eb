"""``smtp-doctor config --for FRAMEWORK HOST[:PORT]``: probe, then write that framework's config from scratch.

The port and mode are what the probe found usable (implicit TLS preferred, as RFC 8314 advises), the CA
file only when your --ca-file is what verifies the server, the AUTH mechanism one the server offers. The
written config is then read back by the framework's reader and checked against the same server, so what
is printed is what ``check`` predicts will deliver. The snippet goes to stdout (redirect it into the
file); the notes go to stderr.

Exit codes: 0 written, and check predicts it delivers; 1 no port is usable as it is (or the check
disagrees); 2 bad input; 3 the host cannot be reached.
"""

from __future__ import annotations

import json

import click

from ..writers.config import writers


@click.command("config")
@click.option("--for", "framework", required=True, metavar="FRAMEWORK",
              help=f"The framework to write the config for: {', '.join(sorted(writers()))}.")
@click.argument("target", metavar="HOST[:PORT]")
@click.option("--user", default=None, help="The login (user name) to write into the config.")
@click.option("--sender", default=None, help="The From address to write, where the framework has one.")
@click.option("--ca-file", type=click.Path(), default=None,
              help="Your private CA: written as the app's CA file when it is what verifies the server.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True,
              help="Deadline for probing one port, in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(framework: str, target: str, user: str | None, sender: str | None, ca_file: str | None,
            timeout: float, as_json: bool) -> None:
    """Probe HOST and print a correct mail config for FRAMEWORK, in its own syntax."""
    from ..api import config
    from ..i18n import Term, t
    from ..render.check import verdict_line
    from ..render.inert import escape, json_inert
    from .common import console

    result = config(target, framework, user=user, sender=sender, ca_file=ca_file, timeout=timeout)
    notes = console(stderr=True)
    written, pred = result.written, result.prediction
    if written is None or pred is None:
        notes.print(escape(t("config.none_usable", target=target)), highlight=False)
        for finding in result.blocking:  # what stands in the way
            notes.print(f"  ✖ {escape(finding.verdict())}", highlight=False)
        raise SystemExit(int(result.exit_code))
    host, port, mode = result.host, result.port, result.mode
    if as_json:
        click.echo(json_inert(json.dumps({"schema_version": 1, "tool": "smtp-doctor", "command": "config",
                               "framework": framework, "file": written.file, "host": host, "port": port,
                               "mode": mode, "text": written.text, "env": list(written.env),
                               "check": pred.verdict.value, "needs_env": result.needs_env,
                               "risks": list(pred.risks)}, indent=2,
                              ensure_ascii=False)))
    else:
        head = t("config.head", file=written.file, target=f"{host}:{port}", mode=Term(f"modename.{mode}"))
        notes.print(escape(head), highlight=False)
        click.echo(written.text, nl=False)
        if written.env:
            notes.print(escape(t("check.cli.env")), highlight=False)
            for line in written.env:
                notes.print("  " + escape(line), highlight=False)
        notes.print(escape(t("config.password")), highlight=False)
        if result.needs_env:
            notes.print(escape(t("config.checked_env")), highlight=False)
        else:
            notes.print(escape(t("config.checked", line=verdict_line(pred))), highlight=False)
        for risk in pred.risks:  # what no line of this framework's config can change (Flask-Mail never verifies)
            notes.print(escape(f"{t('check.cli.risk')}: {t(f'check.risk.{risk}')}"), highlight=False)
    raise SystemExit(int(result.exit_code))
