"""Repair partial code so the AST checks can run: indent headers, close brackets, mask broken statements.

The repaired text keeps every original line at its position (after `offset` synthetic header lines), so findings
map straight back. Lines that had to be masked are listed; the token scan covers them instead.
"""

from __future__ import annotations

import ast
import logging
import re
import warnings
from dataclasses import dataclass, field

from codeward.safety.scan import Span, closers, indent_of, is_code, logical_spans, split_lines

log = logging.getLogger(__name__)

_HEADER_KW = re.compile(r"^\s*(?:async\s+)?(if|elif|else|while|for|with|def|class|try|except|finally|match|case)\b")
_CONTINUATION_MASK = {"elif": "elif 1:", "else": "else:", "except": "except Exception:", "finally": "finally:"}
_TRY = re.compile(r"^(\s*)try\s*:")
_OPENS_STRING = re.compile(r"(?:[=(,\[{:+%]|\breturn|\byield|\bprint)\s*[rRbBuUfF]{0,2}$")
_ON_LINE = re.compile(r"on line (\d+)")


@dataclass(frozen=True)
class Repaired:
    """Result of `repair`: `text` parses (or is None when repair gave up); original line = line - offset."""

    text: str | None
    offset: int
    masked: frozenset[int]  # 1-based original lines the AST checks did not see
    changed: bool
    tree: ast.Module | None
    col_shift: dict[int, int] = field(default_factory=dict)  # 1-based line -> columns added by tab expansion


