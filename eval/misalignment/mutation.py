"""Subtle-bug mutation operators over libcst: every variant of a piece of code that differs from it in one node.

The operators are the kinds of bug the Codex paper's hand-written buggy functions hold (section 7.2, appendix E):
a flipped comparison (`<` / `<=`, `==` / `!=`, `in` / `not in`, ...), a changed arithmetic operator, an off-by-one
in a range bound, an index or a constant, a negated condition, two call arguments swapped, `and` / `or`. Only the
part of the source from `start` on is mutated (a prompt's signature and docstring stay as written), each mutant
parses, and it differs from the source in exactly one node. Whether a mutant is a real bug (fails its task's tests,
not an equivalent mutant) is for the caller to check by running it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

OPERATORS = ("comparison", "arithmetic", "off_by_one", "negate", "swap_args", "bool_op")

_COMPARISON: dict[type, Callable[[], cst.BaseCompOp]] = {
    cst.LessThan: cst.LessThanEqual, cst.LessThanEqual: cst.LessThan,
    cst.GreaterThan: cst.GreaterThanEqual, cst.GreaterThanEqual: cst.GreaterThan,
    cst.Equal: cst.NotEqual, cst.NotEqual: cst.Equal, cst.In: cst.NotIn, cst.NotIn: cst.In,
    cst.Is: cst.IsNot, cst.IsNot: cst.Is,
}
_ARITHMETIC: dict[type, Callable[[], cst.BaseBinaryOp]] = {
    cst.Add: cst.Subtract, cst.Subtract: cst.Add, cst.Multiply: cst.Add, cst.FloorDivide: cst.Divide,
    cst.Divide: cst.FloorDivide, cst.Modulo: cst.FloorDivide, cst.Power: cst.Multiply,
    cst.LeftShift: cst.RightShift, cst.RightShift: cst.LeftShift,
}
_AUGMENTED: dict[type, Callable[[], cst.BaseAugOp]] = {
    cst.AddAssign: cst.SubtractAssign, cst.SubtractAssign: cst.AddAssign, cst.MultiplyAssign: cst.AddAssign,
    cst.FloorDivideAssign: cst.DivideAssign, cst.DivideAssign: cst.FloorDivideAssign,
}
_STRINGS = (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)
_LOOSE = (cst.BooleanOperation, cst.IfExp, cst.Lambda, cst.NamedExpr)  # need parentheses under `not`


@dataclass(frozen=True)
class Mutant:
    """One single-node variant: the operator, the 1-based line of the node, its code before and after, and the
    whole mutated source."""

    operator: str
    line: int
    before: str
    after: str
    code: str


def _plus(expr: cst.BaseExpression, delta: int) -> cst.BaseExpression | None:
    """`expr` moved by `delta` (+1 / -1): an integer literal changes value, anything else gets `+ 1` / `- 1`; None
    for `i + 1` and the like, whose literal is moved by itself (`i + 2`, `i + 0`), never to `i + 1 - 1`."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Subtract)) \
            and isinstance(expr.right, cst.Integer) and not expr.lpar:
        return None
    if isinstance(expr, cst.Integer):
        value = expr.evaluated_value + delta
        if value >= 0:
            return cst.Integer(str(value))
    op = cst.Add() if delta > 0 else cst.Subtract()
    inner = expr if not isinstance(expr, (*_LOOSE, cst.Comparison, cst.UnaryOperation)) \
        else expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.BinaryOperation(left=inner, operator=op, right=cst.Integer(str(abs(delta))))


def _negated(test: cst.BaseExpression) -> cst.BaseExpression:
    """`not test`, or `test` without its `not`."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) and not test.lpar:
        return test.expression
    if isinstance(test, _LOOSE) and not test.lpar:
        test = test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.UnaryOperation(operator=cst.Not(), expression=test)


def _styled(new: Any, old: Any) -> Any:
    """The operator `new` spaced as `old` was (`x>1` becomes `x>=1`, not `x >= 1`): the bug reads as the author's."""
    fields = ("whitespace_before", "whitespace_after")
    return new.with_changes(**{f: getattr(old, f) for f in fields if hasattr(old, f) and hasattr(new, f)})


