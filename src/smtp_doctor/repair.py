"""The repair loop behind ``fix``: the corrected config, in the file's own syntax, checked before it is shown.

``check`` names the first thing that will fail and its fix. A config can be wrong twice (implicit TLS on
587 *and* no CA for a private server), so ``repair`` repeats: apply the fix to the file's text, read the
result with the same reader, check it against the same server, until the prediction is a delivery, the
fix is only words, or a failure comes back (never more than MAX_ROUNDS). Every check runs with the app's
environment (``--env``), as the first one did: the re-check logs in with the app's password again. Nothing
here prints or writes the user's file: ``render/fix.py`` shows a :class:`Repair`, the caller decides
whether to write it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .check import Checked, check, present
from .errors import ExitCode, UserError
from .plan import framework_facts
from .predict import Fix, Prediction, Verdict
from .readers import read_file, read_text, syntax_of
from .readers.envfile import LARAVEL_CONFIG_CACHE, parse_env
from .readers.loaded_env import loaded_env, with_loaded
from .readers.spring_layers import inactive_mail_profiles
from .remedy import convention_fixes, harden, provider_fixes, risks, shadowed_env_fixes
from .settings import RawConfig
from .writers.edit import Patched
from .writers.patch import Unpatchable, apply_fix, secret_lines, secret_tokens, unified_diff
from .writers.yaml_section import apply_yaml_fix

MAX_ROUNDS = 4


@dataclass
class Step:
    prediction: Prediction
    fix: Fix
    risk: str | None = None  #: a risk of a config that delivers (remedy.py), not a failure
    convention: tuple[str, dict[str, Any]] | None = None  #: a framework's or provider's convention (catalogue key)


@dataclass
class Repair:
    raw: RawConfig
    first: Checked
    final: Checked
    steps: list[Step] = field(default_factory=list)
    text: str = ""  #: the original file
    fixed: str = ""  #: the file with every step applied
    stopped: str | None = None  #: catalogue key: why it could not go on
    env: tuple[str, ...] = ()  #: the last part of the fix goes into the app's environment (SSL_CERT_FILE=…)
    unset: tuple[str, ...] = ()  #: or comes out of it: variables that override the app's files
    #: files --write deletes: a stale config cache the app reads instead of its files (_without_cache)
    deleted: tuple[str, ...] = ()
    kept_risks: list[str] = field(default_factory=list)  #: risks no change here removes without breaking it
    path: str = ""  #: the file text/fixed are: the config, or the YAML its config_for reads
    #: other files of the app the fix changes (a Rails initializer that amends the hash): path → (text, fixed)
    others: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = self.path or self.raw.file

    @property
    def changed(self) -> bool:
        return self.fixed != self.text or bool(self.deleted) or any(before != after
                                                                      for before, after in self.others.values())

    @property
    def no_diff(self) -> bool:
        """A value of this file spans lines (a quoted value holding a newline): a diff would show its second
        line as a line of its own, which may pass for ours; the change is made with --write, not shown as one."""
        return self.changed and any("\n" in v.text for v in self.raw.values.values())

    @property
    def diff(self) -> str:
        if not self.changed or self.no_diff:
            return ""
        out = []
        for path, (before, after) in ((self.path, (self.text, self.fixed)), *self.others.items()):
            view = replace(self.raw, file=path)  # the secrets written in the patched file, masked
            if before != after:
                out.append(unified_diff(before, after, path, secret_lines(before, view), secret_tokens(before, view)))
        return "".join(out)

    @property
    def delivers(self) -> bool:
        """Predicted to deliver by the re-check: of the file alone, or with the environment lines given to the
        app (a CA file the probe verified this server's chain with; fix_for offers none other). A config that
        fails as written and to which nothing was written does not deliver, whatever a re-check said (issue 12:
        never a claim without a write)."""
        if not self.changed and not (self.env or self.unset) and (self.first.prediction is None or
                                                         self.first.prediction.verdict is not Verdict.DELIVERED):
            return False
        return self.final.prediction is not None and self.final.prediction.verdict is Verdict.DELIVERED


@dataclass(frozen=True)
class _Target:
    """Where the fix is written: the config file itself, or the YAML section ``config_for`` reads."""

    path: str
    section: str | None = None  #: the environment's section of a config_for YAML


def _target(raw: RawConfig, env: dict[str, str] | None) -> _Target:
    """The config's own file, unless its settings come from ``config_for``'s YAML (readers/rails_yaml.py):
    then that YAML, in the section of the environment the app runs in (the same rule the reader used)."""
    from .readers.rails_yaml import rails_env

    ymls = {v.origin.file for v in raw.values.values()
            if v.origin is not None and v.origin.file != raw.file and v.origin.file.endswith((".yml", ".yaml"))}
    if raw.framework != "actionmailer" or len(ymls) != 1:
        return _Target(raw.file)
    return _Target(ymls.pop(), rails_env(Path(raw.file), env)[0])


def _apply(text: str, raw: RawConfig, fix: Fix, syntax: str, target: _Target) -> Patched:
    if target.section is None:
        return apply_fix(text, raw, fix, syntax)
    return apply_yaml_fix(text, raw, fix, target.path, target.section)


def _split(raw: RawConfig, fix: Fix, target: _Target) -> tuple[Fix, dict[str, Fix]]:
    """The part of ``fix`` for the config's own file, and one part per other file of the same kind that holds a
    key the fix removes or changes: a Rails initializer's ``smtp_settings.merge(ssl: true)`` is edited where it
    is written, since the app loads it last. Only when this file's own hash survives (the other file amends
    it): a new key then goes here, and the app sees it. A Python module is not split: an assignment at its end
    overrides what it imports (writers/patch.py), and the module it imports may be another app's too (settings
    shared by development and production)."""
    own = Path(raw.file).suffix
    if target.section is not None or own == ".py" or not any(v.origin is not None and v.origin.file == raw.file
                                                             for v in raw.values.values()):
        return fix, {}

    def elsewhere(key: str) -> str | None:  # (a literal read from the env file again is edited where it stands)
        v = raw.values.get(key)
        f = v.origin.file if v is not None and v.origin is not None else None
        return f if f is not None and f != raw.file and (Path(f).suffix == own or fix.group in (
            "env_restore", "value_in_place")) else None

    parts: dict[str, Fix] = {}
    for key, where in fix.remove:
        if (f := elsewhere(key)) is not None:
            part = parts.get(f, Fix(fix.group))
            parts[f] = replace(part, remove=(*part.remove, (key, where)))
    for key, line in zip(fix.keys, fix.lines, strict=True):
        if (f := elsewhere(key)) is not None:
            part = parts.get(f, Fix(fix.group))
            parts[f] = replace(part, lines=(*part.lines, line), keys=(*part.keys, key))
    if not parts:
        return fix, {}
    moved = {k for p in parts.values() for k in (*p.keys, *(k for k, _ in p.remove))}
    kept = [(k, ln) for k, ln in zip(fix.keys, fix.lines, strict=True) if k not in moved]
    return replace(fix, lines=tuple(ln for _, ln in kept), keys=tuple(k for k, _ in kept),
                   remove=tuple((k, w) for k, w in fix.remove if k not in moved)), parts


def _apply_all(result: Repair, current: RawConfig, fix: Fix, syntax: str, target: _Target) -> tuple[
        str, dict[str, tuple[str, str]]]:
    """``fix`` applied to the config's file and to the other files that hold what it changes: (the config's
    new text, every other file's (original, new) text)."""
    mine, parts = _split(current, fix, target)
    others = dict(result.others)
    for path, part in parts.items():
        before, now = others.get(path) or (read_text(Path(path)),) * 2
        others[path] = (before, apply_fix(now, replace(current, file=path), part, syntax).text)
    return _apply(result.fixed, current, mine, syntax, target).text, others


