"""The taint engine's vocabulary: a tainted value with its path, and the small questions it asks of the tree
(dotted names, import aliases, route handlers, allow-list tests)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from codeward.safety.findings import FlowStep
from codeward.safety.taint.specs import CLI, ERROR, SANITISERS, SINKS, SOURCES

MAX_STEPS = 12
EVERY_SINK = frozenset(s.cwe for s in SINKS)
_EXITS = (ast.Return, ast.Raise, ast.Continue, ast.Break)
_ABORTS = frozenset({"abort", "flask.abort", "sys.exit", "exit", "werkzeug.exceptions.abort"})
HANDLER_DECORATORS = frozenset(a for s in SOURCES if s.how == "handler" for a in s.names)
ERROR_HANDLER_DECORATORS = frozenset(a for s in SOURCES if s.how == "error_handler" for a in s.names)
GUARDS = {name: s.clears for s in SANITISERS if s.how == "guard" and s.id != "containment-check" for name in s.names}


@dataclass(frozen=True)
class Taint:
    """An untrusted value: what kind of source, the path so far, the CWEs a sanitiser cleared it for; `param`
    marks a parameter's placeholder while a function is being summarised."""

    kind: str
    steps: tuple[FlowStep, ...]
    cleared: frozenset[int] = frozenset()
    param: int | None = None
    opaque: bool = False  # passed through a call that may have made something else of it (a template, JSON)
    normal: bool = False  # a path made absolute with `..` resolved (realpath, abspath, normpath, resolve)

    def then(self, node: ast.AST, note: str, opaque: bool = False) -> Taint:
        step = FlowStep(getattr(node, "lineno", 0), getattr(node, "col_offset", 0), note)
        if self.steps and self.steps[-1].line == step.line and note.startswith("through"):
            return replace(self, opaque=self.opaque or opaque)  # calls on one line: one step is enough
        return replace(self, steps=(self.steps + (step,))[-MAX_STEPS:], opaque=self.opaque or opaque)

    def clean_for(self, cwes: frozenset[int]) -> Taint | None:
        """This taint with `cwes` cleared; None when a sanitiser clears every sink."""
        return None if not cwes else replace(self, cleared=self.cleared | cwes)


def first_of(*taints: Taint | None) -> Taint | None:
    """The taint that matters most among several parts of one expression: a real source over a parameter
    placeholder, the web over error text over the command line; cleared CWEs are those every tainted part is
    cleared for."""
    found = [t for t in taints if t is not None]
    if not found:
        return None
    best = min(found, key=lambda t: (t.param is not None, t.kind == CLI, t.kind == ERROR))
    cleared = frozenset.intersection(*(t.cleared for t in found))
    return best if cleared == best.cleared else replace(best, cleared=cleared)


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of names and attributes, None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def import_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> qualified name for every import in the file (`import subprocess as sp`, `from os import
    path`)."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def new_taint(kind: str, node: ast.AST, note: str) -> Taint:
    return Taint(kind, (FlowStep(getattr(node, "lineno", 0), getattr(node, "col_offset", 0), note),))


def keyword_true(e: ast.Call, name: str) -> bool:
    return any(k.arg == name and not (isinstance(k.value, ast.Constant) and not k.value.value) for k in e.keywords)


def safe_loader(e: ast.Call) -> bool:
    loader = next((k.value for k in e.keywords if k.arg == "Loader"), e.args[1] if len(e.args) > 1 else None)
    name = dotted(loader) if loader is not None else None
    return name is not None and name.split(".")[-1] in ("SafeLoader", "CSafeLoader", "BaseLoader")


def builds_text(e: ast.AST) -> bool:
    """A returned value that is text built from parts (f-string, `+`, `%`, `.format`), or a bare value."""
    if isinstance(e, (ast.JoinedStr, ast.BinOp, ast.Name, ast.Subscript)):
        return True
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "format"


NORMALISERS = frozenset({"os.path.realpath", "os.path.abspath", "os.path.normpath", "posixpath.realpath",
                         "posixpath.abspath", "posixpath.normpath", "resolve", "absolute"})
_CONTAINED = next(s.clears for s in SANITISERS if s.id == "containment-check")  # what a containment check clears


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class Check(NamedTuple):
    """What an `if` test checks: the names it tests, whether it holds where the test is false (`not in`, `!=`),
    the CWEs it clears (None: every sink), and whether it clears only a path made absolute with `..` resolved (a
    containment check on anything else checks nothing)."""

    names: set[str]
    negated: bool = False
    clears: frozenset[int] | None = None
    normalised_only: bool = False


