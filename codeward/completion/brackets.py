"""A small bracket scanner for Python-like text that skips strings and comments (for partial code too)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}


def closer_for(opener: str) -> str:
    """The bracket that closes `opener`."""
    return _PAIRS[opener]


@dataclass
class ScanResult:
    """Brackets after scanning a text from a starting stack.

    `closed_outer`: closers that closed brackets of the starting stack, in order; `unclosed`: brackets the text
    opened and left open; `excess_at`: index of the first closer that matches nothing (scanning stops there);
    `last_balanced_line_end`: index of the last newline at which the text had nothing of its own open.
    """

    stack: list[str]
    closed_outer: str = ""
    unclosed: list[str] = field(default_factory=list)
    excess_at: int | None = None
    last_balanced_line_end: int | None = None
    in_string: bool = False


# What the scanner stops at: outside strings, quotes, comments, brackets and line ends; inside a string, its closing
# quote, a backslash and (one-line strings) the line end. A regex jumps over everything else.
_CODE_STOP = re.compile(r"\"\"\"|'''|[\"'#()\[\]{}\n]")
_STRING_STOP = {q: re.compile(re.escape(q) + (r"|\\" if len(q) == 3 else r"|\\|\n")) for q in ('"""', "'''", '"', "'")}


def scan(text: str, stack: list[str] | None = None, quote: str | None = None) -> ScanResult:
    """Scan `text` starting with open brackets `stack` (innermost last) and, if given, inside string `quote`.

    Linear and fast on long prefixes (the whole text before the cursor is scanned on every request)."""
    stack = list(stack or [])
    floor = len(stack)
    closed_outer: list[str] = []
    last_balanced: int | None = None
    i, n = 0, len(text)
    while i < n:
        if quote is not None:
            m = _STRING_STOP[quote].search(text, i)
            if m is None:
                break
            i = m.end() + (1 if m.group() == "\\" else 0)
            if m.group() != "\\":
                quote = None  # its closing quote, or the line end of an unterminated one-line string
            continue
        m = _CODE_STOP.search(text, i)
        if m is None:
            break
        i, hit = m.start(), m.group()
        if hit == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if hit[0] in "\"'":
            quote = hit
            i += len(hit)
            continue
        if hit in _PAIRS:
            stack.append(hit)
        elif hit in _CLOSERS:
            if not stack or stack[-1] != _CLOSERS[hit]:
                return ScanResult(stack, "".join(closed_outer), stack[floor:], i, last_balanced, False)
            stack.pop()
            if len(stack) < floor:
                floor = len(stack)
                closed_outer.append(hit)
        elif len(stack) <= floor:  # a line end with nothing of the text's own open
            last_balanced = i
        i += 1
    return ScanResult(stack, "".join(closed_outer), stack[floor:], None, last_balanced, quote is not None)


def open_at_end(text: str) -> tuple[str, bool]:
    """Brackets still open at the end of `text` (innermost last) and whether it ends inside a string.

    An excess closer (the text starts mid-expression) resets the stack: what came before is unknown anyway.
    """
    stack: list[str] = []
    rest = text
    while True:
        result = scan(rest, stack)
        if result.excess_at is None:
            return "".join(result.stack), result.in_string
        rest = rest[result.excess_at + 1:]
        stack = []
