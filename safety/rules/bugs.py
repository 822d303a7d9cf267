"""CW rules for buggy patterns that are almost never intended in correct code."""

from __future__ import annotations

import libcst as cst

from codeward.safety.rules import Rule

_EMPTY = cst.Module([])
_MUTABLE_CALLS = {"list", "dict", "set", "bytearray", "defaultdict", "OrderedDict", "deque", "Counter"}
_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
             cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)


def _code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def _is_mutable(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)):
        return True
    if isinstance(node, cst.Call):
        func = node.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) \
            else None
        return name in _MUTABLE_CALLS
    return False


class MutableDefault(Rule):
    """A list/dict/set default is created once and shared by every call."""

    id = "CW101"
    kind = "bug"
    severity = "medium"
    message = "Mutable default argument: the object is shared between calls; default to None and create it inside"
    VALID = ("def f(x=None):\n    x = [] if x is None else x\n", "def f(x=(), y=0, z='a'):\n    return x\n",
             "f = lambda a=frozenset(): a\n")
    INVALID = ("def f(x=[]):\n    x.append(1)\n", "def f(*, opts={}):\n    return opts\n",
               "def f(a, seen=set()):\n    pass\n", "g = lambda acc=list(): acc\n")

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None and _is_mutable(node.default):
            self.report(node.default)


class IsLiteral(Rule):
    """`is` compares identity; against a literal the result depends on interning (a SyntaxWarning)."""

    id = "CW102"
    kind = "bug"
    severity = "medium"
    message = "`is` / `is not` with a literal compares identity, not value; use == / !="
    VALID = ("if x is None:\n    pass\n", "ok = a is not b\n", "if flag is True:\n    pass\n", "if x == 'a':\n    pass\n")
    INVALID = ("if x is 'a':\n    pass\n", "ok = n is not 0\n", "if 1.5 is y:\n    pass\n", "b = x is []\n")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            if isinstance(target.operator, (cst.Is, cst.IsNot)) and (
                    isinstance(left, _LITERALS) or isinstance(target.comparator, _LITERALS)):
                self.report(node)
                return
            left = target.comparator


def _reraises(body: cst.BaseSuite) -> bool:
    found: list[cst.Raise] = []

    class _Find(cst.CSTVisitor):
        def visit_Raise(self, node: cst.Raise) -> None:
            found.append(node)

    body.visit(_Find())
    return bool(found)


def _lone_pass(body: cst.BaseSuite) -> bool:
    if isinstance(body, cst.SimpleStatementSuite):
        small = body.body
    elif len(body.body) == 1 and isinstance(body.body[0], cst.SimpleStatementLine):
        small = body.body[0].body
    else:
        return False
    return len(small) == 1 and isinstance(small[0], cst.Pass)


class BareExceptSwallows(Rule):
    """A bare `except:` that does not re-raise also hides KeyboardInterrupt, SystemExit and real bugs."""

    id = "CW103"
    kind = "bug"
    severity = "low"
    message = ("Bare `except:` swallows every exception (even KeyboardInterrupt); catch the exceptions you "
               "expect, or re-raise")
    VALID = ("try:\n    f()\nexcept ValueError:\n    x = 0\n", "try:\n    f()\nexcept:\n    log()\n    raise\n",
             "try:\n    f()\nexcept:\n    pass\n")
    INVALID = ("try:\n    f()\nexcept:\n    x = 0\n", "try:\n    f()\nexcept:\n    return None\n")

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        # a lone `pass` body is bandit's B110 (try-except-pass); do not report it twice
        if node.type is None and not _reraises(node.body) and not _lone_pass(node.body):
            self.report(node)


class SelfComparison(Rule):
    """`x == x`, `x < x`, `x is x`: always the same result, almost surely a typo (`x != x` is the NaN idiom)."""

    id = "CW104"
    kind = "bug"
    severity = "medium"
    message = "A value is compared with itself; the result is constant (a typo for another name?)"
    VALID = ("if a == b:\n    pass\n", "is_nan = x != x\n", "ok = f() == f()\n", "same = p.x == q.x\n")
    INVALID = ("if a == a:\n    pass\n", "ok = self.n < self.n\n", "b = xs[i] >= xs[i]\n", "c = k is k\n")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            right = target.comparator
            if not isinstance(target.operator, cst.NotEqual) and \
                    isinstance(left, (cst.Name, cst.Attribute, cst.Subscript)) and _code(left) == _code(right) \
                    and "(" not in _code(left):
                self.report(node)
                return
            left = right


