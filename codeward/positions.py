"""Cursor positions in text: 1-based line/column (CLI), 0-based offsets, UTF-16 columns (LSP)."""

from __future__ import annotations


class PositionError(ValueError):
    """A cursor position outside the document; the message names the position and the valid range."""


def offset_of(text: str, line: int, col: int) -> int:
    """String index of 1-based `line`, 1-based `col` (code points; `col` may be one past the end of the line)."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        raise PositionError(f"line {line} is outside the file (it has {len(lines)} line(s); lines start at 1)")
    length = len(lines[line - 1].rstrip("\r"))
    if not 1 <= col <= length + 1:
        raise PositionError(f"column {col} is outside line {line} (valid: 1..{length + 1}; "
                            "columns start at 1 and may be one past the end of the line)")
    return sum(len(s) + 1 for s in lines[: line - 1]) + col - 1
