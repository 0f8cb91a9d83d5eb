"""Django ``EMAIL_*`` and Flask-Mail ``MAIL_*`` settings from Python source, with ``ast`` (never imported).

Settings modules are code, so values are folded from the expressions people write there —
``os.environ.get``, ``os.getenv``, django-environ's ``env.bool(...)``, python-decouple's ``config(...)``,
``int()``, ``bool()`` (with Python's truthiness, which is the trap), ``==``, ``.lower()`` — against
the env mapping given, and through the settings module's own small helpers (``def env_bool(name, default=False):
... return value.strip().lower() in ("1", "true")``): a helper is run on its arguments when its body is only
assignments, ``if`` and ``return`` over such expressions. A YAML, TOML or JSON file the module loads is read
as it loads it (:mod:`.datafile`), found from ``__file__``. Anything else is kept as ``EXPRESSION``.
"""

from __future__ import annotations

import ast
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from ..errors import UserError
from ..settings import Origin, RawConfig, ValueKind
from . import datafile
from ._common import EXPR, NIL, Ev, Lines, add, file_content, finish, literal, raw, read_text, syntax_error, unknown
from .loaded_env import not_known

_PREFIX = {"django": "EMAIL_", "flask_mail": "MAIL_"}
_EXTRA = {"django": ("DEFAULT_FROM_EMAIL", "SERVER_EMAIL")}
_ENVIRON_TRUE = {"true", "on", "ok", "y", "yes", "1"}  # django-environ Env.BOOLEAN_TRUE_STRINGS
_DECOUPLE_TRUE = {"1", "yes", "true", "on", "y", "t"}  # python-decouple strtobool
#: django-environ Env.email_url → email_url_config (environ/environ.py 0.14, EMAIL_SCHEMES and _EMAIL_BASE_OPTIONS):
#: the settings one URL becomes. smtps:// and smtp+tls:// both set EMAIL_USE_TLS (STARTTLS); only smtp+ssl:// sets
#: EMAIL_USE_SSL; of the query only email_use_tls / email_use_ssl reach the settings, as strings unless digits
#: ("False" is a true string to Django); every other option goes to OPTIONS, which Django's SMTP backend ignores
_EMAIL_URL_SCHEMES: dict[str, dict[str, bool]] = {"smtp": {}, "smtps": {"EMAIL_USE_TLS": True},
                                                  "smtp+tls": {"EMAIL_USE_TLS": True},
                                                  "smtp+ssl": {"EMAIL_USE_SSL": True}}
_EMAIL_URL_QUERY = ("EMAIL_USE_TLS", "EMAIL_USE_SSL")


#: a password read from a file (a Docker secret): open(p) and Path(p) give a handle and a path, whose
#: .read() / .read_text() is the file's whole content (io.TextIOWrapper.read, pathlib.Path.read_text)
_HANDLE, _PATH = "<file>", "<path>"
_OPENERS = {"open": _HANDLE, "io.open": _HANDLE, "Path": _PATH, "pathlib.Path": _PATH}
_READS = {"read": (_HANDLE,), "read_text": (_PATH,), "open": (_PATH,)}
#: PyYAML loaders that resolve scalars as the safe loader does (BaseLoader does not: every scalar is a string)
_YAML_LOADERS = ("SafeLoader", "FullLoader", "Loader", "UnsafeLoader", "CSafeLoader", "CFullLoader", "CLoader")
#: path arithmetic the settings module does to find a file beside itself (``BASE_DIR / "mail.yaml"``)
_SAME_PATH = ("resolve", "absolute", "expanduser")
_OS_PATH: dict[str, Callable[..., str]] = {"os.path.dirname": os.path.dirname, "os.path.abspath": os.path.abspath,
            "os.path.realpath": os.path.realpath, "os.path.join": os.path.join,
            "os.path.expanduser": os.path.expanduser}


def _path(where: str) -> Ev:
    """A ``pathlib.Path`` to ``where``: opened or read later, or joined further."""
    return Ev(ValueKind.EXPRESSION, _PATH, file=(where, False))


def _where(ev: Ev) -> str | None:
    """The path a str or a Path value names, when it is known."""
    if ev.kind is ValueKind.STRING:
        return str(ev.value)
    if ev.value == _PATH and ev.file is not None:
        return ev.file[0]
    return None


