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

__all__ = ["CompletionRequest", "CompletionResult", "OtherDocument", "Outcome", "Suggestion", "TextRange"]


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
    numbering: int = 0  # how the user counts lines and columns (1 for the CLI), for error messages
    clamp_column: bool = True  # LSP's rule: a column past the line's end means its end (False: an error)
    task_line: int | None = None  # 0-based line where the target task starts (the instruct policy's `task` anchor)

    def cursor(self) -> Cursor:
        """The cursor's geometry; PositionError if the position is not in the text."""
        return locate(self.text, self.line, self.column, self.unit, base=self.numbering, clamp=self.clamp_column)


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
    verdict: str = "allow"  # "allow" | "warn" | "block" | "unchecked" (safety off, not Python) | "error" (a checker failed)
    sample_index: int = 0
    copies_bug: bool = False  # repeats a likely bug of the code around the cursor (safety.on_bug_copy)
    # a checker (or the context check for bug copies) failed: `findings` are partial and `verdict` is the stricter
    # of the policy on them and safety.on_error ("error" where on_error is as strict); `check_error` says why
    incomplete: bool = False
    check_error: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (for `codeward complete --json`, stats and eval rows)."""
        return {"id": self.id, "text": self.text, "insert_text": self.insert_text,
                "range": {"line": self.range.line, "start": self.range.start, "end": self.range.end},
                "verdict": self.verdict, "findings": [f.as_dict() for f in self.findings],
                "sample_index": self.sample_index, "copies_bug": self.copies_bug, "incomplete": self.incomplete,
                "check_error": self.check_error}


@dataclass(frozen=True)
class Outcome:
    """What became of one sample: the suggestion it gave (checked, with its verdict), or the filter that dropped it."""

    sample_index: int
    raw: str  # the model's text as sampled
    suggestion: Suggestion | None  # None when a postprocess filter dropped the sample
    dropped_by: str | None = None  # the name of that filter

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form: the suggestion's fields, or `verdict: "dropped"` with `dropped_by`."""
        if self.suggestion is None:
            return {"sample_index": self.sample_index, "raw": self.raw, "text": "", "verdict": "dropped",
                    "dropped_by": self.dropped_by, "findings": []}
        return {**self.suggestion.as_dict(), "raw": self.raw, "dropped_by": None}


@dataclass
class CompletionResult:
    """The pipeline's answer: one outcome per sample (in sample order, duplicates kept, as an eval needs them) and
    the exact prompt. `suggestions` and `blocked` are the editor's view: shown ones de-duplicated, best first."""

    outcomes: list[Outcome]
    prompt: str
    mode: str
    template: str
    samples: list[Sample] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()  # ids of suggestions the policy hides (blocked, or errors under block)
    cold: bool = False  # served from the short context because the model's cache lacked the full one
    policy: dict[str, int] = field(default_factory=dict)  # what the context policy changed (instruct / exclude)

    @property
    def suggestions(self) -> list[Suggestion]:
        """Suggestions to show: not hidden, the first of each distinct (text, replaced) pair, sample order."""
        seen: set[tuple[str, int]] = set()
        out = []
        for o in self.outcomes:
            s = o.suggestion
            if s is None or s.id in self.hidden or (s.text, s.replace_after) in seen:
                continue
            seen.add((s.text, s.replace_after))
            out.append(s)
        return out

    @property
    def blocked(self) -> list[Suggestion]:
        """Suggestions the policy hides, in sample order."""
        return [o.suggestion for o in self.outcomes if o.suggestion is not None and o.suggestion.id in self.hidden]


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
    typing left it. The spliced buffer is unchanged, so everything its check said (findings, verdict, bug copy,
    an incomplete check) still holds: only the text and its place change."""
    if not typed or "\n" in typed or not suggestion.text.startswith(typed) or len(typed) >= len(suggestion.text):
        return None
    fresh = make_suggestion(suggestion.text[len(typed):], cursor, unit, replace_after=suggestion.replace_after)
    return replace(suggestion, text=fresh.text, insert_text=fresh.insert_text, range=fresh.range,
                   offset=fresh.offset)
