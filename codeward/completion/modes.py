"""Mode: whether a suggestion may span lines, the indentation its block keeps, and the stops to match."""

from __future__ import annotations

from dataclasses import dataclass

from codeward.completion.text import EOL, Cursor, indent_width
from codeward.model.stops import stop_preset

# In auto mode a multi-line suggestion ends where a new top-level statement would start.
MULTI_LINE_STOPS: tuple[str, ...] = ("\nclass ", "\ndef ", "\nasync def ", "\n@", "\nif __name__")
SINGLE_LINE_STOPS: tuple[str, ...] = ("\n",)
_TRIPLE = ('"""', "'''")


@dataclass(frozen=True)
class Mode:
    """`kind` is "single" or "multi"; suggestion lines indented less than `min_indent` leave the block."""

    kind: str
    stops: tuple[str, ...]
    min_indent: int


def _code(line: str) -> str:
    """The line without a trailing comment (a rough cut: a `#` inside a string also cuts)."""
    return line.split("#", 1)[0].rstrip()


def _previous_lines(text: str, cursor: Cursor, limit: int = 200) -> list[str]:
    """Up to `limit` non-blank lines before the cursor's line, nearest first."""
    head = text[max(0, cursor.line_start - 20_000): cursor.line_start]
    lines = [ln for ln in EOL.split(head)[:-1] if ln.strip()]
    return lines[::-1][:limit]


def _opening_header(previous: list[str]) -> str | None:
    """The block header the cursor's empty line follows: a line ending in `:`, or a def whose docstring is all
    the body so far; None otherwise."""
    if not previous:
        return None
    last = previous[0]
    if _code(last).endswith(":"):
        return last
    stripped = last.strip()
    if not stripped.endswith(_TRIPLE):
        return None
    quote = stripped[-3:]
    # Walk up to the line that opens this docstring, then expect a header right above it.
    opened_here = stripped.count(quote) >= 2
    index = 0 if opened_here else next((i for i in range(1, len(previous)) if quote in previous[i]), None)
    if index is None or index + 1 >= len(previous):
        return None
    header = previous[index + 1]
    return header if _code(header).endswith(":") else None


def choose_mode(text: str, cursor: Cursor, setting: str = "auto", stops_setting: str = "auto") -> Mode:
    """Multi-line on an otherwise empty line that opens a block or function body (or at the end of a header
    line); single-line when text follows the cursor or the line is under way. `setting` can force either."""
    before, after = cursor.line_before, cursor.line_after
    previous = _previous_lines(text, cursor)
    header: str | None = None
    if before.strip() and not after.strip() and _code(before).endswith(":"):
        header = before
    elif not before.strip() and not after.strip():
        header = _opening_header(previous)
    if setting == "single" or (setting == "auto" and header is None):
        return Mode("single", SINGLE_LINE_STOPS, 0)
    if header is not None:
        min_indent = indent_width(header) + 1
    elif before.strip():
        min_indent = indent_width(before)
    else:
        min_indent = min(len(before), indent_width(previous[0])) if previous else 0
    stops = MULTI_LINE_STOPS if stops_setting == "auto" else stop_preset(stops_setting)
    return Mode("multi", stops, min_indent)