def _mirror(tmp: Path, raw: RawConfig, target: _Target, text: str) -> tuple[Path, Path]:
    """A copy of the app's config file and the patched YAML at the same places relative to the app's root
    (config_for finds config/<name>.yml from the config's folder): (config copy, YAML copy)."""
    yml, rb = Path(target.path).resolve(), Path(raw.file).resolve()
    root = yml.parent.parent
    try:
        rb_rel, yml_rel = rb.relative_to(root), yml.relative_to(root)
    except ValueError:
        raise UserError("fix.error.reread", file=raw.file) from None
    app = tmp / "app"
    for rel, body in ((rb_rel, read_text(rb)), (yml_rel, text)):
        (app / rel).parent.mkdir(parents=True, exist_ok=True)
        (app / rel).write_text(body, encoding="utf-8")
    return app / rb_rel, app / yml_rel


def _reread(tmp: Path, raw: RawConfig, text: str, env: Mapping[str, str] | None,
            target: _Target | None = None, others: dict[str, tuple[str, str]] | None = None) -> RawConfig:
    """The patched text, read by the same reader: under the same file name, so the same syntax applies.
    A patched config_for YAML is read through a copy of the app's config file next to it; another file the fix
    changed (``others``) is read again from its patched text, and what it now sets replaces what it set."""
    target = target or _Target(raw.file)
    syntax = syntax_of(Path(raw.file)) or ""
    # the copy has no neighbours: the env file the app's code loads is still the original's (read_file's home)
    raw_env, env = env, with_loaded(loaded_env(Path(raw.file), read_text(Path(raw.file)), syntax), env, syntax)
    if target.section is None:
        path = tmp / Path(raw.file).name
        path.write_text(text, encoding="utf-8")
        renamed = {str(path): raw.file}
        # files the reader reads beside the config (Laravel's config/mail.php, whose env() reads the .env): the
        # copy gets them at the same place, so their values are read again against the patched text
        for rel in framework_facts(raw.framework).get("reread_with", []):
            if (home := Path(raw.file).parent / rel).is_file():  # as the fix left it, when it changed it
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                patched = (others or {}).get(str(home))
                (tmp / rel).write_text(patched[1] if patched else read_text(home), encoding="utf-8")
                renamed[str(tmp / rel)] = str(home)
    else:
        path, yml = _mirror(tmp, raw, target, text)
        renamed = {str(path): raw.file, str(path.resolve()): raw.file, str(yml): target.path,
                   str(yml.resolve()): target.path}
    for again in read_file(path, framework=raw.framework, env=raw_env, home=Path(raw.file)):
        if _same(raw, again):  # (an msmtprc: one config per account, the same account again)
            # a fix never writes a secret anew, but a removed line moves it and a trimmed value changes it: the
            # login reads it back from the patched copy, at the copy's line (user-facing origins name the user's
            # file). One the environment or a file gives is read there again: a moved env-file load, or a
            # .strip() added, changes what it is
            values = {k: replace(v, origin=replace(v.origin, file=renamed[v.origin.file]),
                                 read_from=v.origin.file if v.secret else None)
                      if v.origin is not None and v.origin.file in renamed else v for k, v in again.values.items()}
            # values another file of the app decides (a Rails initializer, config/smtp.yml) still decide: the
            # temporary copy has no such neighbours (readers/rails_merge.py), and the patch never touches them.
            # A Python copy is read as if at home (its imports, the files it loads), and a line the fix added at
            # its end overrides an imported value: there the re-read decides alone
            if syntax != "python":
                values |= {k: v for k, v in raw.values.items()
                           if v.origin is not None and v.origin.file not in (raw.file, target.path, *renamed.values())}
            for other, (_, now) in (others or {}).items():
                if other in renamed.values():
                    continue  # read again beside the copy, above
                values = {k: v for k, v in values.items() if v.origin is None or v.origin.file != other}
                values |= _read_other(tmp, raw, other, now, env)
            from .credentials import app_auth_args

            return app_auth_args(replace(again, file=raw.file, values=values, framework_version=raw.framework_version,
                                         version_from=raw.version_from), env)
    raise UserError("fix.error.reread", file=raw.file)


