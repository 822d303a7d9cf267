"""pyflakes on an already-parsed tree: names used but defined nowhere (F821) or read before assignment (F823)."""

from __future__ import annotations

import ast
import logging
import re

from codeward.safety.findings import Finding

log = logging.getLogger(__name__)

KIND = "bug"  # a name defined nowhere, or read before it is assigned, is a NameError / UnboundLocalError to come

F821_MESSAGE = "Undefined name {!r}: it is defined nowhere in this file (a typo, or a missing import?)"
F823_MESSAGE = "Local variable {!r} is read before it is assigned in this function"
# names a module has at run time that pyflakes does not know (a package's __path__, ...)
MODULE_NAMES = frozenset({"__path__", "__builtins__", "__loader__", "__spec__", "__cached__"})


def writes_globals(tree: ast.Module) -> bool:
    """Whether the module makes names at run time: `globals().update(...)`, `globals()[name] = ...`."""
    for node in ast.walk(tree):
        target = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("update", "setdefault") else \
            node.value if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) else None
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == "globals":
            return True
    return False


def run_pyflakes(tree: ast.Module, offset: int = 0) -> list[Finding]:
    """Undefined-name findings from pyflakes' checker on `tree`; lines shifted up by `offset`."""
    from pyflakes import checker, messages

    try:
        result = checker.Checker(tree, filename="suggestion.py")
    except RecursionError as exc:  # nesting too deep for pyflakes' visitor: bad input, not a checker bug
        log.debug("pyflakes cannot walk the text (%s); undefined-name check skipped", exc)
        return []
    out: list[Finding] = []
    dynamic = None
    for msg in result.messages:
        if isinstance(msg, messages.UndefinedName):
            if str(msg.message_args[0]) in MODULE_NAMES:
                continue
            dynamic = writes_globals(tree) if dynamic is None else dynamic
            if dynamic:  # a name "defined nowhere" may be one the module makes itself
                continue
            rule, template = "F821", F821_MESSAGE
        elif isinstance(msg, messages.UndefinedLocal):
            rule, template = "F823", F823_MESSAGE
        else:
            continue
        name = str(msg.message_args[0])
        line = int(msg.lineno) - offset
        out.append(Finding(rule, None, "medium", "medium", line, line, int(getattr(msg, "col", 0) or 0),
                           template.format(name), "pyflakes", kind=KIND))
    return out


def name_of(finding: Finding) -> str:
    """The name a pyflakes finding is about (from its message)."""
    match = re.search(r"'([^']+)'", finding.message)
    return match.group(1) if match else ""
