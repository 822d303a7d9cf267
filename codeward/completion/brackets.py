"""A small bracket scanner for Python-like text that skips strings and comments (for partial code too)."""

from __future__ import annotations

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


def _string_start(text: str, i: int) -> str | None:
    """The quote that opens a string at `i` (triple quotes first), else None."""
    for q in ('"""', "'''", '"', "'"):
        if text.startswith(q, i):
            return q
    return None


def scan(text: str, stack: list[str] | None = None, quote: str | None = None) -> ScanResult:
    """Scan `text` starting with open brackets `stack` (innermost last) and, if given, inside string `quote`."""
    stack = list(stack or [])
    floor = len(stack)
    closed_outer: list[str] = []
    last_balanced: int | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            if ch == "\n" and len(quote) == 1:
                quote = None  # an unterminated one-line string ends at the line's end
            i += 1
            continue
        if ch == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        q = _string_start(text, i)
        if q is not None:
            quote = q
            i += len(q)
            continue
        if ch in _PAIRS:
            stack.append(ch)
        elif ch in _CLOSERS:
            if not stack or stack[-1] != _CLOSERS[ch]:
                return ScanResult(stack, "".join(closed_outer), stack[floor:], i, last_balanced, False)
            stack.pop()
            if len(stack) < floor:
                floor = len(stack)
                closed_outer.append(ch)
        elif ch == "\n" and len(stack) <= floor:
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