def _read_other(tmp: Path, raw: RawConfig, path: str, text: str, env: Mapping[str, str] | None) -> dict[str, Any]:
    """What another file of the app sets once patched (read alone, as an amendment of the hash), under its own
    name; what it set before when the patched text cannot be read (the re-check then still sees the failure)."""
    copy = tmp / "others" / Path(path).name
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(text, encoding="utf-8")
    try:
        configs = [c for c in read_file(copy, framework=raw.framework, env=env) if c.framework == raw.framework]
    except UserError:
        configs = []
    if len(configs) != 1:
        return {k: v for k, v in raw.values.items() if v.origin is not None and v.origin.file == path}
    return {k: replace(v, origin=replace(v.origin, file=path)) if v.origin is not None else v
            for k, v in configs[0].values.items()}


def repair(raw: RawConfig, env: dict[str, str] | None, probe_target: str | None, ca_file: str | None,
           timeout: float) -> Repair:
    """Fix, re-read, re-check until it delivers: the printed change is one the prediction engine has seen
    deliver, not a list of independent suggestions that might contradict each other."""
    target = _target(raw, env)
    text = read_text(Path(target.path))
    ca_file = os.path.abspath(ca_file) if ca_file else None  # written into the config: relative to nothing
    [first] = check([raw], probe_target, ca_file, timeout, env=env)
    result = Repair(raw, first, first, text=text, fixed=text, path=target.path)
    syntax = framework_facts(raw.framework).get("syntax", "dotenv")
    seen: set[str | None] = set()
    current, c = raw, first
    if _fails(first) and (changed := _environment_fix(raw, env, probe_target, ca_file, timeout)) is not None:
        step, result.final = changed
        result.steps.append(Step(first.prediction, step, convention=(  # type: ignore[arg-type]
            f"fix.convention.{step.group}", {"vars": ", ".join(step.unset or step.env)})))
        result.unset, result.env = step.unset, step.env
        return result
    with tempfile.TemporaryDirectory(prefix="smtp-doctor-fix-") as tmp:
        cache = Path(raw.file).parent / LARAVEL_CONFIG_CACHE
        if _fails(first) and "readers.note.laravel_config_cached" in raw.notes and cache.is_file() and (
                uncached := _without_cache(Path(tmp) / "uncached", raw, env, cache)) is not None:
            # the app reads the cache, not the files a fix edits: it goes first (php artisan config:clear)
            result.deleted = (str(cache),)
            result.steps.append(Step(first.prediction, Fix("config_cache"), convention=(  # type: ignore[arg-type]
                "fix.convention.config_cache", {"file": str(cache)})))
            current = result.raw = uncached  # (whose password line the diff masks is the .env's now)
            [c] = check([current], probe_target, ca_file, timeout, env=env)
            result.final = c
        # the framework's conventions first (they change what the app reads), then the provider's documentation
        # for what it then reads: neither needs the probe, so they come before the fixes it decides
        for stage in ("framework", "provider"):
            done = current
            found = convention_fixes(current) if stage == "framework" else \
                provider_fixes(current, c.settings, present(current))
            for key, params, pfix in found:
                try:
                    result.fixed, result.others = _apply_all(result, current, pfix, syntax, target)
                except Unpatchable as exc:
                    result.stopped = str(exc)
                    continue
                assert c.prediction is not None
                result.steps.append(Step(c.prediction, pfix, convention=(key, params)))
                current = _reread(Path(tmp), current, result.fixed, env, target, result.others)
            if current is not done:
                [c] = check([current], probe_target, ca_file, timeout, env=env)
                result.final = c
        for _ in range(MAX_ROUNDS):
            pred, fix = c.prediction, c.fix
            if pred is None or pred.verdict not in (Verdict.FAILS, Verdict.UNREACHABLE):
                break
            if pred.verdict is Verdict.UNREACHABLE and (fix is None or not (fix.lines or fix.remove)):
                break  # nothing in the app reaches it (a config's fault that does, "host:587", has lines)
            if fix is not None and fix.env and not (fix.lines or fix.remove):
                result.steps.append(Step(pred, fix))
                result.env = fix.env
                # re-checked with those lines in the app's environment: an app whose own CA file replaces the
                # default store (PHP's stream cafile) never reads SSL_CERT_FILE, and then it does not deliver
                # the lines as the user's env file will hold them: dotenv's parser undoes render_line's quoting
                lines = {e.key: e.value for e in parse_env(Path(result.path), "\n".join(fix.env))}
                given = replace(current, app_env={**current.app_env, **lines})  # trust reads the app's variables
                [c] = check([given], probe_target, ca_file, timeout, env={**(env or {}), **lines})
                result.final = c
                break
            if fix is None or not (fix.lines or fix.remove):
                if fix is not None and fix.text_key:  # the words are the fix: shown as a step, never "see above"
                    result.steps.append(Step(pred, fix))
                result.stopped = "fix.stopped.words_only"
                break
            if pred.failure in seen:
                result.stopped = "fix.stopped.repeats"
                break
            if fix.group == "hostname" and c.target and c.target[0] != c.plan.host:
                result.stopped = "fix.stopped.stand_in_name"  # never point the app at the stand-in's name
                break
            seen.add(pred.failure)
            # a variable the fix writes that a literal in another of the app's files shadows: read it there first
            for key, params, restore in shadowed_env_fixes(current, writes=fix.keys):
                try:
                    result.fixed, result.others = _apply_all(result, current, restore, syntax, target)
                except Unpatchable:
                    continue
                result.steps.append(Step(pred, restore, convention=(key, params)))
                current = _reread(Path(tmp), current, result.fixed, env, target, result.others)
            try:
                result.fixed, result.others = _apply_all(result, current, fix, syntax, target)
            except Unpatchable as exc:
                result.stopped = str(exc)
                result.steps.append(Step(pred, fix))
                break
            result.steps.append(Step(pred, fix))
            current = _reread(Path(tmp), current, result.fixed, env, target, result.others)
            [c] = check([current], probe_target, ca_file, timeout, env=env)
            result.final = c
        _harden(result, current, Path(tmp), env, probe_target, ca_file, timeout, syntax, target)
    return result