def parse(text: str) -> ast.Module | None:
    """ast.parse that returns None instead of raising (and keeps SyntaxWarnings quiet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return None


def _headers(lines: list[str], spans: list[Span]) -> list[str]:
    """`if 1:` lines that open every indentation level a window starting mid-block dedents to."""
    if not spans:
        return []
    first = indent_of(lines[spans[0].start])
    levels, low = [], first
    for span in spans[1:]:
        width = indent_of(lines[span.start])
        if width < low:
            levels.append(width)
            low = width
    if first == 0:
        return []
    if 0 not in levels:
        levels.append(0)
    return [" " * width + "if 1:" for width in sorted(set(levels))]


def _expand_indent(line: str) -> str:
    """Tabs in the indentation become spaces (mixed tabs and spaces are a TabError in Python 3)."""
    body = line.lstrip(" \t\f")
    if "\t" not in line[: len(line) - len(body)]:
        return line
    return " " * indent_of(line) + body


class _Repairer:
    """The masking loop over one text; each step fixes the statement the parser complains about."""

    def __init__(self, text: str) -> None:
        self.lines = split_lines(text)
        self.spans = logical_spans(self.lines)
        self.by_line = {n: i for i, s in enumerate(self.spans) for n in range(s.start, s.end + 1)}
        self.work = [_expand_indent(line) for line in self.lines]
        self.col_shift = {n + 1: len(w) - len(o) for n, (w, o) in enumerate(zip(self.work, self.lines)) if w != o}
        self.headers = _headers(self.lines, self.spans)
        self.level = [0] * len(self.spans)  # 0 untouched, 1 closed, 2 kept keyword, 3 neutral, 4 blank
        self.masked: set[int] = set()
        self.triple_done = False

    def source(self) -> str:
        return "\n".join(self.headers + self.work)

    def _deeper_next(self, i: int) -> bool:
        span = self.spans[i]
        if i + 1 >= len(self.spans):
            return False
        return indent_of(self.lines[self.spans[i + 1].start]) > indent_of(self.lines[span.start])

    def _strip_comment(self, span: Span) -> str:
        last = self.work[span.end]
        if span.comment_col is not None and self.work[span.end] == self.lines[span.end]:
            last = last[: span.comment_col]
        return last.rstrip()

    def _close(self, i: int) -> None:
        """Close an open string/brackets at EOF and add a missing `:` (and body) to a compound header."""
        span = self.spans[i]
        last = self._strip_comment(span) + closers(span)
        if _HEADER_KW.match(self.lines[span.start]) and not last.endswith(":"):
            last += ":"
        if last.endswith(":") and not self._deeper_next(i):
            last += " pass"
        self.work[span.end] = last

    def _mask(self, i: int, level: int) -> None:
        """Replace a statement by `pass`, a neutral header, or blank lines, keeping its line count."""
        span = self.spans[i]
        first = self.lines[span.start]
        pad = first[: len(first) - len(first.lstrip(" \t\f"))]
        match = _HEADER_KW.match(first)
        header = bool(match) or self._strip_comment(span).endswith(":")
        if level >= 4:
            text = ""
        elif header and level == 2 and match and match.group(1) in _CONTINUATION_MASK:
            text = pad + _CONTINUATION_MASK[match.group(1)]
            text += "" if self._deeper_next(i) else " pass"
        elif header and self._deeper_next(i):
            text = pad + "if 1:"
        else:
            text = pad + "pass"
        self.work[span.start] = text
        for n in range(span.start + 1, span.end + 1):
            self.work[n] = ""
        self.masked.update(range(span.start + 1, span.end + 2))

    def _starts_inside_string(self, cut: int) -> bool:
        """Guess whether the first triple quote (on line `cut`) closes a string begun before the window."""
        line = self.lines[cut]
        idx = min(i for i in (line.find('"""'), line.find("'''")) if i >= 0)
        head = line[:idx]
        if head.strip():  # `x = """` opens; `the end of a sentence."""` closes
            return not _OPENS_STRING.search(head) and parse(head.strip()) is None
        previous = [text for text in self.lines[:cut] if is_code(text)]
        if not previous:
            return False
        last = previous[-1].strip()
        return not last.endswith((":", "(", ",", "=", "[", "{", "\\")) and parse(last) is None

    def _blank_to_first_triple(self) -> bool:
        """A window that starts inside a docstring: blank everything up to the line closing it."""
        first = next((s for s in self.spans if s.first_triple_line is not None), None)
        if first is None or self.triple_done:
            return False
        cut = first.first_triple_line
        self.triple_done = True
        if not self._starts_inside_string(cut):
            return False
        self.spans = logical_spans([""] * (cut + 1) + self.lines[cut + 1:])
        self.by_line = {n: i for i, s in enumerate(self.spans) for n in range(s.start, s.end + 1)}
        self.level = [0] * len(self.spans)
        for n in range(cut + 1):
            self.work[n] = ""
            self.masked.add(n + 1)
        self.headers = _headers(self.work, self.spans)
        return True

    def docstring_start(self) -> None:
        """Before any parse: a window whose first triple quote closes a docstring gets it blanked."""
        first = next((s for s in self.spans if s.first_triple_line is not None), None)
        if first is not None and self._starts_inside_string(first.first_triple_line):
            self._blank_to_first_triple()

    def _untry(self, lineno: int) -> bool:
        """A `try:` whose handlers lie beyond the window becomes `if 1:` (same block structure)."""
        width = indent_of(self.work[lineno])
        for span in reversed(self.spans):
            line = self.work[span.start]
            if span.start < lineno and indent_of(line) < width and _TRY.match(line):
                self.work[span.start] = _TRY.sub(r"\1if 1:", line, count=1)
                return True
        return False

    def step(self, err: SyntaxError) -> bool:
        """Apply the next repair for `err`; False when nothing is left to try."""
        offset = len(self.headers)
        msg = str(err.msg or "")
        lineno = (err.lineno or 1) - offset - 1
        on_line = _ON_LINE.search(msg)
        if "expected an indented block" in msg and on_line:
            lineno = int(on_line.group(1)) - offset - 1
        lineno = min(max(lineno, 0), len(self.lines) - 1)
        i = self.by_line.get(lineno)
        if i is None:  # a blank/comment line: blame the statement before it
            i = max((k for k, s in enumerate(self.spans) if s.start <= lineno), default=None)
            if i is None:
                return False
        if "triple-quoted" in msg and self._blank_to_first_triple():
            return True
        if "expected 'except' or 'finally'" in msg and self._untry(lineno):
            return True
        if self.level[i] >= 4:
            i = max((k for k in range(i) if self.level[k] < 4), default=-1)
            if i < 0:
                return False
        level = self.level[i]
        span = self.spans[i]
        if level == 0 and (span.open_string or span.open_brackets or "expected ':'" in msg
                           or "expected an indented block" in msg):
            self._close(i)
            self.level[i] = 1
            return True
        level = max(level + 1, 2)
        if "indent" in msg and level < 4 and self.work[span.start].strip() in ("pass", "if 1:"):
            level = 4
        self._mask(i, level)
        self.level[i] = level
        return True


def repair(text: str, max_steps: int = 400) -> Repaired:
    """Make `text` parse by the smallest local edits; give up (text None, all lines masked) after `max_steps`."""
    tree = parse(text)
    if tree is not None:
        return Repaired(text, 0, frozenset(), False, tree)
    fixer = _Repairer(text)
    fixer.docstring_start()
    for _ in range(max_steps):
        source = fixer.source()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tree = ast.parse(source)
            except SyntaxError as err:
                if not fixer.step(err):
                    break
                continue
            except (ValueError, MemoryError, RecursionError) as exc:
                log.debug("repair: cannot parse (%s); falling back to the token scan", exc)
                break
        masked = frozenset(n for n in fixer.masked if 1 <= n <= len(fixer.lines))
        return Repaired(source, len(fixer.headers), masked, True, tree, fixer.col_shift)
    every = frozenset(n for n in range(1, len(fixer.lines) + 1) if is_code(fixer.lines[n - 1]))
    return Repaired(None, 0, every, True, None)
