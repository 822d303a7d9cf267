"""Where the LSP latency benchmark types: one-line statements of standard-library files, chosen by seed."""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Line:
    """A line to type again: its 0-based number, the column typing starts at, the text before that column
    (kept), and the rest of the line (typed)."""

    number: int
    column: int
    prefix: str
    target: str


def _sources(stdlib: Path, low: int, high: int) -> list[tuple[Path, list[str]]]:
    out = []
    for path in sorted(p for p in stdlib.glob("*.py") if not p.name.startswith("_")):
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError):
            continue
        if low <= len(lines) <= high:
            out.append((path, lines))
    return out


def _one_line_statements(text: str) -> list[int]:
    """0-based numbers of lines that hold a whole simple statement (not a docstring, not a comment)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr, ast.Raise)) \
                and node.lineno == node.end_lineno:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # docstrings
            found.add(node.lineno - 1)
    return sorted(found)


def pick_lines(stdlib: Path, files: int, per_file: int, rng: random.Random) -> dict[Path, list[Line]]:
    """`per_file` lines in each of `files` stdlib modules of 300-3,000 lines, top to bottom."""
    sources = _sources(stdlib, 300, 3000)
    chosen: dict[Path, list[Line]] = {}
    for path, lines in rng.sample(sources, min(files, len(sources))):
        numbers = [n for n in _one_line_statements("\n".join(lines)) if 12 <= len(lines[n].strip()) <= 90]
        picked = []
        for n in sorted(rng.sample(numbers, min(per_file, len(numbers)))):
            text = lines[n].rstrip()
            indent = len(text) - len(text.lstrip())
            column = indent + rng.randint(0, min(6, (len(text) - indent) // 3))
            picked.append(Line(n, column, text[:column], text[column:]))
        chosen[path] = picked
    return chosen


def thousand_line_files(stdlib: Path) -> list[Path]:
    """The three stdlib modules nearest to 1,000 lines."""
    sources = _sources(stdlib, 800, 1200)
    sources.sort(key=lambda s: (abs(len(s[1]) - 1000), s[0].name))
    return [path for path, _ in sources[:3]]