def _fails(c: Checked) -> bool:
    return c.prediction is not None and c.prediction.verdict in (Verdict.FAILS, Verdict.UNREACHABLE)


def _in_env(raw: RawConfig, env: dict[str, str]) -> RawConfig | None:
    """The config read again from its file as the app reads it in the environment ``env``."""
    from .credentials import app_auth_args

    again = [c for c in read_file(Path(raw.file), framework=raw.framework, env=env) if _same(raw, c)]
    return app_auth_args(again[0], env) if len(again) == 1 else None


def _same(raw: RawConfig, again: RawConfig) -> bool:
    """``again`` (the file read again) is ``raw``'s config: its framework, its transport of a list, and in an
    msmtprc its account."""
    account = raw.values.get("account")
    return again.framework == raw.framework and again.alternative == raw.alternative and (
        account is None or getattr(again.values.get("account"), "value", None) == account.value)


def _environment_fix(raw: RawConfig, env: dict[str, str] | None, probe_target: str | None, ca_file: str | None,
                     timeout: float) -> tuple[Fix, Checked] | None:
    """A change of the app's environment alone that makes it deliver, checked by reading the config again in it:
    variables that override what its files set removed (RawValue.overrides: a SPRING_MAIL_PORT or MAILER_DSN left
    from an old deploy), or a Spring profile whose file holds the mail settings activated (lint SD122). Nothing
    in the files changes. None when neither delivers."""
    if env is None:
        return None
    tries: list[Fix] = []
    names = sorted({v.env for v in raw.values.values() if v.overrides is not None and v.env})
    if names:
        tries.append(Fix("env_overrides", unset=tuple(names)))
    if "readers.note.spring_profile_inactive" in raw.notes:
        tries += [Fix("profile_inactive", env=(f"SPRING_PROFILES_ACTIVE={p}",))
                  for p in inactive_mail_profiles(Path(raw.file), lambda f: read_file(f, framework="spring"))]
    for fix in tries:
        changed = {k: v for k, v in env.items() if k not in fix.unset} | dict(ln.split("=", 1) for ln in fix.env)
        again = _in_env(raw, changed)
        if again is None:
            continue
        [c] = check([again], probe_target, ca_file, timeout, env=changed)
        if c.prediction is not None and c.prediction.verdict is Verdict.DELIVERED:
            return fix, c
    return None


