"""CW rules for insecure patterns bandit does not see: SQL built by string formatting, PRNG use it misses."""

from __future__ import annotations

import libcst as cst

from codeward.safety.rules import Rule

_EXECUTE = {"execute", "executemany", "executescript", "raw", "mogrify"}
_STRINGS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def _has_string(node: cst.BaseExpression) -> bool:
    if isinstance(node, _STRINGS):
        return True
    return isinstance(node, cst.BinaryOperation) and (_has_string(node.left) or _has_string(node.right))


def _only_strings(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return True
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add) and \
        _only_strings(node.left) and _only_strings(node.right)


def is_formatted(node: cst.BaseExpression) -> bool:
    """A string built from values at run time: `"..." % x`, `"..." + x`, `s.format(...)`, `f"...{x}"`."""
    if isinstance(node, cst.FormattedString):
        return any(isinstance(p, cst.FormattedStringExpression) for p in node.parts)
    if isinstance(node, cst.ConcatenatedString):
        return is_formatted(node.left) or is_formatted(node.right)
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Modulo):
            return _has_string(node.left)
        if isinstance(node.operator, cst.Add):
            return _has_string(node) and not _only_strings(node)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value == "format"
    return False


class SqlFromFormatting(Rule):
    """A query string built by formatting and passed to `execute` lets data change the SQL (injection)."""

    id = "CW110"
    kind = "security"
    cwe = 89
    severity = "medium"
    confidence = "medium"
    message = ("SQL built with string formatting is passed to execute(): pass the values as query parameters "
               "(cursor.execute(sql, params)) instead")
    VALID = ("cur.execute('SELECT * FROM t WHERE id = ?', (uid,))\n", "cur.execute('SHOW TABLES')\n",
             "cur.execute('SELECT a ' 'FROM t')\n", "sql = 'SELECT 1'\ncur.execute(sql)\n",
             "subprocess.run(cmd)\n")
    INVALID = ("cur.execute('SELECT * FROM t WHERE id = %s' % uid)\n",
               "cursor.execute(\"DROP TABLE {}\".format(name))\n",
               "db.execute(f\"DELETE FROM t WHERE name = '{name}'\")\n",
               "c.executemany('INSERT INTO ' + table + ' VALUES (?)', rows)\n",
               "q = 'SELECT * FROM users WHERE name = %s' % name\ncursor.execute(q)\n")

    def __init__(self) -> None:
        super().__init__()
        self.formatted: set[str] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                if is_formatted(node.value):
                    self.formatted.add(target.target.value)
                else:
                    self.formatted.discard(target.target.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in _EXECUTE) or not node.args:
            return
        first = node.args[0]
        if first.keyword is not None or first.star:
            return
        value = first.value
        if is_formatted(value) or (isinstance(value, cst.Name) and value.value in self.formatted):
            self.report(node)


_PRNG_ATTRS = {"seed", "shuffle"}
_PRNG_NAMES = {"randint", "randrange", "getrandbits", "randbytes", "random"}


class WeakRandom(Rule):
    """The `random` module is predictable; bandit's B311 misses `random.seed`/`shuffle` and un-imported names."""

    id = "CW111"
    kind = "security"
    cwe = 338
    severity = "low"
    confidence = "medium"
    message = ("The random module is not cryptographically secure; use the secrets module for tokens, "
               "passwords and keys")
    VALID = ("import secrets\ntoken = secrets.token_hex(16)\n", "rng = random.SystemRandom()\n",
             "def randint(a, b):\n    return a\nx = randint(1, 2)\n", "x = np.random.seed(0)\n")
    INVALID = ("random.seed(42)\n", "random.shuffle(deck)\n", "n = randint(0, 1000)\n", "x = random()\n")

    def __init__(self) -> None:
        super().__init__()
        self.bound: set[str] = set()
        self.calls: list[tuple[str, cst.Call]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "random" \
                and func.attr.value in _PRNG_ATTRS:
            self.report(node)
        elif isinstance(func, cst.Name) and func.value in _PRNG_NAMES and (func.value != "random" or not node.args):
            self.calls.append((func.value, node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.bound.add(node.name.value)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        name = node.asname.name if node.asname else node.name
        if isinstance(name, cst.Name):
            self.bound.add(name.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if isinstance(node.target, cst.Name):
            self.bound.add(node.target.value)

    def visit_Param(self, node: cst.Param) -> None:
        self.bound.add(node.name.value)

    def leave_Module(self, original_node: cst.Module) -> None:
        for name, call in self.calls:
            if name not in self.bound:
                self.report(call)


def _safe_loader(node: cst.Call) -> bool:
    loader = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "Loader"), None)
    if loader is None and len(node.args) > 1 and node.args[1].keyword is None:
        loader = node.args[1].value
    name = loader.value if isinstance(loader, cst.Name) else \
        loader.attr.value if isinstance(loader, cst.Attribute) else ""
    return "Safe" in name


class UnsafeYamlLoad(Rule):
    """yaml.load without a safe Loader builds arbitrary objects; bandit's B506 only looks once yaml is imported
    in the same text, so a suggestion or a window without the import would pass."""

    id = "CW112"
    kind = "security"
    cwe = 502
    severity = "medium"
    confidence = "medium"
    message = "yaml.load without SafeLoader can build arbitrary Python objects from the input; use yaml.safe_load"
    VALID = ("cfg = yaml.safe_load(stream)\n", "cfg = yaml.load(stream, Loader=yaml.SafeLoader)\n",
             "cfg = yaml.load(stream, CSafeLoader)\n", "import yaml\ncfg = yaml.load(stream)\n")
    INVALID = ("cfg = yaml.load(stream, Loader=Loader)\n", "docs = yaml.load_all(text)\n",
               "import yaml\ncfg = yaml.unsafe_load(stream)\n")

    def __init__(self) -> None:
        super().__init__()
        self.imported = False
        self.calls: list[cst.Call] = []

    def visit_Import(self, node: cst.Import) -> None:
        self.imported |= any(cst.Module([]).code_for_node(a.name) == "yaml" for a in node.names)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.imported |= isinstance(node.module, cst.Name) and node.module.value == "yaml"

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "yaml"):
            return
        if func.attr.value == "unsafe_load":
            self.report(node)
        elif func.attr.value in ("load", "load_all") and not _safe_loader(node):
            self.calls.append(node)

    def leave_Module(self, original_node: cst.Module) -> None:
        if not self.imported:  # with the import, bandit's B506 reports these
            for call in self.calls:
                self.report(call)
