"""What goes into the completion pipeline and what comes out: requests, suggestions, results."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from codeward.completion.snippets import OtherDocument
from codeward.completion.text import ColumnUnit, Cursor, from_code_points, locate

if TYPE_CHECKING:
    from codeward.model.base import Sample
    from codeward.safety.findings import Finding

__all__ = ["CompletionRequest", "CompletionResult", "OtherDocument", "Suggestion", "TextRange"]


@dataclass(frozen=True)
class CompletionRequest:
    """One cursor in one document. `line` and `column` are 0-based; `column` counts `unit`s: "utf-16" code
    units (LSP's default) or "code-point"s (Python string indices)."""

    text: str
    line: int
    column: int
    path: str = ""
    language: str = "python"
    unit: ColumnUnit = "utf-16"
    other_documents: tuple[OtherDocument, ...] = ()

    def cursor(self) -> Cursor:
        """The cursor's geometry; PositionError if the position is not in the text."""
        return locate(self.text, self.line, self.column, self.unit)


@dataclass(frozen=True)
class TextRange:
    """A range on the cursor's line, columns in the request's unit (end exclusive)."""

    line: int
    start: int
    end: int


@dataclass(frozen=True)
class Suggestion:
    """A suggestion ready to show: `text` goes in at the cursor; an editor replaces `range` by `insert_text`
    (the line's text before the cursor + `text`, so that what was typed so far is replaced by itself)."""

    id: str
    text: str
    insert_text: str
    range: TextRange
    offset: int  # code-point offset of the cursor in the request text
    replace_after: int  # characters after the cursor the suggestion replaces (brackets it closes itself)
    findings: tuple[Finding, ...] = ()
    verdict: str = "allow"  # "allow" | "warn" | "block" | "unchecked" (safety off or not Python)
    sample_index: int = 0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (for `codeward complete --json`, stats and eval rows)."""
        return {"id": self.id, "text": self.text, "insert_text": self.insert_text,
                "range": {"line": self.range.line, "start": self.range.start, "end": self.range.end},
                "verdict": self.verdict, "findings": [f.as_dict() for f in self.findings],
                "sample_index": self.sample_index}


@dataclass
class CompletionResult:
    """The pipeline's answer: suggestions to show (best first), those the policy blocked, and the exact prompt."""

    suggestions: list[Suggestion]
    prompt: str
    mode: str
    template: str
    blocked: list[Suggestion] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


_ids = itertools.count(1)
_PREFIX = f"{os.getpid():x}"


def new_id() -> str:
    """A suggestion id unique within this process (the editor sends it back on accept)."""
    return f"cw-{_PREFIX}-{next(_ids)}"


def make_suggestion(text: str, cursor: Cursor, unit: ColumnUnit, *, replace_after: int = 0,
                    sample_index: int = 0) -> Suggestion:
    """A suggestion for `cursor` with its replace range from the line start to the cursor (+ replaced text)."""
    line_text = cursor.line_before + cursor.line_after
    end = from_code_points(line_text, cursor.column + replace_after, unit)
    return Suggestion(id=new_id(), text=text, insert_text=cursor.line_before + text,
                      range=TextRange(cursor.line, 0, end), offset=cursor.offset, replace_after=replace_after,
                      sample_index=sample_index)


def type_forward(suggestion: Suggestion, typed: str, cursor: Cursor, unit: ColumnUnit) -> Suggestion | None:
    """The rest of `suggestion` after the user typed `typed` (a prefix of it) and moved to `cursor`; None if the
    typing left it. The spliced buffer is unchanged, so its findings and verdict still hold."""
    if not typed or "\n" in typed or not suggestion.text.startswith(typed) or len(typed) >= len(suggestion.text):
        return None
    fresh = make_suggestion(suggestion.text[len(typed):], cursor, unit, replace_after=suggestion.replace_after)
    return replace(fresh, id=suggestion.id, findings=suggestion.findings, verdict=suggestion.verdict,
                   sample_index=suggestion.sample_index)
