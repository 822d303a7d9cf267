"""CW rules for subtle bugs: patterns that correct code almost never has and that a model conditioned on them would
imitate (the Codex paper's misalignment finding). Used on every suggestion like the other rules, and on the code
the model reads (the editor's context diagnostics).

Written from common bug patterns, not from any benchmark's rows: a comprehension that ignores its own variable, a
true division used as an index or a range bound (a TypeError in Python 3), indexing a sequence at its length (an
IndexError), a loop over indices that skips the first or last element, and one operator that breaks the pattern of
its siblings in an `and`/`or` chain.
"""

from __future__ import annotations

import re

import libcst as cst

from codeward.safety.rules import Rule

_EMPTY = cst.Module([])


def _names(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class _Walk(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    node.visit(_Walk())
    return found


def _len_of(node: cst.BaseExpression) -> str | None:
    """`x` for `len(x)` (x a plain name), else None."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len" and \
            len(node.args) == 1 and isinstance(node.args[0].value, cst.Name):
        return node.args[0].value.value
    return None


class ComprehensionIgnoresItsVariable(Rule):
    """`[sorted(s) for w in s.split()]`: the element uses the iterated sequence itself, never the loop variable."""

    id = "CW121"
    kind = "subtle"
    severity = "low"
    confidence = "medium"
    message = ("The comprehension never uses its loop variable but uses the sequence it loops over: every item is "
               "the same (did you mean the loop variable?); suggestions may imitate this code")
    VALID = ("zeros = [0 for _ in range(n)]\n", "words = [w.upper() for w in s.split()]\n",
             "picks = [random.choice(xs) for i in range(3)]\n", "xs = [x for x in xs if x]\n",
             "pairs = {k: v for k, v in d.items()}\n")
    INVALID = ("out = ' '.join(sorted(s) for w in s.split(' '))\n", "n = sum(len(words) for w in words)\n",
               "lengths = [len(line) for row in line.split(',')]\n")

    def _check(self, node: cst.BaseComprehension, parts: list[cst.CSTNode]) -> None:
        clause: cst.CompFor | None = node.for_in
        used: set[str] = set()
        for part in parts:
            used |= _names(part)
        while clause is not None:
            for cond in clause.ifs:
                used |= _names(cond)
            inner = clause.inner_for_in
            if inner is not None:
                used |= _names(inner.iter)
            target = clause.target
            if isinstance(target, cst.Name) and not target.value.startswith("_") and target.value not in used:
                element = set().union(*(_names(p) for p in parts))
                if element & (_names(clause.iter) - {"range", "len", "enumerate", "zip"}):
                    self.report(node)
                    return
            clause = inner

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._check(node, [node.elt])

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._check(node, [node.elt])

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._check(node, [node.elt])

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._check(node, [node.key, node.value])


def _true_division(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide)


class TrueDivisionAsIndex(Rule):
    """`/` always gives a float in Python 3; as an index, a slice bound or a range() argument it raises TypeError."""

    id = "CW122"
    kind = "subtle"
    severity = "low"
    confidence = "high"
    message = ("A true division (/) gives a float, which cannot be an index, a slice bound or a range() argument "
               "(TypeError): use // ; suggestions may imitate this code")
    VALID = ("mid = xs[len(xs) // 2]\n", "for i in range(int(n / 2)):\n    pass\n", "ratio = a / b\n",
             "half = xs[:n // 2]\n")
    INVALID = ("total = sum(lst[i] for i in range(1, len(lst) / 2, 2))\n", "mid = xs[len(xs) / 2]\n",
               "head = xs[:n / 2]\n")

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "range" and \
                any(_true_division(a.value) for a in node.args):
            self.report(node)

    def visit_SubscriptElement(self, node: cst.SubscriptElement) -> None:
        s = node.slice
        if isinstance(s, cst.Index) and _true_division(s.value) or isinstance(s, cst.Slice) and any(_true_division(b) for b in (s.lower, s.upper, s.step)):
            self.report(node)


class IndexAtLength(Rule):
    """`xs[len(xs)]` is one past the end: an IndexError on every call."""

    id = "CW123"
    kind = "subtle"
    severity = "low"
    confidence = "high"
    message = ("The sequence is indexed at its own length, one past its last item (IndexError): the last item is "
               "xs[len(xs) - 1] or xs[-1]; suggestions may imitate this code")
    VALID = ("last = xs[len(xs) - 1]\n", "x = ys[len(xs)]\n", "tail = xs[len(xs):]\n")
    INVALID = ("last = xs[len(xs)]\n", "if s[len(s)] == ' ':\n    pass\n")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if not isinstance(node.value, cst.Name) or len(node.slice) != 1:
            return
        s = node.slice[0].slice
        if isinstance(s, cst.Index) and _len_of(s.value) == node.value.value:
            self.report(node)


def _range_bounds(it: cst.BaseExpression) -> tuple[str, str] | None:
    """("first", x) for `range(1, len(x))`, ("last", x) for `range(len(x) - 1)` / `range(0, len(x) - 1)`."""
    if not (isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range"):
        return None
    args = [a.value for a in it.args]
    if len(args) == 2 and isinstance(args[0], cst.Integer) and args[0].value == "1" and _len_of(args[1]):
        return "first", _len_of(args[1]) or ""
    end = args[-1] if len(args) in (1, 2) and (len(args) == 1 or (isinstance(args[0], cst.Integer) and
                                                                   args[0].value == "0")) else None
    if isinstance(end, cst.BinaryOperation) and isinstance(end.operator, cst.Subtract) and \
            isinstance(end.right, cst.Integer) and end.right.value == "1" and _len_of(end.left):
        return "last", _len_of(end.left) or ""
    return None


class LoopSkipsAnEnd(Rule):
    """`for i in range(1, len(xs)): total += xs[i]` leaves out xs[0]; `range(len(xs) - 1)` leaves out the last."""

    id = "CW124"
    kind = "subtle"
    severity = "low"
    confidence = "medium"
    message = ("The loop over indices skips the first or the last item although its body uses only xs[i] (no "
               "neighbour, and the skipped item is used nowhere else in the function); suggestions may imitate "
               "this code")
    VALID = (("def m(xs):\n    best = xs[0]\n    for i in range(1, len(xs)):\n        best = max(best, xs[i])\n"
             "    return best\n"),
             ("def s(xs):\n    for i in range(1, len(xs)):\n        if xs[i] < xs[i - 1]:\n            return False\n"
             "    return True\n"),
             ("def d(xs):\n    out = []\n    for i in range(len(xs) - 1):\n        out.append(xs[i + 1] - xs[i])\n"
             "    return out\n"),
             "def f(xs):\n    t = 0\n    for i in range(len(xs) - 1):\n        t += xs[i]\n    return t + xs[-1]\n",
             ("def g(frq):\n    ans = -1\n    for i in range(1, len(frq)):\n        if frq[i] >= i:\n"
              "            ans = i\n    return ans\n"))
    INVALID = ("def total(xs):\n    s = 0\n    for i in range(1, len(xs)):\n        s += xs[i]\n    return s\n",
               ("def count(xs, v):\n    n = 0\n    for i in range(len(xs) - 1):\n        if xs[i] == v:\n"
               "            n += 1\n    return n\n"))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        code = _EMPTY.code_for_node(node)

        class _Loops(cst.CSTVisitor):
            def __init__(self) -> None:
                self.loops: list[cst.For] = []

            def visit_For(self, n: cst.For) -> None:
                self.loops.append(n)

        finder = _Loops()
        node.body.visit(finder)
        for loop in finder.loops:
            bounds = _range_bounds(loop.iter)
            if bounds is None or not isinstance(loop.target, cst.Name):
                continue
            end, seq = bounds
            i = loop.target.value
            body = _EMPTY.code_for_node(loop.body)
            compact = body.replace(" ", "")
            if f"{seq}[{i}]" not in compact or f"{i}+" in compact or f"{i}-" in compact or \
                    f"[{i}:" in compact or f":{i}]" in compact:
                continue
            uses = len(re.findall(rf"(?<![\w.]){re.escape(i)}\b", body))
            if uses > compact.count(f"{seq}[{i}]"):
                continue  # i is also a number here (`frq[i] >= i`): where the range starts means something
            elsewhere = code.replace(_EMPTY.code_for_node(loop), "").replace(" ", "")
            skipped = (f"{seq}[0]",) if end == "first" else (f"{seq}[-1]", f"{seq}[len({seq})-1]")
            if any(s in elsewhere for s in skipped):
                continue
            self.report(loop, self.message.replace("the first or the last", f"the {end}").replace(
                "xs[i]", f"{seq}[{i}]"))


def _shape(node: cst.CSTNode, keep_ops: bool) -> str:
    """The expression's form with every name the same, and its binary operators kept or masked."""
    text = _EMPTY.code_for_node(node)
    out = []
    for tok in text.replace("(", " ( ").replace(")", " ) ").split():
        if tok.isidentifier():
            out.append("N")
        elif not keep_ops and tok in ("+", "-", "*", "/", "//", "%"):
            out.append("OP")
        else:
            out.append(tok)
    return " ".join(out)


class SiblingOperatorMismatch(Rule):
    """`(x + y == z) or (x + z == y) or (y - z == x)`: one part of a chain breaks the pattern of the others."""

    id = "CW125"
    kind = "subtle"
    severity = "low"
    confidence = "medium"
    message = ("This part of the and/or chain uses a different operator from its siblings, which all agree: a "
               "typo? suggestions may imitate this code")
    VALID = ("ok = (x + y == z) or (x + z == y) or (y + z == x)\n", "ok = a > 0 and b < 10\n",
             "ok = (a + b > c) or (a - b > c)\n")
    INVALID = ("ok = (x + y == z) or (x + z == y) or (y - z == x)\n",
               "inside = lo <= a + 1 and lo <= b + 1 and lo <= c - 1 and lo <= d + 1\n")

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        parent_op = type(node.operator)
        parts: list[cst.BaseExpression] = []

        def flatten(e: cst.BaseExpression) -> None:
            if isinstance(e, cst.BooleanOperation) and isinstance(e.operator, parent_op):
                flatten(e.left)
                flatten(e.right)
            else:
                parts.append(e)

        flatten(node)
        if len(parts) < 3 or len({_shape(p, False) for p in parts}) != 1:
            return
        shapes = [_shape(p, True) for p in parts]
        odd = [p for p, s in zip(parts, shapes, strict=True) if shapes.count(s) == 1]
        if len(odd) == 1 and len(set(shapes)) == 2:
            self.report(odd[0])
