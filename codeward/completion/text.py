"""Text positions and line helpers: 0-based (line, column) in UTF-16 code units or code points <-> string offsets.

LSP counts columns in UTF-16 code units by default (UTF-8 or UTF-32 = code points if negotiated) and ends lines at `\\n`, `\\r\\n` or `\\r` (never at the other
characters `str.splitlines` knows); Python strings index code points. Everything here follows LSP's rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ColumnUnit = Literal["utf-16", "utf-8", "code-point"]
UNITS: tuple[str, ...] = ("utf-16", "utf-8", "code-point")
EOL = re.compile(r"\r\n|\r|\n")  # LSP's line endings


class PositionError(ValueError):
    """A cursor outside the document, or a column unit codeward does not know; the message says which."""


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units (astral characters count two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _units(ch: str, unit: ColumnUnit) -> int:
    if unit == "utf-16":
        return 2 if ord(ch) > 0xFFFF else 1
    return len(ch.encode("utf-8", "surrogatepass"))


def to_code_points(line_text: str, column: int, unit: ColumnUnit) -> int:
    """Code-point column of `column` (in `unit`) on `line_text`; past the end clamps to the end (LSP's rule)."""
    if unit == "code-point":
        return min(column, len(line_text))
    if unit not in UNITS:
        raise PositionError(f"unknown column unit {unit!r}; use one of {', '.join(UNITS)}")
    units = 0
    for index, ch in enumerate(line_text):
        if units >= column:
            return index
        units += _units(ch, unit)
        if units > column:  # the column splits a character: keep the whole character before the cursor
            return index
    return len(line_text)


def from_code_points(line_text: str, column: int, unit: ColumnUnit) -> int:
    """Column in `unit` of code-point `column` on `line_text`."""
    if unit == "code-point":
        return column
    if unit == "utf-16":
        return utf16_len(line_text[:column])
    return len(line_text[:column].encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Cursor:
    """Where the cursor is in a text: its offset and the pieces of its line the pipeline keeps asking for."""

    line: int  # 0-based
    column: int  # 0-based, code points
    offset: int  # index into the text
    line_start: int  # index of the first character of the cursor's line
    line_before: str  # text on the line before the cursor
    line_after: str  # text on the line after the cursor (without the line ending)

    def column_in(self, unit: ColumnUnit) -> int:
        """The cursor's column in `unit`."""
        return from_code_points(self.line_before, len(self.line_before), unit)


def locate(text: str, line: int, column: int, unit: ColumnUnit = "utf-16", *, base: int = 0,
           clamp: bool = True) -> Cursor:
    """The cursor at 0-based `line` and `column` (in `unit`); PositionError if it is not in the text.

    `base` is the numbering the user sees (0 for LSP, 1 for the CLI), used in messages only. With `clamp`
    (LSP's rule) a column past the line's end means the end; without it, that column is an error."""
    shown_line, shown_col = line + base, column + base
    if line < 0 or column < 0:
        what = f"line {shown_line}" if line < 0 else f"column {shown_col}"
        raise PositionError(f"{what} is outside the document (lines and columns start at {base})")
    start = 0
    for _ in range(line):
        match = EOL.search(text, start)
        if match is None:
            count = len(EOL.findall(text)) + 1
            raise PositionError(f"line {shown_line} is outside the document (it has {count} line(s), "
                                f"numbered from {base})")
        start = match.end()
    end_match = EOL.search(text, start)
    end = end_match.start() if end_match else len(text)
    line_text = text[start:end]
    if not clamp and column > from_code_points(line_text, len(line_text), unit):
        last = from_code_points(line_text, len(line_text), unit) + base
        raise PositionError(f"column {shown_col} is outside line {shown_line} (valid: {base}..{last}; a column "
                            "may be one past the end of the line)")
    col = to_code_points(line_text, column, unit)
    return Cursor(line=line, column=col, offset=start + col, line_start=start, line_before=line_text[:col],
                  line_after=line_text[col:])


def split_lines(text: str) -> list[str]:
    """Lines of `text` by LSP's line endings (a trailing newline gives a last empty line)."""
    return EOL.split(text)


def indent_width(line: str) -> int:
    """Number of leading spaces and tabs of `line` (each counts one)."""
    return len(line) - len(line.lstrip(" \t"))


def line_offset(text: str, line: int) -> int:
    """Offset of the start of 0-based `line` in `text` (the end of `text` if it has fewer lines)."""
    offset = 0
    for _ in range(line):
        match = EOL.search(text, offset)
        if match is None:
            return len(text)
        offset = match.end()
    return offset
