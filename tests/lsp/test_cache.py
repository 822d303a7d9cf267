"""The suggestion cache: typing forward keeps everything the safety check said about a suggestion."""

from __future__ import annotations

from codeward.completion.types import (
    CompletionRequest,
    CompletionResult,
    Outcome,
    Suggestion,
    TextRange,
    type_forward,
)
from codeward.lsp_server.cache import SuggestionCache

BEFORE = "def half(ys):\n    return "


def _flagged() -> Suggestion:
    return Suggestion(id="s1", text="ys[len(ys) / 2]", insert_text="    return ys[len(ys) / 2]",
                      range=TextRange(1, 0, 11), offset=len(BEFORE), replace_after=0, verdict="warn",
                      sample_index=3, copies_bug=True, incomplete=True, check_error="bandit failed (boom)")


def test_type_forward_keeps_the_bug_copy_and_the_incomplete_check() -> None:
    typed = CompletionRequest(text=BEFORE + "ys[", line=1, column=14)
    s = type_forward(_flagged(), "ys[", typed.cursor(), typed.unit)
    assert s is not None and s.text == "len(ys) / 2]" and s.offset == len(BEFORE) + 3
    assert (s.id, s.verdict, s.sample_index, s.copies_bug, s.incomplete, s.check_error) == (
        "s1", "warn", 3, True, True, "bandit failed (boom)")


def test_a_cached_result_typed_forward_keeps_them_too() -> None:
    cache = SuggestionCache()
    first = CompletionRequest(text=BEFORE, line=1, column=11)
    result = CompletionResult(outcomes=[Outcome(3, _flagged().text, _flagged())], prompt="p", mode="single",
                              template="t")
    cache.store("file:///a.py", first, first.cursor(), result)
    later = CompletionRequest(text=BEFORE + "ys", line=1, column=13)
    found = cache.lookup("file:///a.py", later, later.cursor())
    assert found is not None
    (s,) = found.suggestions
    assert s.text == "[len(ys) / 2]" and s.copies_bug and s.incomplete and s.verdict == "warn"
