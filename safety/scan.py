"""A tolerant line scanner: groups physical lines into logical statements even in code that does not parse.

Python's own tokenizer stops at the first unterminated string or bracket; windows of real code and half-written
suggestions are full of those, so the repair needs a scanner that never fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STRING_START = re.compile(r"""(?i)(?:[rbuf]|br|rb|fr|rf)?('''|\"\"\"|'|")""")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


@dataclass
class Span:
    """A logical line: physical lines `start`..`end` (0-based, inclusive) and how it ends."""

    start: int
    end: int
    open_brackets: list[str] = field(default_factory=list)  # unclosed at the end (only non-empty at EOF)
    open_string: str | None = None  # the delimiter of a string still open at the end
    comment_col: int | None = None  # where a comment starts on the last line
    first_triple_line: int | None = None  # first line holding a triple quote inside this span


EOL = re.compile(r"\r\n|\r|\n")  # the line endings Python's parser knows


def line_breaks(text: str) -> int:
    """Number of line endings in `text`."""
    return len(EOL.findall(text))


def split_lines(text: str) -> list[str]:
    """Physical lines the way Python's parser counts them (\\n, \\r\\n and \\r end a line)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def indent_of(line: str) -> int:
    """Indentation width of a line, tabs expanded to 8 columns."""
    stripped = line.lstrip(" \t\f")
    return len(line[: len(line) - len(stripped)].expandtabs(8))


def is_code(line: str) -> bool:
    """True for a line holding anything but blanks or a comment."""
    s = line.strip()
    return bool(s) and not s.startswith("#")


class _State:
    """Mutable scanner state carried from one physical line to the next."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.string: str | None = None
        self.continued = False
        self.comment_col: int | None = None
        self.triple_line: int | None = None


def _scan_line(line: str, number: int, st: _State) -> None:
    """Advance the state over one physical line (strings, brackets, comments, backslash continuation)."""
    st.comment_col = None
    st.continued = False
    j, n = 0, len(line)
    while j < n:
        if st.string is not None:
            quote = st.string
            k = j
            while k < n:
                if line[k] == "\\":
                    k += 2
                    continue
                if line.startswith(quote, k):
                    break
                k += 1
            if k >= n:
                j = n
                if line.endswith("\\") and len(quote) == 1:
                    st.continued = True
                break
            j = k + len(quote)
            st.string = None
            continue
        ch = line[j]
        if ch == "#":
            st.comment_col = j
            break
        match = _STRING_START.match(line, j) if ch in "'\"rRbBuUfF" else None
        if match and (j == 0 or not (line[j - 1].isalnum() or line[j - 1] == "_") or ch in "'\""):
            st.string = match.group(1)
            if len(st.string) == 3 and st.triple_line is None:
                st.triple_line = number
            j = match.end()
            continue
        if ch in _CLOSERS:
            st.stack.append(ch)
        elif ch in ")]}":
            if st.stack:
                st.stack.pop()
        elif ch == "\\" and j == n - 1:
            st.continued = True
        j += 1
    if st.string is not None and len(st.string) == 1 and not st.continued:
        st.string = None  # an unterminated one-line string ends with its line (a syntax error)


def logical_spans(lines: list[str]) -> list[Span]:
    """Group lines into logical statements; blank and comment-only lines outside statements are skipped."""
    spans: list[Span] = []
    st = _State()
    start: int | None = None
    for number, line in enumerate(lines):
        if start is None:
            if not is_code(line):
                continue
            start = number
            st.triple_line = None
        _scan_line(line, number, st)
        if not st.stack and st.string is None and not st.continued:
            spans.append(Span(start, number, [], None, st.comment_col, st.triple_line))
            start = None
    if start is not None:
        spans.append(Span(start, len(lines) - 1, list(st.stack), st.string, st.comment_col, st.triple_line))
    return spans


def closers(span: Span) -> str:
    """Text that closes what `span` leaves open at the end of the text (its string, then its brackets)."""
    out = span.open_string or ""
    return out + "".join(_CLOSERS[b] for b in reversed(span.open_brackets))
