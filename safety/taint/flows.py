"""Taint flows in one file: untrusted data followed from where it enters to where it does harm, on the
error-recovered tree the safety layer already builds (so half-written buffers are analysed too).

Intra-procedural and in statement order: assignments, augmented assignments, loop and `with` targets carry a
value's taint to names; expressions are tainted when a part is (strings built by `+`, `%`, f-strings and
`format`, containers, subscripts, attributes, method results, calls of unknown functions); a sanitiser's result is
clean for the sinks it covers; an allow-list test (`if x in ALLOWED:`, or `if x not in ALLOWED: return`) clears the
names it tests. One inter-procedural step inside the file: a top-level function that returns a tainted value, or
passes a parameter on to its return value or into a sink, is summarised first and the summary applies at its calls.
Sources, sanitisers and sinks are the data of `specs`. A finding carries its path, source first.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from codeward.safety.findings import Finding, FlowStep
from codeward.safety.taint.sinks import CLIENTS, SinkMatching
from codeward.safety.taint.specs import (
    CLI,
    ERROR,
    ERROR_CWE,
    KIND,
    SANITISERS,
    SOURCES,
    WEB,
    SinkSpec,
    SourceSpec,
    rule_ids,
)
from codeward.safety.taint.values import (
    NORMALISERS,
    Taint,
    allow_list,
    builds_text,
    char_col,
    dotted,
    first_of,
    guarded,
    import_aliases,
    is_handler,
    leaves,
    new_taint,
    params_of,
    stores_header,
)

# methods whose result says something about a value without being the value (a bool, a count, a position)
CLEAN_METHODS = frozenset({"isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
                           "isnumeric", "isprintable", "isspace", "istitle", "isupper", "startswith", "endswith",
                           "count", "find", "rfind", "index", "rindex", "exists", "is_file", "is_dir"})
# calls whose result is still the text they were given, changed (what an HTML response would show)
TEXT_CALLS = frozenset({"str", "format", "join", "strip", "lstrip", "rstrip", "lower", "upper", "title",
                        "capitalize", "replace", "decode", "encode", "get", "getlist", "split", "splitlines",
                        "removeprefix", "removesuffix", "center", "ljust", "rjust", "zfill", "casefold"})

_SANITISER = {name: spec.clears for spec in SANITISERS if spec.how == "call" for name in spec.names}
_SOURCE_BY_HOW: dict[str, list[SourceSpec]] = {}
for _src in SOURCES:
    _SOURCE_BY_HOW.setdefault(_src.how, []).append(_src)
_REQUEST_ATTRS = frozenset(a for s in _SOURCE_BY_HOW["request_attr"] for a in s.names)


@dataclass
class Summary:
    """What a top-level function does with its parameters and sources (the inter-procedural step)."""

    params: list[str]
    returns: Taint | None = None  # a real source reaches the return value
    returns_params: set[int] = field(default_factory=set)
    param_sinks: dict[int, list[tuple[SinkSpec, FlowStep]]] = field(default_factory=dict)


Report = Callable[[SinkSpec, Taint], None]


class _Scan(SinkMatching):
    """One function body (or the module's top level) scanned in statement order."""

    def __init__(self, aliases: dict[str, str], summaries: dict[str, Summary], report: Report,
                 env: dict[str, Taint], handler: bool = False, summary: Summary | None = None,
                 clients: set[str] | None = None) -> None:
        self.aliases, self.summaries, self.report = aliases, summaries, report
        self.env, self.handler, self.summary = env, handler, summary
        self.clients = set(clients or ())  # names bound to HTTP client objects (sessions, pools)
        self.parsed: dict[str, str] = {}  # name -> the name it is `urlparse(...)` of

    def qualname(self, node: ast.AST) -> str | None:
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.env:
            return None  # a local value, not a module
        full = self.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full

    # statements

    def block(self, stmts: Iterable[ast.stmt]) -> None:
        for stmt in stmts:
            self.stmt(stmt)

    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return  # scanned on their own
        if isinstance(s, (ast.Assign, ast.AnnAssign)):
            value = s.value
            t = self.expr(value) if value is not None else None
            for target in (s.targets if isinstance(s, ast.Assign) else [s.target]):
                self.bind(target, t, s)
                self.note_value(target, value)
        elif isinstance(s, ast.AugAssign):
            t = first_of(self.expr(s.value), self.expr(s.target))
            self.bind(s.target, t, s)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            self.bind(s.target, self.expr(s.iter), s)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                t = self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, t, s)
                    self.note_value(item.optional_vars, item.context_expr)
            self.block(s.body)
        elif isinstance(s, ast.If):
            self.branch(s)
        elif isinstance(s, ast.While):
            self.expr(s.test)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            self.block(s.body)  # type: ignore[attr-defined]
            for h in s.handlers:  # type: ignore[attr-defined]
                if h.name and self.handler:  # what went wrong, which a handler must not send to its client
                    self.env[h.name] = new_taint(ERROR, h, f"the exception {h.name} (error text)")
                self.block(h.body)
            self.block(s.orelse)  # type: ignore[attr-defined]
            self.block(s.finalbody)  # type: ignore[attr-defined]
        elif isinstance(s, ast.Return):
            self.returned(s)
        elif isinstance(s, ast.Expr):
            self.expr(s.value)
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def bind(self, target: ast.AST, t: Taint | None, at: ast.AST) -> None:
        if isinstance(target, ast.Name):
            if t is None:
                self.env.pop(target.id, None)
            else:
                self.env[target.id] = t.then(at, f"assigned to {target.id}")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.bind(elt.value if isinstance(elt, ast.Starred) else elt, t, at)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            base = target.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if t is not None and isinstance(target, ast.Subscript) and stores_header(target.value):
                self.report_at(_HEADER, t, FlowStep(target.lineno, target.col_offset,
                                                    f"reaches {_HEADER.what}: {dotted(target.value)}[...]"))
            elif t is not None and isinstance(base, ast.Name):
                self.env[base.id] = t.then(at, f"stored in {base.id}")

    def note_value(self, target: ast.AST, value: ast.AST | None) -> None:
        """Remember what a name was bound to where it matters later: an HTTP client, a parsed URL."""
        name = dotted(target)
        if name is None or not isinstance(value, ast.Call):
            return
        qual = self.qualname(value.func)
        if qual in CLIENTS:
            self.clients.add(name)
        elif qual in URL_PARSERS and value.args and dotted(value.args[0]) is not None:
            self.parsed[name] = dotted(value.args[0]) or ""

    def branch(self, s: ast.If) -> None:
        """Both arms from the same state, then their union (only the arm that goes on when the other leaves); an
        allow-list test clears the names it tests in the arm it guards."""
        self.expr(s.test)
        check = allow_list(s.test)
        tested = check.names | {self.parsed[n] for n in check.names if n in self.parsed}  # `urlparse(u)` checks u
        check = check._replace(names=tested)
        for name in tested:  # a checked attribute (`hook.url`) gets its own entry: the rest of `hook` stays as it was
            base = name.split(".")[0]
            if "." in name and name not in self.env and base in self.env:
                self.env[name] = self.env[base]
        before = dict(self.env)
        self.env = guarded(before, check) if not check.negated else dict(before)
        self.block(s.body)
        body_env = self.env
        self.env = guarded(before, check) if check.negated else dict(before)
        self.block(s.orelse)
        if leaves(s.body, self.qualname):  # only the other arm goes on
            return
        if s.orelse and leaves(s.orelse, self.qualname):
            self.env = body_env
            return
        merged = dict(body_env)
        for k, v in self.env.items():
            merged[k] = first_of(merged.get(k), v) or v
        self.env = merged

    def returned(self, s: ast.Return) -> None:
        if s.value is None:
            return
        t = self.expr(s.value)
        if self.handler:
            error = t if t is not None and t.kind == ERROR else self.error_in(s.value)
            if error is not None:
                self.report_at(_ERROR_RETURN, error, FlowStep(s.lineno, s.col_offset, "returned to the client"))
        if t is None or t.kind == ERROR:
            return
        if self.summary is not None:
            if t.param is not None:
                self.summary.returns_params.add(t.param)
            elif self.summary.returns is None:
                self.summary.returns = t.then(s, "returned")
        if self.handler and t.param is None and not t.opaque and builds_text(s.value):
            self.report_at(_HTML_RETURN, t, FlowStep(s.lineno, s.col_offset, "returned as the response (HTML)"))

    def error_in(self, e: ast.AST) -> Taint | None:
        """Error text anywhere in a returned value (beside request data, which the returned value's taint shows)."""
        for node in ast.walk(e):
            t = self.env.get(node.id) if isinstance(node, ast.Name) else None
            if t is not None and t.kind == ERROR:
                return t.then(e, "part of the returned value")
        return None

    # expressions

    def expr(self, e: ast.AST | None) -> Taint | None:
        if e is None:
            return None
        if isinstance(e, ast.Name):
            return self.env.get(e.id) or self.source_attr(e)
        if isinstance(e, ast.Constant):
            return None
        if isinstance(e, ast.Attribute):
            own = self.env.get(dotted(e) or "")  # an attribute checked on its own (see `branch`)
            return own if own is not None else self.source_attr(e) or self.expr(e.value)
        if isinstance(e, ast.Subscript):  # an item of untrusted data; a tainted key alone picks a trusted value
            self.expr(e.slice)
            return self.expr(e.value)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, (ast.Lambda, ast.Compare)):
            if isinstance(e, ast.Compare):
                self.expr(e.left)
                for c in e.comparators:
                    self.expr(c)
            return None
        if isinstance(e, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for gen in e.generators:
                self.bind(gen.target, self.expr(gen.iter), e)
            parts = [e.key, e.value] if isinstance(e, ast.DictComp) else [e.elt]
            return first_of(*(self.expr(p) for p in parts))
        if isinstance(e, ast.NamedExpr):
            t = self.expr(e.value)
            self.bind(e.target, t, e)
            return t
        return first_of(*(self.expr(c) for c in ast.iter_child_nodes(e) if isinstance(c, ast.expr)))

    def source_attr(self, e: ast.AST) -> Taint | None:
        name = dotted(e)
        if name is None:
            return None
        parts = name.split(".")
        if len(parts) >= 2 and parts[-2] == "request" and parts[-1] in _REQUEST_ATTRS:
            return new_taint(WEB, e, f"{'.'.join(parts[-2:])} (request data)")
        qual = self.qualname(e)
        for spec in _SOURCE_BY_HOW["attr"]:
            if qual in spec.names:
                return new_taint(spec.kind, e, f"{qual} ({spec.kind} input)")
        return None

    def call(self, e: ast.Call) -> Taint | None:
        func = e.func
        receiver = self.expr(func.value) if isinstance(func, ast.Attribute) else None
        args = [self.expr(a.value if isinstance(a, ast.Starred) else a) for a in e.args]
        kwargs = {k.arg: self.expr(k.value) for k in e.keywords}
        qual = self.qualname(func)
        method = func.attr if isinstance(func, ast.Attribute) else None
        self.sinks(e, qual, method, args, kwargs, receiver)
        if isinstance(func, ast.Name) and func.id in self.summaries and func.id not in self.env:
            return self.through(e, self.summaries[func.id], args)
        for spec in _SOURCE_BY_HOW["call"]:
            if qual in spec.names:
                return new_taint(spec.kind, e, f"{qual}() ({spec.kind} input)")
        if method is not None:
            for spec in _SOURCE_BY_HOW["method"]:
                if method in spec.names:
                    return new_taint(spec.kind, e, f".{method}() ({spec.kind} input)")
        if method in ("get", "pop") and receiver is None:
            return None  # a lookup in a mapping that holds no untrusted data: the key chose among its values
        everything = first_of(receiver, *args, *kwargs.values())
        if everything is None:
            return None
        if qual is not None and qual in _SANITISER:
            return everything.clean_for(_SANITISER[qual])
        if method is not None and method in CLEAN_METHODS:
            return None
        keeps_text = (method or qual or "") in TEXT_CALLS
        out = everything.then(e, f"through {qual or method or 'a call'}()", opaque=not keeps_text)
        return replace(out, normal=True) if (qual in NORMALISERS or method in NORMALISERS) else out

    def through(self, e: ast.Call, summary: Summary, args: Sequence[Taint | None]) -> Taint | None:
        """A call of a summarised function: its parameters' sinks fire for tainted arguments; its result."""
        name = summary_name(e)
        for i, t in enumerate(args):
            if t is None:
                continue
            for sink, step in summary.param_sinks.get(i, []):
                passed = t.then(e, f"passed to {name}() as {summary.params[i] if i < len(summary.params) else i}")
                self.report_at(sink, passed, step)
        result = summary.returns.then(e, f"returned by {name}()") if summary.returns is not None else None
        for i in summary.returns_params:
            if i < len(args) and args[i] is not None:
                result = first_of(result, args[i].then(e, f"returned by {name}()"))  # type: ignore[union-attr]
        return result

    def report_at(self, sink: SinkSpec, t: Taint, step: FlowStep) -> None:
        if t.param is not None and self.summary is not None:
            self.summary.param_sinks.setdefault(t.param, []).append((sink, step))
            return
        if sink.cwe in t.cleared or t.param is not None or (t.kind == CLI and not sink.cli):
            return
        if (t.kind == ERROR) != (sink.cwe == ERROR_CWE):
            return  # error text matters only where it reaches the client; request data is no error text
        self.report(sink, replace(t, steps=t.steps + (step,)))


URL_PARSERS = frozenset({"urllib.parse.urlparse", "urllib.parse.urlsplit", "urlparse", "urlsplit",
                         "urlparse.urlparse", "httpx.URL", "yarl.URL"})
_HTML_RETURN = rule_ids()["CW205"]  # a handler returning built text: the HTML-response rule
_HEADER = rule_ids()["CW213"]  # an item stored into response headers
_ERROR_RETURN = rule_ids()["CW215"]  # a handler returning error text



def summary_name(e: ast.Call) -> str:
    return e.func.id if isinstance(e.func, ast.Name) else "the function"


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def analyse_taint(tree: ast.Module, offset: int = 0, lines: Sequence[str] = ()) -> list[Finding]:
    """Every taint finding in `tree` (lines shifted up by `offset`; `lines`, the parsed text's lines, turn byte
    columns into characters)."""
    aliases = import_aliases(tree)
    top = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    summaries: dict[str, Summary] = {}
    module = _Scan(aliases, summaries, lambda *_: None, {})
    module.block(tree.body)  # the module's HTTP clients (`http = requests.Session()`), used inside functions
    clients = module.clients
    for _ in range(2):  # twice, so a helper that calls a later helper sees its summary
        for fn in top:
            params = params_of(fn)
            s = Summary(params)
            env = {p: Taint("param", (FlowStep(fn.lineno, fn.col_offset, f"parameter {p}"),), param=i)
                   for i, p in enumerate(params)}
            _Scan(aliases, summaries, lambda *_: None, env, summary=s, clients=clients).block(fn.body)
            summaries[fn.name] = s
    found: dict[tuple[str, int, int], Finding] = {}

    def report(sink: SinkSpec, t: Taint) -> None:
        steps = tuple(FlowStep(s.line - offset, char_col(lines, s.line, s.col), s.note) for s in t.steps)
        sink_step = steps[-1]
        key = (sink.rule, sink_step.line, sink_step.col)
        if key not in found:
            found[key] = Finding(sink.rule, sink.cwe, sink.severity, "low" if t.kind == CLI else "high",
                                 sink_step.line, sink_step.line, sink_step.col, sink.message, "taint", steps,
                                 kind=KIND)

    _Scan(aliases, summaries, report, {}, clients=clients).block(tree.body)
    for fn in _functions(tree):
        handler = is_handler(fn)
        params = [p for p in params_of(fn) if handler and p not in ("self", "cls", "request")]
        if handler == "error":
            env = {p: new_taint(ERROR, fn, f"parameter {p} of the error handler {fn.name}() (error text)")
                   for p in params}
        else:
            env = {p: new_taint(WEB, fn, f"parameter {p} of the handler {fn.name}() (request data)") for p in params}
        _Scan(aliases, summaries, report, env, handler=bool(handler), clients=clients).block(fn.body)
    return sorted(found.values(), key=lambda f: (f.line, f.col, f.rule_id))


