"""The suggestion cache: typing forward through a shown suggestion needs no new model call.

When the user types the first characters of the suggestion, the buffer with the suggestion spliced in is the same
as before, so the rest of the suggestion, its findings and its verdict still hold.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from codeward.completion.text import Cursor
from codeward.completion.types import CompletionRequest, CompletionResult, Outcome, Suggestion, type_forward

FORWARD_CHARS = 64  # typed further than this from a cached result or a run, the user no longer types along it


def typed_since(before: str, after: str, request: CompletionRequest, cursor: Cursor) -> str | None:
    """What `request` typed at the cursor of an earlier position whose document had `before` / `after` the cursor,
    or None when it does not type forward from there (other text after the cursor, or before it)."""
    now_before, now_after = request.text[: cursor.offset], request.text[cursor.offset:]
    if now_after != after or not now_before.startswith(before):
        return None
    return now_before[len(before):]


def along_line(typed: str | None) -> bool:
    """Whether `typed` (from `typed_since`) is a few characters on the same line: the user still types along."""
    return typed is not None and len(typed) <= FORWARD_CHARS and "\n" not in typed


@dataclass(frozen=True)
class _Entry:
    before: str  # document text before the cursor
    after: str  # document text after the cursor
    result: CompletionResult


class SuggestionCache:
    """Per-document last result (LRU over documents) plus an LRU of suggestions by id for accept."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_id: OrderedDict[str, tuple[str, Suggestion]] = OrderedDict()

    def store(self, uri: str, request: CompletionRequest, cursor: Cursor, result: CompletionResult) -> None:
        """Remember `result` for typing forward and its suggestions for accept."""
        if self.size <= 0:
            return
        self._entries[uri] = _Entry(request.text[: cursor.offset], request.text[cursor.offset:], result)
        self._entries.move_to_end(uri)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        for s in result.suggestions:
            self.remember(uri, s)

    def remember(self, uri: str, suggestion: Suggestion) -> None:
        """Keep `suggestion` findable by id (for `codeward.acceptCompletion`)."""
        self._by_id[suggestion.id] = (uri, suggestion)
        self._by_id.move_to_end(suggestion.id)
        while len(self._by_id) > max(256, self.size * 4):
            self._by_id.popitem(last=False)

    def _typed(self, uri: str, request: CompletionRequest, cursor: Cursor) -> tuple[_Entry, str] | None:
        """`uri`'s cached entry and what was typed at its cursor since, or None when `request` does not type
        forward from it (other text after the cursor, or before it other than the entry's plus what was typed)."""
        entry = self._entries.get(uri)
        typed = None if entry is None else typed_since(entry.before, entry.after, request, cursor)
        return None if entry is None or typed is None else (entry, typed)

    def _kept(self, entry: _Entry, typed: str, request: CompletionRequest, cursor: Cursor) -> list[Suggestion]:
        if not typed:
            return list(entry.result.suggestions)
        return [s for s in (type_forward(s, typed, cursor, request.unit) for s in entry.result.suggestions)
                if s is not None]

    def typed_off(self, uri: str, request: CompletionRequest, cursor: Cursor) -> bool:
        """Whether `request` types forward on the line of `uri`'s cached result, which had suggestions, and has
        left every one of them: the user typed another character than a shown suggestion's next one, or past its
        end. Its answer is no longer of use, and the model's next one is wanted at once."""
        found = self._typed(uri, request, cursor)
        if found is None:
            return False
        entry, typed = found
        return bool(entry.result.suggestions) and typed != "" and along_line(typed) \
            and not self._kept(entry, typed, request, cursor)

    def lookup(self, uri: str, request: CompletionRequest, cursor: Cursor) -> CompletionResult | None:
        """The cached result advanced by what was typed since, or None if the typing left every suggestion."""
        found = self._typed(uri, request, cursor)
        if found is None:
            return None
        entry, typed = found
        kept = self._kept(entry, typed, request, cursor)
        if not kept:
            return None
        outcomes = [Outcome(s.sample_index, s.text, s) for s in kept]  # the shown ones, advanced; no model call
        return CompletionResult(outcomes=outcomes, prompt=entry.result.prompt, mode=entry.result.mode,
                                template=entry.result.template, samples=[], timings_ms={"cache": 0.0})

    def suggestion(self, suggestion_id: str) -> tuple[str, Suggestion] | None:
        """(uri, suggestion) for an id the server handed out recently."""
        return self._by_id.get(suggestion_id)

    def clear_results(self, size: int) -> None:
        """Drop every cached result (new settings may judge them differently); ids stay known for accept."""
        self.size = size
        self._entries.clear()

    def forget(self, uri: str) -> None:
        """Drop a closed document's entry."""
        self._entries.pop(uri, None)
