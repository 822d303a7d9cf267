"""safety.on_bug_copy: a suggestion that repeats a bug rule of the code around the cursor is flagged (warn) or
hidden (block); the same finding without it in the context is left to the severity policy."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from codeward.completion.screening import COPY_NOTE, screen
from codeward.completion.types import Outcome, Suggestion, TextRange
from codeward.safety.settings import SafetySettings

BUGGY = "def middle(xs):\n    return xs[len(xs) / 2]\n\n\ndef half(ys):\n    return "
CLEAN = "def middle(xs):\n    return xs[len(xs) // 2]\n\n\ndef half(ys):\n    return "
COPY = "ys[len(ys) / 2]"


def _outcome(buffer: str) -> Outcome:
    line = buffer.count("\n")
    col = len(buffer.split("\n")[-1])
    return Outcome(sample_index=0, raw=COPY, suggestion=Suggestion(
        id="s1", text=COPY, insert_text="    return " + COPY, range=TextRange(line, 0, col), offset=len(buffer),
        replace_after=0))


def _screen(buffer: str, settings: SafetySettings) -> tuple[Suggestion, frozenset[str]]:
    out, hidden = asyncio.run(screen(buffer, [_outcome(buffer)], settings, "python"))
    assert out[0].suggestion is not None
    return out[0].suggestion, hidden


def test_a_suggestion_repeating_a_bug_of_its_context_is_warned_and_its_finding_says_so():
    s, hidden = _screen(BUGGY, SafetySettings())
    assert s.copies_bug and s.verdict == "warn" and not hidden
    (f,) = [f for f in s.findings if f.rule_id == "CW122"]
    assert f.message.startswith(COPY_NOTE)


def test_block_hides_it_and_a_clean_context_leaves_the_finding_to_the_severity_policy():
    s, hidden = _screen(BUGGY, SafetySettings(on_bug_copy="block"))
    assert s.verdict == "block" and hidden == {"s1"}
    s, hidden = _screen(CLEAN, SafetySettings(on_bug_copy="block"))
    assert not s.copies_bug and s.verdict == "allow" and not hidden  # CW122 alone is low severity: allowed
    assert [f.rule_id for f in s.findings] == ["CW122"]
    s, _ = _screen(BUGGY, replace(SafetySettings(), on_bug_copy="allow"))
    assert not s.copies_bug and s.verdict == "allow"


def _boom(*args: object, **kwargs: object) -> list:
    raise RuntimeError("boom")


def test_a_failed_context_check_leaves_a_possible_copy_incomplete_under_on_error(monkeypatch):
    """Fail closed: when the context check fails, a suggestion it could have judged a copy is not cleared."""
    from codeward.safety import api

    monkeypatch.setattr(api, "context_findings_around", _boom)
    s, hidden = _screen(BUGGY, SafetySettings(on_bug_copy="block", on_error="block"))
    assert s.incomplete and s.verdict == "error" and hidden == {"s1"}  # today: allow, shown
    assert "context check for bug copies failed (RuntimeError: boom)" in (s.check_error or "")
    s, hidden = _screen(BUGGY, SafetySettings())
    assert s.incomplete and s.verdict == "error" and not hidden  # on_error = warn shows it with a warning
    s, hidden = _screen(BUGGY, SafetySettings(on_bug_copy="allow"))
    assert not s.incomplete and s.verdict == "allow"  # the context check does not run: nothing is unknown


def test_an_incomplete_check_still_applies_the_bug_copy_policy(monkeypatch):
    """A crashed bandit leaves the libcst findings: the copy they show is blocked, and the check says incomplete."""
    from codeward.safety.checkers import bandit_adapter

    monkeypatch.setattr(bandit_adapter, "run_bandit", _boom)
    s, hidden = _screen(BUGGY, SafetySettings(on_bug_copy="block"))
    assert s.copies_bug and s.incomplete and s.verdict == "block" and hidden == {"s1"}  # today: error, shown
    s, hidden = _screen(BUGGY, SafetySettings())
    assert s.copies_bug and s.incomplete and s.verdict == "error" and not hidden  # warn vs on_error warn: error
