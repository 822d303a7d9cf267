"""Focus a check on the code around a suggestion: its innermost enclosing def/class (else its top-level
statement) plus the module's imports.

Checking a 300-line buffer whole costs several times more than checking the suggestion's function, and findings
elsewhere are dropped anyway. Lines outside the focus become blank, so line numbers do not change. The scan is
by indentation only (no tokenizer), so it stays cheap on large buffers; a wrong guess only costs context.
"""

from __future__ import annotations

import ast
import re

from codeward.safety.scan import indent_of, is_code

BEFORE, AFTER = 40, 3  # context lines kept around a suggestion inside a long block
_IMPORT = re.compile(r"^(?:import|from)\s+[\w.]+")
_BLOCK = re.compile(r"^\s*(?:async\s+def|def|class)\s")
_CONTINUES = re.compile(r"^\s*(?:[)\]}]|elif\b|else\b|except\b|finally\b|case\b)")


def _target_indent(lines: list[str], first: int, last: int) -> int:
    return next((indent_of(lines[n]) for n in range(first, min(last + 1, len(lines))) if is_code(lines[n])),
                indent_of(lines[first]) if first < len(lines) else 0)


def _start(lines: list[str], first: int, target: int) -> tuple[int, int]:
    """(line, indent) where the focus starts: the nearest def/class above with less indentation, else the
    top-level statement holding `first`."""
    for n in range(first, -1, -1):
        line = lines[n]
        if not is_code(line):
            continue
        width = indent_of(line)
        if width < target and _BLOCK.match(line):
            return n, width
        if width == 0 and not _CONTINUES.match(line):
            return n, 0
    return 0, 0


def _end(lines: list[str], last: int, width: int) -> int:
    """The last line of the block that starts at indentation `width` and holds line `last`."""
    for n in range(last + 1, len(lines)):
        line = lines[n]
        if is_code(line) and indent_of(line) <= width and not _CONTINUES.match(line):
            return n - 1
    return len(lines) - 1


def focus(lines: list[str], region: tuple[int, int]) -> tuple[list[str], tuple[int, int]]:
    """`lines` with everything but the block around `region` (1-based, inclusive) and the imports blanked,
    and the 1-based span kept around the region."""
    if not lines:
        return lines, region
    first = min(max(region[0] - 1, 0), len(lines) - 1)
    last = min(max(region[1] - 1, first), len(lines) - 1)
    start, width = _start(lines, first, _target_indent(lines, first, last))
    while start > 0 and lines[start - 1].lstrip().startswith("@"):
        start -= 1  # keep decorators with their function
    end = max(_end(lines, last, width), last)
    start, end = max(start, first - BEFORE), min(end, last + AFTER)  # a long block is cut; repair copes
    work = [""] * len(lines)
    work[start:end + 1] = lines[start:end + 1]
    open_import = False
    for n, line in enumerate(lines):
        if open_import or (line[:1] in ("i", "f") and _IMPORT.match(line)):
            work[n] = line
            open_import = (open_import or "(" in line) and ")" not in line
    return work, (start + 1, end + 1)


def _bodies(node: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested directly in a compound statement."""
    out = [getattr(node, name) for name in ("body", "orelse", "finalbody") if getattr(node, name, None)]
    out += [h.body for h in getattr(node, "handlers", [])]
    out += [c.body for c in getattr(node, "cases", [])]
    return [b for b in out if isinstance(b, list) and b and isinstance(b[0], ast.stmt)]


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def statement_span(tree: ast.Module, first: int, last: int) -> tuple[int, int]:
    """The lines of the innermost statements that cover lines first..last (1-based), with the statement
    before them (the rules that look at siblings, like unreachable code, need it)."""
    body: list[ast.stmt] = tree.body
    while True:
        idx = [i for i, s in enumerate(body) if s.lineno <= last and (s.end_lineno or s.lineno) >= first]
        if not idx:
            return first, last
        if len(idx) == 1:
            inner = next((b for b in _bodies(body[idx[0]])
                          if b[0].lineno <= first and (b[-1].end_lineno or b[-1].lineno) >= last), None)
            if inner is not None:
                body = inner
                continue
        lo = max(idx[0] - 1, 0)
        return _first_line(body[lo]), max(body[idx[-1]].end_lineno or 0, last)
