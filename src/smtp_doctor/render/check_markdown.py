"""What ``check`` predicted, as Markdown to paste into an issue or a forum post (``check --markdown``).

The same sentences as the terminal output (render/check.py), in the chosen language: the verdict, the
connection the app makes, which version of the deciding package the prediction used and where that came
from, what the probe saw, the text the app will print, why, and the fix. Everything that came from outside
(file names, server replies, error texts) is made inert and escaped (render/inert.py ``md_inline``,
``md_code``, and fences longer than any backtick run in the block), so a hostile reply cannot add a link,
HTML or close a code block early.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..check import Checked
from ..findings import Severity
from ..frameworks.apptrust import version_line
from ..i18n import t
from ..predict import Fix, Verdict
from .check import _why_params, asked_lines, plan_sentence, probed_line, verdict_line
from .inert import md_code, md_inline, shown


def _fence(lines: list[str]) -> list[str]:
    """A fenced block that nothing inside can close: more backticks than the longest run inside."""
    body = [shown(line) for line in lines]
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *body, fence]


def _fix_block(fix: Fix | None) -> list[str]:
    if fix is None or not (fix.lines or fix.remove or fix.env or fix.text_key):
        return []
    out = [f"**{md_inline(t('check.cli.fix'))}:**", ""]
    block = [f"- {t('check.cli.remove', key=key, where=where)}" for key, where in fix.remove]
    block += [f"+ {line}" for line in fix.lines]
    if fix.env:
        block += [t("check.cli.env"), *(f"+ {line}" for line in fix.env)]
    if block:
        out += _fence(block)
    elif fix.text_key:
        out.append(md_inline(t(fix.text_key, _="")))
    return [*out, ""]


def check_markdown(results: list[Checked], diffs: Sequence[tuple[str, str]] = ()) -> str:
    """``diffs``: (patched file, unified diff) of ``check --fix``, shown after the predictions."""
    lines: list[str] = []
    for c in results:
        p, pred = c.plan, c.prediction
        assert pred is not None
        head = t("check.cli.head", file=c.raw.file, framework=t(f"frameworks.name.{c.raw.framework}"))
        errors = sum(f.severity.rank >= Severity.ERROR.rank for f in c.findings)
        warnings = sum(f.severity is Severity.WARNING for f in c.findings)
        lines += [f"### {md_inline(head)}", "", f"**{md_inline(verdict_line(pred))}**", "",
                  md_inline(t("check.cli.lint", errors=errors, warnings=warnings))]
        found = [f"- **{f.id}** {md_code(f.subject)} {md_inline(f.verdict())}" for f in c.findings
                 if f.severity.rank >= Severity.WARNING.rank]
        lines += ["", *found] if found else []
        lines += ["", md_inline(plan_sentence(p)), ""]
        if (version := version_line(c.raw)) is not None:
            lines += [f"- {md_inline(t(version[0], **version[1]))}"]
        lines += [f"- {md_inline(probed_line(c))}"]
        lines += [f"- {md_inline(line)}" for line in asked_lines(c)]
        lines.append("")
        if pred.verdict in (Verdict.FAILS, Verdict.UNREACHABLE):
            lines += [f"**{md_inline(t('check.cli.prints'))}:**", "",
                      *_fence([pred.text or t("check.cli.no_text")]), ""]
        if pred.why:
            lines += [f"**{md_inline(t('check.cli.why'))}:** {md_inline(t(pred.why, **_why_params(pred)))}", ""]
        for risk in pred.risks:
            lines += [f"> **{md_inline(t('check.cli.risk'))}:** {md_inline(t(f'check.risk.{risk}'))}", ""]
        lines += _fix_block(c.fix)
    for file, diff in diffs:
        if diff:
            lines += [f"**{md_inline(t('fix.cli.corrected', file=file))}**", "", *_fence(diff.splitlines()), ""]
    counts = {v: sum(c.prediction is not None and c.prediction.verdict is v for c in results) for v in Verdict}
    lines.append(md_inline(t("check.cli.summary", configs=len(results), delivered=counts[Verdict.DELIVERED],
                             failing=counts[Verdict.FAILS], unreachable=counts[Verdict.UNREACHABLE],
                             unknown=counts[Verdict.UNKNOWN])))
    return "\n".join(lines) + "\n"