def _without_cache(tmp: Path, raw: RawConfig, env: dict[str, str] | None, cache: Path) -> RawConfig | None:
    """The config as the app reads it once its config cache is gone (``php artisan config:clear`` deletes it): read
    again from a copy with no cache beside it, without the values the cache gave."""
    tmp.mkdir()
    kept = replace(raw, values={k: v for k, v in raw.values.items() if v.origin is None or v.origin.file != str(cache)})
    try:
        return _reread(tmp, kept, read_text(Path(raw.file)), env)
    except UserError:
        return None


def _harden(result: Repair, current: RawConfig, tmp: Path, env: dict[str, str] | None, probe_target: str | None,
            ca_file: str | None, timeout: float, syntax: str, target: _Target) -> None:
    """A config that delivers with verification off or opportunistic STARTTLS: each remedy is applied,
    re-read and re-checked, and kept only when the config still delivers and the risk is gone."""
    c = result.final
    tried: set[str] = set()
    for _ in range(MAX_ROUNDS):
        if c.prediction is None or c.prediction.verdict is not Verdict.DELIVERED or c.facts is None:
            break
        found = risks(c.plan, c.prediction, c.facts)
        todo = [(risk, fix) for risk, fix in harden(c.plan, c.prediction, c.facts, present(current))
                if risk not in tried]
        result.kept_risks = [r for r in found if r not in {r for r, _ in todo}]
        if not todo:
            break
        risk, fix = todo[0]
        tried.add(risk)
        try:
            fixed, others = _apply_all(result, current, fix, syntax, target)
        except Unpatchable:
            continue
        again = _reread(tmp, current, fixed, env, target, others)
        [c2] = check([again], probe_target, ca_file, timeout, env=env)
        if (c2.prediction is None or c2.prediction.verdict is not Verdict.DELIVERED or c2.facts is None
                or risk in risks(c2.plan, c2.prediction, c2.facts)):
            continue  # the change would break delivery or not remove the risk: not offered
        result.steps.append(Step(c.prediction, fix, risk))
        result.fixed, result.others, current, c = fixed, others, again, c2
        result.final = c
    if c.prediction is not None and c.prediction.verdict is Verdict.DELIVERED and c.facts is not None:
        result.kept_risks = list(risks(c.plan, c.prediction, c.facts))