class AssertTuple(Rule):
    """`assert (cond, "msg")` asserts a non-empty tuple, which is always true."""

    id = "CW105"
    kind = "bug"
    severity = "medium"
    message = "assert on a non-empty tuple is always true; write `assert cond, \"message\"`"
    VALID = ("assert x > 0, 'positive'\n", "assert (x > 0)\n", "assert ()\n")
    INVALID = ("assert (x > 0, 'positive')\n", "assert (a, b)\n")

    def visit_Assert(self, node: cst.Assert) -> None:
        if isinstance(node.test, cst.Tuple) and node.test.elements:
            self.report(node)


_JUMPS = (cst.Return, cst.Raise, cst.Continue, cst.Break)


class Unreachable(Rule):
    """Statements after return/raise/continue/break in the same block never run."""

    id = "CW106"
    kind = "bug"
    severity = "low"
    message = "Unreachable code: this statement follows a return/raise/continue/break in the same block"
    VALID = ("def f(x):\n    if x:\n        return 1\n    return 2\n",
             "for x in y:\n    if x:\n        break\n    g(x)\n")
    INVALID = ("def f(x):\n    return x\n    print(x)\n", "for x in y:\n    continue\n    g(x)\n",
               "def f():\n    raise ValueError('no')\n    cleanup()\n")

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        for stmt, following in zip(node.body, node.body[1:]):
            if isinstance(stmt, cst.SimpleStatementLine) and stmt.body and isinstance(stmt.body[-1], _JUMPS):
                self.report(following)
                return


def _is_len_call(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len"


def _is_zero(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Integer) and node.evaluated_value == 0


class LenCompareConstant(Rule):
    """`len(x) < 0` is never true and `len(x) >= 0` always is; usually a wrong bound."""

    id = "CW107"
    kind = "bug"
    severity = "medium"
    message = "This comparison of len() with 0 has a constant result (a length is never negative)"
    VALID = ("if len(x) > 0:\n    pass\n", "empty = len(x) == 0\n", "ok = 0 < len(x)\n")
    INVALID = ("if len(x) < 0:\n    pass\n", "ok = len(x) >= 0\n", "bad = 0 > len(x)\n", "t = 0 <= len(s)\n")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if len(node.comparisons) != 1:
            return
        op, right, left = node.comparisons[0].operator, node.comparisons[0].comparator, node.left
        if _is_len_call(left) and _is_zero(right) and isinstance(op, (cst.LessThan, cst.GreaterThanEqual)) or _is_zero(left) and _is_len_call(right) and isinstance(op, (cst.GreaterThan, cst.LessThanEqual)):
            self.report(node)


def _literal_key(node: cst.BaseExpression) -> object:
    if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float)):
        try:
            return (type(node).__name__, node.evaluated_value)
        except (ValueError, SyntaxError):
            return None
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return ("Name", node.value)
    return None


class DuplicateDictKey(Rule):
    """A dict literal with the same constant key twice silently keeps only the last value."""

    id = "CW108"
    kind = "bug"
    severity = "medium"
    message = "Duplicate key in a dict literal: the earlier value is silently lost"
    VALID = ("d = {'a': 1, 'b': 2}\n", "d = {x: 1, x + 1: 2}\n", "d = {1: 'a', '1': 'b'}\n")
    INVALID = ("d = {'a': 1, 'a': 2}\n", "d = {1: 'x', 2: 'y', 1: 'z'}\n")

    def visit_Dict(self, node: cst.Dict) -> None:
        seen: set[object] = set()
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                continue
            key = _literal_key(element.key)
            if key is not None and key in seen:
                self.report(element.key)
                return
            seen.add(key)


class InPlaceResultUsed(Rule):
    """`list.sort()` and `list.reverse()` return None; using their result is a bug."""

    id = "CW109"
    kind = "bug"
    severity = "medium"
    message = "`.sort()` / `.reverse()` sort in place and return None; use sorted(...) / reversed(...)"
    VALID = ("xs.sort()\n", "ys = sorted(xs)\n", "def f(xs):\n    xs.reverse()\n    return xs\n")
    INVALID = ("ys = xs.sort()\n", "def f(xs):\n    return xs.sort(key=len)\n", "r = items.reverse()\n")

    def _check(self, value: cst.BaseExpression | None) -> None:
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
                value.func.attr.value in ("sort", "reverse"):
            self.report(value)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check(node.value)

    def visit_Return(self, node: cst.Return) -> None:
        self._check(node.value)