def _safe(visit: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """A visit method that skips a node whose replacement libcst refuses to build (the code's spacing cannot hold
    it), instead of losing every mutant of the source."""

    def wrapped(self: Any, node: Any) -> None:
        try:
            visit(self, node)
        except cst.CSTValidationError:
            return

    return wrapped


class _Sites(cst.CSTVisitor):
    """Collects (operator, node, replacement) for every mutable node at or after `start` (line, column)."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, start: tuple[int, int]) -> None:
        super().__init__()
        self.start = start
        self.sites: list[tuple[str, cst.CSTNode, cst.CSTNode]] = []

    def _at(self, node: cst.CSTNode) -> bool:
        pos: CodeRange = self.get_metadata(PositionProvider, node)
        return (pos.start.line, pos.start.column) >= self.start

    def _add(self, operator: str, node: cst.CSTNode, replacement: cst.CSTNode | None) -> None:
        if replacement is not None and self._at(node):
            self.sites.append((operator, node, replacement))

    @_safe
    def visit_Comparison(self, node: cst.Comparison) -> None:
        for target in node.comparisons:
            make = _COMPARISON.get(type(target.operator))
            if make is not None:
                self._add("comparison", target.operator, _styled(make(), target.operator))

    @_safe
    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        make = _ARITHMETIC.get(type(node.operator))
        sequence = (*_STRINGS, cst.List, cst.Tuple)
        if make is None or (isinstance(node.operator, (cst.Add, cst.Modulo, cst.Multiply))
                            and (isinstance(node.left, sequence) or isinstance(node.right, sequence))):
            return  # concatenation, repetition or %-formatting: changing it is a crash, not a subtle bug
        self._add("arithmetic", node.operator, _styled(make(), node.operator))

    @_safe
    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        make = _AUGMENTED.get(type(node.operator))
        if make is not None and not isinstance(node.value, _STRINGS):
            self._add("arithmetic", node.operator, _styled(make(), node.operator))

    @_safe
    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        swapped = cst.Or() if isinstance(node.operator, cst.And) else cst.And()
        self._add("bool_op", node.operator, _styled(swapped, node.operator))

    def _negate_statement_test(self, node: cst.If | cst.While) -> None:
        if isinstance(node.test, cst.Name) and node.test.value in ("True", "False"):
            return  # `while True` -> `while not True` is dead code, not a subtle bug
        negated = _negated(node.test)
        space = node.whitespace_before_test if isinstance(node, cst.If) else node.whitespace_after_while
        if not space.value and not negated.lpar:  # `if(x):` -> `if(not (x)):`
            negated = negated.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        self._add("negate", node.test, negated)

    @_safe
    def visit_If(self, node: cst.If) -> None:
        self._negate_statement_test(node)

    @_safe
    def visit_While(self, node: cst.While) -> None:
        self._negate_statement_test(node)

    @_safe
    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._add("negate", node.test, _negated(node.test))

    @_safe
    def visit_Integer(self, node: cst.Integer) -> None:
        for delta in (1, -1):
            moved = _plus(node, delta)
            if isinstance(moved, cst.Integer):
                self._add("off_by_one", node, moved)

    @_safe
    def visit_Call(self, node: cst.Call) -> None:
        args = node.args
        if isinstance(node.func, cst.Name) and node.func.value == "range" and 1 <= len(args) <= 3:
            bounds = [args[0]] if len(args) == 1 else [args[0], args[1]]
            for arg in bounds:
                if arg.keyword is None and not arg.star and not isinstance(arg.value, cst.Integer):
                    for delta in (1, -1):
                            self._add("off_by_one", arg.value, _plus(arg.value, delta))
        positional = all(a.keyword is None and not a.star for a in args)
        if positional and len(args) >= 2:
            for i in range(len(args) - 1):
                first, second = args[i], args[i + 1]
                if cst.Module([]).code_for_node(first.value) == cst.Module([]).code_for_node(second.value):
                    continue
                swapped = list(args)
                swapped[i] = first.with_changes(value=second.value)
                swapped[i + 1] = second.with_changes(value=first.value)
                self._add("swap_args", node, node.with_changes(args=swapped))

    @_safe
    def visit_Subscript(self, node: cst.Subscript) -> None:
        for element in node.slice:
            index = element.slice
            if isinstance(index, cst.Index) and not isinstance(index.value, (cst.Integer, *_STRINGS)) \
                    and not _is_negative_literal(index.value) and index.star is None:
                for delta in (1, -1):
                    self._add("off_by_one", index.value, _plus(index.value, delta))
            elif isinstance(index, cst.Slice):
                for bound in (index.lower, index.upper):
                    if bound is not None and not isinstance(bound, cst.Integer) and not _is_negative_literal(bound):
                        for delta in (1, -1):
                            self._add("off_by_one", bound, _plus(bound, delta))


def _is_negative_literal(expr: cst.BaseExpression) -> bool:
    """`-1` and the like: the Integer inside is mutated already."""
    return isinstance(expr, cst.UnaryOperation) and isinstance(expr.expression, cst.Integer)


def _line_start(source: str, offset: int) -> tuple[int, int]:
    """(1-based line, 0-based column) of a character offset."""
    before = source[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1)


def mutants(source: str, start: int = 0) -> list[Mutant]:
    """Every single-node mutant of `source` at character offset `start` or later, in source order, deduplicated;
    [] when the source does not parse."""
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except (cst.ParserSyntaxError, RecursionError):
        return []
    sites = _Sites(_line_start(source, start))
    wrapper.visit(sites)
    module = wrapper.module
    positions = wrapper.resolve(PositionProvider)
    seen = {source}
    out: list[Mutant] = []
    for operator, node, replacement in sites.sites:
        try:
            code = module.deep_replace(node, replacement).code
        except cst.CSTValidationError:  # a replacement the surrounding whitespace cannot hold (the code's style)
            continue
        if code in seen:
            continue
        try:
            compile(code, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            continue
        seen.add(code)
        out.append(Mutant(operator=operator, line=positions[node].start.line,
                          before=module.code_for_node(node).strip(), after=module.code_for_node(replacement).strip(),
                          code=code))
    return out


def sample_mutants(source: str, start: int, budget: int, seed: int | str) -> list[Mutant]:
    """At most `budget` of the mutants of `source` (from `start` on), a seeded random choice, in a seeded order."""
    found = mutants(source, start)
    random.Random(str(seed)).shuffle(found)
    return found[:budget]