def _py_truthy(ev: Ev) -> bool:
    return bool(ev.value)


MAX_CALL_DEPTH = 4  #: a helper calling a helper …: deeper (or recursive) calls are not followed


class _Return(Exception):
    """A helper's ``return``, carrying its value out of the statements walked."""

    def __init__(self, value: Ev) -> None:
        self.value = value


class _Eval:
    def __init__(self, env: Mapping[str, str] | None, scope: dict[str, Ev],
                 helpers: dict[str, ast.FunctionDef] | None = None, depth: int = 0) -> None:
        self.env = env
        self.scope = scope
        self.casts: dict[str, str] = {}  # django-environ Env(X=(bool, default)) declarations
        self.helpers = helpers if helpers is not None else {}  # the module's own functions, by name
        self.depth = depth
        self.dicts: dict[str, dict[str, Ev]] = {}  # names bound to a settings dict (env.email_url(...))

    def lookup(self, name: str, default: Ev | None) -> Ev:  # default None: no default given
        if self.env is None or not_known(self.env, name):
            return Ev(ValueKind.ENV, None, name)
        if name in self.env:
            return Ev(ValueKind.STRING, self.env[name], name)
        if default is None:
            return Ev(ValueKind.ENV, None, name)  # KeyError / ImproperlyConfigured at start-up
        return Ev(default.kind, default.value, name) if default.known else unknown(default)

    def __call__(self, node: ast.expr | None) -> Ev:  # noqa: C901 - one dispatch over expression types
        if node is None:
            return NIL
        if isinstance(node, ast.Constant):
            return literal(node.value) if not isinstance(node.value, bytes) else EXPR
        if isinstance(node, ast.Name):
            return self.scope.get(node.id, EXPR)
        if isinstance(node, ast.Attribute) and node.attr == "parent" and \
                (where := _where(base := self(node.value))) is not None and base.value == _PATH:
            return _path(os.path.dirname(where))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and (base := self(node.left)).value == _PATH \
                and (folder := _where(base)) is not None and (name := _where(self(node.right))) is not None:
            return _path(os.path.join(folder, name))
        if isinstance(node, ast.Subscript):
            key = self(node.slice)
            if _dotted(node.value) in ("os.environ", "environ") and key.kind is ValueKind.STRING:
                return self.lookup(key.value, None)
            if isinstance((doc := self(node.value)).value, datafile.Document):
                return datafile.item(doc, key, None)
            held = self.settings_dict(node.value)
            if held is not None and key.kind is ValueKind.STRING:
                return held.get(key.value, EXPR)  # a KeyError when the app starts: not told here
            return EXPR
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BoolOp):
            values = [self(v) for v in node.values]
            for v in values:
                if not v.known:
                    return unknown(*values)
                if _py_truthy(v) == isinstance(node.op, ast.Or):
                    return v
            return values[-1]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            v = self(node.operand)
            return Ev(ValueKind.BOOL, not _py_truthy(v), v.env) if v.known else unknown(v)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self(node.operand)
            if v.kind in (ValueKind.INT, ValueKind.FLOAT):
                return Ev(v.kind, -v.value, v.env)
            return unknown(v)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = self(node.left), self(node.comparators[0])
            op = node.ops[0]
            if isinstance(op, ast.In | ast.NotIn) and isinstance(node.comparators[0], ast.Tuple | ast.List | ast.Set):
                items = [self(e) for e in node.comparators[0].elts]
                if left.known and all(i.known for i in items):
                    hit = any(i.value == left.value for i in items)
                    return Ev(ValueKind.BOOL, hit == isinstance(op, ast.In), left.env)
                return unknown(left, *items)
            if not (left.known and right.known):
                return unknown(left, right)
            if isinstance(op, ast.Eq | ast.NotEq):
                return Ev(ValueKind.BOOL, (left.value == right.value) == isinstance(op, ast.Eq), left.env or right.env)
            if isinstance(op, ast.Is | ast.IsNot) and ValueKind.NIL in (left.kind, right.kind):
                same = left.kind is right.kind
                return Ev(ValueKind.BOOL, same == isinstance(op, ast.Is), left.env or right.env)
            return EXPR
        if isinstance(node, ast.IfExp):
            cond = self(node.test)
            if not cond.known:
                return unknown(cond)
            return self(node.body if _py_truthy(cond) else node.orelse)
        return EXPR

    def call(self, node: ast.Call) -> Ev:
        name = _dotted(node.func)
        args = node.args
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if name in ("os.environ.get", "environ.get", "os.getenv", "getenv") and args:
            key = self(args[0])
            if key.kind is not ValueKind.STRING:
                return EXPR
            default = self(args[1]) if len(args) > 1 else self(kw.get("default")) if "default" in kw else NIL
            return self.lookup(key.value, default)
        if name in ("int", "float", "str", "bool") and len(args) == 1:
            return _convert(name, self(args[0]))
        if name in _OPENERS and args:  # open(p), Path(p): what .read() / .read_text() will read
            where = _where(self(args[0]))
            return Ev(ValueKind.EXPRESSION, _OPENERS[name], file=(where, False)) if where is not None else EXPR
        if name in _OS_PATH and args:
            parts = [_where(self(a)) for a in args]
            if None in parts or (len(parts) > 1 and name != "os.path.join"):
                return EXPR
            return Ev(ValueKind.STRING, _OS_PATH[name](*parts))
        if name == "str" and len(args) == 1 and (a_path := self(args[0])).value == _PATH:
            return Ev(ValueKind.STRING, _where(a_path))
        if datafile.is_loader(name) and args:
            return self.load(name, node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in _SAME_PATH and not args and \
                (base := self(node.func.value)).value == _PATH:
            return base
        if isinstance(node.func, ast.Attribute) and node.func.attr in _READS:
            opened = self(node.func.value)
            if opened.file is not None and opened.value in _READS[node.func.attr]:
                if node.func.attr == "open":
                    return Ev(ValueKind.EXPRESSION, _HANDLE, file=opened.file)
                return file_content(opened.file[0], trimmed=False)
            return EXPR
        if name in self.helpers:
            return self.run_helper(self.helpers[name], node)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "get" and args and \
                isinstance((doc := self(node.func.value)).value, datafile.Document):
            return datafile.item(doc, self(args[0]), self(args[1]) if len(args) > 1 else NIL)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "get" and args and \
                (held := self.settings_dict(node.func.value)) is not None:
            key = self(args[0])
            if key.kind is ValueKind.STRING:
                return held.get(key.value, self(args[1]) if len(args) > 1 else NIL)
            return EXPR
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("strip", "rstrip") and \
                (read := self(node.func.value)).file is not None and read.value not in (_HANDLE, _PATH):
            return file_content(read.file[0], trimmed=True)  # the secret's trailing newline goes
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("lower", "upper", "strip") and not args:
            base = self(node.func.value)
            if base.kind is ValueKind.STRING:
                return Ev(ValueKind.STRING, getattr(str, node.func.attr)(base.value), base.env)
            return unknown(base)
        # django-environ: env('X'), env.bool('X', default=False), env.int(...); python-decouple: config(...)
        cast = None
        if name in ("config", "decouple.config"):
            cast = "decouple"
        elif name == "env":
            cast = "env"
        elif isinstance(node.func, ast.Attribute) and _dotted(node.func.value) == "env" and \
                node.func.attr in ("bool", "int", "float", "str"):
            cast = node.func.attr
        if cast is None or not args:
            return EXPR
        key = self(args[0])
        if key.kind is not ValueKind.STRING:
            return EXPR
        default_node = kw.get("default", args[1] if len(args) > 1 else None)
        fallback = self(default_node) if default_node is not None else None
        got = self.lookup(key.value, fallback)
        if not got.known or got.kind is not ValueKind.STRING:
            return got  # a default keeps its own type, as both libraries return it uncast
        if cast == "decouple":
            kind = _dotted(kw["cast"]) if "cast" in kw else "str"
            return _cast(kind, got, _DECOUPLE_TRUE)
        if cast == "env":
            cast = self.casts.get(key.value, "str")
        return _cast(cast, got, _ENVIRON_TRUE)

    def load(self, name: str, node: ast.Call) -> Ev:
        """``yaml.safe_load(fh)``, ``tomllib.load(fh)``, ``json.loads(path.read_text())``: the document the app loads,
        parsed here by the same rules (:mod:`.datafile`). A loader other than the safe one's scalars is not told."""
        loader = next((k.value for k in node.keywords if k.arg == "Loader"),
                      node.args[1] if len(node.args) > 1 else None)
        if loader is not None and _dotted(loader).rsplit(".", 1)[-1] not in _YAML_LOADERS:
            return EXPR  # BaseLoader keeps every scalar a string
        given = self(node.args[0])
        if given.value == _HANDLE and given.file is not None:
            text = datafile.read(given.file[0]) if os.path.isabs(given.file[0]) else None
            return datafile.parse(name, text, given.file[0]) if text is not None else EXPR
        if given.kind is ValueKind.STRING:
            return datafile.parse(name, str(given.value), given.file[0] if given.file else None)
        return EXPR

    def settings_dict(self, node: ast.expr) -> dict[str, Ev] | None:
        """The settings a dict expression holds: ``env.email_url('EMAIL_URL', default=...)`` (also
        ``env.email(...)``), or a name bound to one; None when it is no such dict or its URL is not known."""
        if isinstance(node, ast.Name):
            return self.dicts.get(node.id)
        if not isinstance(node, ast.Call) or not _is_email_url(node):
            return None
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        var = self(node.args[0]) if node.args else self(kw["var"]) if "var" in kw else literal("EMAIL_URL")
        default_node = kw.get("default", node.args[1] if len(node.args) > 1 else None)
        if var.kind is not ValueKind.STRING:
            return None
        url = self.lookup(var.value, self(default_node) if default_node is not None else None)
        return _email_url(url) if url.kind is ValueKind.STRING else None

    def run_helper(self, fn: ast.FunctionDef, node: ast.Call) -> Ev:
        """The helper's return value for these arguments, or EXPRESSION when its body does more than this
        evaluator follows (a loop, a raise, a call it does not know: the value is then not told)."""
        a = fn.args
        if self.depth >= MAX_CALL_DEPTH or a.vararg or a.kwarg or a.posonlyargs or a.kwonlyargs or \
                any(isinstance(arg, ast.Starred) for arg in node.args) or len(node.args) > len(a.args):
            return EXPR
        names = [arg.arg for arg in a.args]
        defaults = dict(zip(names[len(names) - len(a.defaults):], a.defaults, strict=True))
        given = {k.arg: k.value for k in node.keywords if k.arg}
        if None in (k.arg for k in node.keywords) or not given.keys() <= set(names):
            return EXPR
        local: dict[str, Ev] = dict(self.scope)
        for i, pname in enumerate(names):
            if i < len(node.args):
                local[pname] = self(node.args[i])
            elif pname in given:
                local[pname] = self(given[pname])
            elif pname in defaults:
                local[pname] = self(defaults[pname])  # (evaluated in the module's scope, as Python does)
            else:
                return EXPR  # a TypeError when the app starts: not this reader's to tell
        inner = _Eval(self.env, local, self.helpers, self.depth + 1)
        inner.casts = self.casts
        try:
            inner.run(fn.body)
        except _Return as done:
            return done.value
        return NIL  # falling off the end returns None

    def run(self, body: list[ast.stmt]) -> None:
        """Walk a helper's statements; ``return`` raises :class:`_Return`."""
        for stmt in body:
            if isinstance(stmt, ast.Return):
                raise _Return(self(stmt.value) if stmt.value is not None else NIL)
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.scope[stmt.targets[0].id] = self(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                self.scope[stmt.target.id] = self(stmt.value)
            elif isinstance(stmt, ast.If):
                cond = self(stmt.test)
                if not cond.known:
                    raise _Return(unknown(cond))
                self.run(stmt.body if _py_truthy(cond) else stmt.orelse)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # a docstring
            else:  # a loop, a raise, a call for its effect …: the value is not told
                raise _Return(EXPR)


def _dotted(node: ast.expr | None) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _is_email_url(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
        "email_url", "email")


def _email_url(url: Ev) -> dict[str, Ev] | None:
    """django-environ's email_url_config over a known URL (see _EMAIL_URL_SCHEMES); None for another backend or
    a URL it refuses (ImproperlyConfigured, a port that is no number)."""
    u = urlparse(str(url.value))
    try:
        port = u.port
    except ValueError:
        return None
    if u.scheme not in _EMAIL_URL_SCHEMES:
        return None

    def of(value: object) -> Ev:
        ev = literal(value)
        return Ev(ev.kind, ev.value, url.env)

    out = {"EMAIL_BACKEND": of("django.core.mail.backends.smtp.EmailBackend"), "EMAIL_HOST": of(u.hostname),
           "EMAIL_PORT": of(port), "EMAIL_HOST_USER": of(unquote(u.username) if u.username is not None else None),
           "EMAIL_HOST_PASSWORD": of(unquote(u.password) if u.password is not None else None)}
    out |= {k: of(v) for k, v in _EMAIL_URL_SCHEMES[u.scheme].items()}
    for k, v in parse_qs(u.query).items():
        if k.upper() in _EMAIL_URL_QUERY:
            out[k.upper()] = of(int(v[0]) if v[0].isdigit() else v[0])
    return out


def _convert(name: str, ev: Ev) -> Ev:
    if not ev.known:
        return unknown(ev)
    try:
        if name == "bool":
            return Ev(ValueKind.BOOL, bool(ev.value), ev.env)
        if name == "int" and ev.kind in (ValueKind.STRING, ValueKind.INT, ValueKind.FLOAT, ValueKind.BOOL):
            return Ev(ValueKind.INT, int(ev.value), ev.env)
        if name == "float" and ev.kind in (ValueKind.STRING, ValueKind.INT, ValueKind.FLOAT):
            return Ev(ValueKind.FLOAT, float(ev.value), ev.env)
        if name == "str":
            return Ev(ValueKind.STRING, "None" if ev.kind is ValueKind.NIL else str(ev.value), ev.env)
    except ValueError:
        return Ev(ValueKind.EXPRESSION, None, ev.env)  # int("abc") raises when the app starts
    return unknown(ev)


def _cast(kind: str, ev: Ev, true_strings: set[str]) -> Ev:
    if kind == "bool":
        return Ev(ValueKind.BOOL, str(ev.value).strip().lower() in true_strings, ev.env)
    if kind in ("int", "float"):
        return _convert(kind, ev)
    return ev


def read_python(path: Path, text: str, framework: str | None, env: Mapping[str, str] | None,
                _imports: int = 0, home: Path | None = None) -> list[RawConfig]:
    """Module-level settings (one config per framework found) and one config per Flask config class.
    ``from base import *`` of a module beside it (split settings) brings that module's settings in where the
    line stands, so later assignments override them as Python's do; ``_imports`` bounds the chain. ``home``:
    where the file stands in the app when ``path`` is a copy (``__file__``, and the modules beside it)."""
    try:
        with warnings.catch_warnings():  # CPython prints SyntaxWarnings with the file's own line: never ours to show
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise syntax_error(path, exc.lineno or 1, exc.offset or 1) from None
    except (MemoryError, RecursionError):  # CPython's parser stack overflows on absurd nesting
        raise UserError("readers.error.too_deep", file=str(path)) from None
    lines = Lines(text)
    frameworks = [framework] if framework else ["django", "flask_mail"]
    module_scope: dict[str, Ev] = {"__file__": Ev(ValueKind.STRING, str((home or path).resolve()))}
    evaluator = _Eval(env, module_scope)
    module = {f: RawConfig(f, str(path)) for f in frameworks}
    classes: list[RawConfig] = []

    def record(configs: dict[str, RawConfig], key: str, value: ast.expr, spelled: str, ev: _Eval,
               held: Ev | None = None) -> None:
        """``key`` set to ``value`` (or to ``held``, a value ``value`` holds: ``vars().update(EMAIL_CONFIG)``)."""
        for fw, config in configs.items():
            if key.startswith(_PREFIX[fw]) or key in _EXTRA.get(fw, ()):
                origin = Origin(str(path), value.lineno, lines.column(value.lineno - 1, value.col_offset), spelled)
                value_of = held if held is not None else ev(value)
                add(config, key, raw(key, value_of, ast.get_source_segment(text, value) or "", origin))

    def statements(body: list[ast.stmt], configs: dict[str, RawConfig], ev: _Eval, depth: int) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        if not _is_email_url(stmt.value):  # EMAIL_CONFIG = env.email_url(): a dict, no setting
                            record(configs, target.id, stmt.value, target.id, ev)
                        ev.scope[target.id] = ev(stmt.value)
                        _declare_env_casts(stmt.value, ev)
                        if (settings := ev.settings_dict(stmt.value)) is not None:
                            ev.dicts[target.id] = settings
                    elif isinstance(target, ast.Subscript) and _dotted(target.value).endswith("config"):
                        key = ev(target.slice)
                        if key.kind is ValueKind.STRING:
                            record(configs, key.value, stmt.value, ast.get_source_segment(text, target) or "", ev)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                call = stmt.value
                if isinstance(call.func, ast.Attribute) and call.func.attr == "update" and call.args and \
                        _dotted(getattr(call.func.value, "func", None)) in ("vars", "locals", "globals") and \
                        (settings := ev.settings_dict(call.args[0])) is not None:  # vars().update(env.email_url())
                    for name, value in settings.items():
                        record(configs, name, call.args[0], name, ev, value)
                elif isinstance(call.func, ast.Attribute) and call.func.attr == "update" and \
                        _dotted(call.func.value).endswith("config"):
                    for k in call.keywords:
                        if k.arg:
                            record(configs, k.arg, k.value, k.arg, ev)
                    for arg in call.args:
                        if isinstance(arg, ast.Dict):
                            for dk, dv in zip(arg.keys, arg.values, strict=True):
                                if isinstance(dk, ast.Constant) and isinstance(dk.value, str):
                                    record(configs, dk.value, dv, repr(dk.value), ev)
            elif isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names) and _imports < 4:
                source = _module_file(home or path, stmt.module or "", stmt.level)
                if source is not None:  # absent (local_settings in a try/except ImportError): nothing, as in Python
                    for other in read_python(source, read_text(source), framework, env, _imports + 1):
                        if other.framework in configs:  # module-level only: an imported module gives no classes
                            for name, held in other.values.items():
                                add(configs[other.framework], name, held)
            elif isinstance(stmt, ast.ClassDef) and depth == 0 and "flask_mail" in frameworks:
                own = {"flask_mail": RawConfig("flask_mail", str(path))}
                statements(stmt.body, own, _Eval(env, dict(ev.scope), ev.helpers), depth + 1)
                if own["flask_mail"].values:
                    classes.append(own["flask_mail"])
            elif isinstance(stmt, ast.If | ast.Try | ast.With) and depth < 8:
                for item in getattr(stmt, "items", []):  # with open(p) as secret: … secret.read()
                    if isinstance(item.optional_vars, ast.Name):
                        ev.scope[item.optional_vars.id] = ev(item.context_expr)
                for block in (getattr(stmt, "body", []), getattr(stmt, "orelse", []),
                              getattr(stmt, "finalbody", [])):
                    statements(block, configs, ev, depth)
            elif isinstance(stmt, ast.FunctionDef) and depth == 0:
                ev.helpers[stmt.name] = stmt
                statements(stmt.body, configs, _Eval(env, dict(ev.scope), ev.helpers), depth + 1)

    statements(tree.body, module, evaluator, 0)
    out = [c for c in module.values() if c.values or framework]
    if not _imports:  # a Flask config class of a star-imported module is a class of that module, not settings here
        out.extend(classes)
    return [finish(c) for c in out]


def _declare_env_casts(value: ast.expr, ev: _Eval) -> None:
    """``env = environ.Env(EMAIL_USE_TLS=(bool, False))`` declares how ``env('EMAIL_USE_TLS')`` casts."""
    if isinstance(value, ast.Call) and _dotted(value.func) in ("environ.Env", "Env"):
        for k in value.keywords:
            if k.arg and isinstance(k.value, ast.Tuple) and k.value.elts:
                ev.casts[k.arg] = _dotted(k.value.elts[0]) or "str"


def _module_file(path: Path, module: str, level: int) -> Path | None:
    """The file ``from <module> import *`` loads: relative to the package for ``from .base``, else looked for
    beside the settings file and up to two folders above (the project root on sys.path)."""
    rel = Path(*module.split(".")) if module else Path()
    roots = [path.parents[level - 1]] if level and len(path.parents) >= level else [path.parent, *path.parents[1:3]]
    for root in roots:
        for candidate in (root / rel.with_suffix(".py"), root / rel / "__init__.py") if module else ():
            if candidate.is_file() and candidate.resolve() != path.resolve():
                return candidate
    return None