def wants_repair(c: Checked) -> bool:
    """``check --fix`` repairs a config that fails, or one that delivers with a risk a change can remove."""
    return c.prediction is not None and (c.prediction.verdict is Verdict.FAILS or c.facts is not None
                                         and bool(risks(c.plan, c.prediction, c.facts)))


def _apps(results: list[Repair]) -> list[list[Repair]]:
    """The repairs by app: one each, except a transport list's (RawConfig.alternative), which is one app that sends
    through the first transport that works (check.list_outcomes)."""
    lists: dict[tuple[str, str], list[Repair]] = {}
    out: list[list[Repair]] = []
    for r in results:
        if r.raw.alternative is None:
            out.append([r])
        elif (key := (r.raw.file, r.raw.framework)) not in lists:
            lists[key] = [r]
            out.append(lists[key])
        else:
            lists[key].append(r)
    return out


def write(results: list[Repair]) -> bool:
    """Apply every repair predicted to deliver to its file; True when any file changed. Of a transport list only
    the first transport that delivers is written (none when it delivers as it is): the others' fixes, made from
    the same original text, would overwrite it."""
    written = False
    for app in _apps(results):
        r = next((r for r in app if r.delivers), app[0])
        if r.delivers and r.changed:
            for path, (before, after) in ((r.path, (r.text, r.fixed)), *r.others.items()):
                if before != after:
                    Path(path).write_text(after, encoding="utf-8")
            for path in r.deleted:
                Path(path).unlink(missing_ok=True)
            written = True
    return written


def exit_code(results: list[Repair], written: bool) -> ExitCode:
    """By app (a transport list is one: _apps): 3 when one is unreachable as written and no change reaches it
    (string keys: the change does), 0 when every app delivers as it is or as written, else 1."""
    def verdict(r: Repair) -> Verdict | None:
        return r.first.prediction.verdict if r.first.prediction else None

    apps = _apps(results)
    if any(all(verdict(r) is Verdict.UNREACHABLE and not r.delivers for r in app) for app in apps):
        return ExitCode.UNREACHABLE
    if all(any(verdict(r) is Verdict.DELIVERED and not r.steps for r in app) for app in apps):
        return ExitCode.OK
    if written and all(any(r.delivers for r in app) for app in apps):
        return ExitCode.OK
    return ExitCode.PROBLEMS
