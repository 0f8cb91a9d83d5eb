"""The ``smtp-doctor`` command: a click group whose subcommands live one per module.

Each subcommand module exposes ``command`` (a click command). ``COMMANDS`` lists them; adding a
subcommand is adding its module name here. A subcommand's module is imported only when it runs
(``--help`` reads the one-line summaries from ``SUMMARY``; a name missing there is imported for its
summary), so ``smtp-doctor --help`` or ``explain`` never pays for the probe stack, rich or TLS.
The group owns the cross-cutting parts: ``--lang``, turning ``UserError`` into one translated line
with its exit code, and never showing a traceback (``--debug`` shows it, for bug reports).
"""

from __future__ import annotations

import click

from .. import i18n
from .group import LazyGroup

COMMANDS = ("probe", "send", "lab", "demo", "explain", "trust", "lint", "check", "fix", "config", "scan", "domain",
            "audit")


#: The first paragraph of each command's help, for ``--help`` without importing the command
#: (tests/test_api.py checks each against the command itself).
SUMMARY = {
    "probe": "Work out what each SMTP port really speaks, and check its TLS, certificate and AUTH.",
    "send": "Send one small test message through HOST, stopping at the first phase that fails.",
    "lab": "Start local SMTP servers on 127.0.0.1 showing every failure mode (offline test bed).",
    "demo": "Start the embedded lab and probe each of its servers.",
    "explain": "Explain an SMTP/TLS error message (or the failures in log files): cause, fix, how to confirm.",
    "trust": "Which CA store does each runtime here use, and does it trust HOST's certificate chain?",
    "lint": "Find mistakes in an application's SMTP/TLS settings without connecting anywhere.",
    "check": "Predict what the app will do with its mail settings against the live server, and how to fix it.",
    "fix": "Print the corrected config in the file's own syntax (a diff), checked against the live server.",
    "config": "Probe HOST and print a correct mail config for FRAMEWORK, in its own syntax.",
    "scan": "Scan many mail servers; one JSON line per target, exit code by the worst finding.",
    "domain": "Check MX, MTA-STS, DANE (with DNSSEC) and TLS-RPT for DOMAIN, as sending servers see them.",
    "audit": "Is this mail server safe? STARTTLS injection, AUTH/mail before TLS, TLS, certificate, revocation.",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, summary=SUMMARY, package=__name__,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lang", type=click.Choice(i18n.LANGUAGES), default=None,
              help="Output language (default: from LANG).")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="smtp-doctor")
@click.pass_context
def cli(ctx: click.Context, lang: str | None, debug: bool) -> None:
    """Find out why an application cannot send mail over SMTP, and what to change."""
    i18n.set_language(lang)
    ctx.obj = {"debug": debug}


def main() -> None:
    """Console-script entry point."""
    from .streams import harden_std_streams

    harden_std_streams()
    cli(prog_name="smtp-doctor")


if __name__ == "__main__":
    main()