NO_CHECK = Check(set())


def allow_list(test: ast.AST) -> Check:
    """An `x in ALLOWED` test clears x for every sink; a validator (`url_has_allowed_host_and_scheme(x, ...)`)
    for the sinks it covers; a containment check (`p.startswith(BASE)`, `os.path.commonpath([BASE, p]) == BASE`,
    `p.is_relative_to(BASE)`) clears a normalised path for file sinks."""
    negated = False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, negated = test.operand, True
    if isinstance(test, ast.BoolOp):
        return _bool_op(test, negated)
    func = (dotted(test.func) or "").split(".")[-1] if isinstance(test, ast.Call) else ""
    if isinstance(test, ast.Call) and func in GUARDS and test.args:
        return Check(_names(test.args[0]), negated, GUARDS[func])
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and \
            test.func.attr in ("startswith", "is_relative_to") and test.args:
        return Check(_names(test.func.value), negated, _CONTAINED, True)
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return NO_CHECK
    op, right = test.ops[0], test.comparators[0]
    if isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(test.left, ast.Call) and \
            (dotted(test.left.func) or "").endswith("commonpath"):
        return Check(_names(test.left), negated != isinstance(op, ast.NotEq), _CONTAINED, True)
    if not isinstance(op, (ast.In, ast.NotIn)) or isinstance(right, ast.Constant):
        return NO_CHECK  # `"x" in s` searches a string; it checks nothing
    return Check(_names(test.left), negated != isinstance(op, ast.NotIn))


def _bool_op(test: ast.BoolOp, negated: bool) -> Check:
    """`A or B` is false only where every part is false, `A and B` true only where every part is true: the parts
    that check something where the whole holds count (the whole is negated for `or`)."""
    is_or = isinstance(test.op, ast.Or)
    parts = [c for c in map(allow_list, test.values) if c.names and c.negated == is_or]
    names = set().union(*(c.names for c in parts))
    sets = [c.clears for c in parts if c.clears is not None]
    return Check(names, negated != is_or, frozenset().union(*sets) if sets else None,
                 any(c.normalised_only for c in parts))


def stores_header(node: ast.AST) -> bool:
    """`resp.headers`: the headers of a response object (not a local dict named `headers`, not the request's or
    the instance's own, which in client code are the headers it sends or received)."""
    parts = (dotted(node) or "").split(".")
    return len(parts) >= 2 and parts[-1] == "headers" and not {"request", "self"} & set(parts)


def leaves(body: Sequence[ast.stmt], qualname: Callable[[ast.AST], str | None]) -> bool:
    """Whether a block always leaves: its last statement returns, raises, breaks or aborts."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, _EXITS):
        return True
    return isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and qualname(last.value.func) in _ABORTS


def is_handler(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """"route" for a route handler (`@app.route`, `@router.get`, ...) or a Django-style view (`def view(request,
    ...)`), "error" for an error handler (`@app.errorhandler(...)`), "" for any other function."""
    for d in fn.decorator_list:
        call = d.func if isinstance(d, ast.Call) else None
        if isinstance(call, ast.Attribute) and call.attr in HANDLER_DECORATORS:
            return "route"
        if isinstance(call, ast.Attribute) and call.attr in ERROR_HANDLER_DECORATORS:
            return "error"
    args = fn.args.posonlyargs + fn.args.args
    return "route" if args and args[0].arg == "request" and not fn.decorator_list else ""


def params_of(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]


def char_col(lines: Sequence[str], line: int, col: int) -> int:
    """A byte column on 1-based `line` of `lines` as a code-point column (unchanged when the line is unknown)."""
    if not 1 <= line <= len(lines):
        return col
    return len(lines[line - 1].encode("utf-8", "surrogatepass")[:col].decode("utf-8", "ignore"))


def guarded(env: dict[str, Taint], check: Check) -> dict[str, Taint]:
    """`env` where a passed `check` holds: the tested names clean (an allow-list), or clean for its CWEs (a
    validator such as url_has_allowed_host_and_scheme; a containment check only on a normalised path)."""
    out = {}
    for k, v in env.items():
        if k not in check.names:
            out[k] = v
        elif check.clears is None and "." in k:  # kept, clean for every sink: the attribute must not fall back
            out[k] = replace(v, cleared=EVERY_SINK)
        elif check.clears is not None:
            out[k] = replace(v, cleared=v.cleared | check.clears) if v.normal or not check.normalised_only else v
    return out
