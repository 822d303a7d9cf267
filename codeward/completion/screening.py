"""Safety step: splice each suggestion into its buffer, check it, and let the policy show, annotate or hide it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from codeward.completion.types import Outcome, Suggestion
from codeward.safety.api import (
    CONTEXT_KINDS,
    CheckError,
    check_suggestion,
    decide,
    decide_incomplete,
    error_shown,
    incomplete_verdict,
)
from codeward.safety.findings import Finding
from codeward.safety.settings import SafetySettings

log = logging.getLogger(__name__)
CHECKED_LANGUAGES = frozenset({"python"})


COPY_NOTE = "Repeats a likely bug of the code around the cursor (safety.on_bug_copy): "
CONTEXT_FAILED = "the context check for bug copies failed"
_STRICTER = {"allow": 0, "warn": 1, "block": 2}


def context_rules(buffer: str, offset: int, settings: SafetySettings) -> tuple[frozenset[str], str | None]:
    """The bug rules that fire in the code the model read before `offset` (the lines around the cursor), and why
    that check failed (None when it completed): then no suggestion can be cleared of copying a bug."""
    from codeward.safety.api import context_findings_around

    line = buffer.count("\n", 0, offset)
    try:
        return frozenset(f.rule_id for f in context_findings_around(buffer[:offset], line, settings, after=0)), None
    except Exception as exc:  # logged with its traceback, and said on each suggestion it leaves open
        log.warning("the context check for bug copies failed; the suggestions it would judge are incomplete",
                    exc_info=True)
        return frozenset(), f"{CONTEXT_FAILED} ({type(exc).__name__}: {exc})"


def _context_kind(f: Finding) -> bool:
    """Whether a finding is one the context check could also report (a CW rule of a kind it runs)."""
    return f.source == "libcst" and f.kind in CONTEXT_KINDS


def _known(suggestion: Suggestion, settings: SafetySettings) -> str:
    """The policy on what the check of `suggestion` found (its partial findings when the check was incomplete)."""
    return decide(suggestion.findings, settings) if suggestion.incomplete else suggestion.verdict


def _copy_unknown(suggestion: Suggestion, why: str, settings: SafetySettings) -> Suggestion:
    """`suggestion` when the context check failed: if it has a finding the context could repeat, its check is
    incomplete and its verdict the stricter of what is known and `safety.on_error`."""
    if not any(map(_context_kind, suggestion.findings)):
        return suggestion
    message = "; ".join(m for m in (suggestion.check_error, why) if m)
    return replace(suggestion, verdict=incomplete_verdict(_known(suggestion, settings), settings), incomplete=True,
                   check_error=message)


def mark_copies(suggestion: Suggestion, in_context: frozenset[str], settings: SafetySettings,
                context_error: str | None = None) -> Suggestion:
    """A suggestion whose findings repeat a bug rule of its context: those findings say so, and the verdict is at
    least `safety.on_bug_copy` (on an incomplete check: the stricter of that and `safety.on_error`). With
    `context_error` (the context check failed) see `_copy_unknown`."""
    if settings.on_bug_copy == "allow" or suggestion.verdict == "unchecked":
        return suggestion
    if context_error is not None:
        return _copy_unknown(suggestion, context_error, settings)
    copied = [f for f in suggestion.findings if f.rule_id in in_context]
    if not copied:
        return suggestion
    findings = tuple(replace(f, message=COPY_NOTE + f.message) if f in copied else f for f in suggestion.findings)
    verdict = max(_known(suggestion, settings), settings.on_bug_copy, key=lambda v: _STRICTER.get(v, 0))
    if suggestion.incomplete:
        verdict = incomplete_verdict(verdict, settings)
    return replace(suggestion, findings=findings, verdict=verdict, copies_bug=True)


def screen_one(buffer: str, suggestion: Suggestion, settings: SafetySettings, language: str) -> Suggestion:
    """`suggestion` with the findings on its lines of the spliced buffer and the policy's verdict: "unchecked"
    when safety is off or the language is not checked; when a checker failed, the partial findings, `incomplete`,
    and the stricter of their policy and `safety.on_error` ("error" where on_error is as strict; never "allow"
    over a finding that blocks)."""
    if not settings.enabled or language not in CHECKED_LANGUAGES:
        return replace(suggestion, findings=(), verdict="unchecked")
    try:
        findings = check_suggestion(buffer, suggestion.offset, suggestion.text, settings,
                                    replace_len=suggestion.replace_after)
    except CheckError as exc:
        verdict = decide_incomplete(exc.findings, settings)
        log.warning("suggestion %s: %s; verdict %s (safety.on_error = %s)", suggestion.id, exc, verdict,
                    settings.on_error)
        return replace(suggestion, findings=tuple(exc.findings), verdict=verdict, incomplete=True,
                       check_error=str(exc))
    return replace(suggestion, findings=tuple(findings), verdict=decide(findings, settings))


def hides(verdict: str, settings: SafetySettings) -> bool:
    """Whether the editor hides a suggestion with `verdict` (blocked, or an error the policy does not show)."""
    return verdict == "block" or (verdict == "error" and not error_shown(settings))


async def screen(buffer: str, outcomes: Sequence[Outcome], settings: SafetySettings,
                 language: str) -> tuple[list[Outcome], frozenset[str]]:
    """Every kept suggestion checked off the event loop (the checks are CPU-bound); the ids the policy hides.

    Nothing is dropped here: an eval records each sample's verdict, the editor leaves the hidden ones out."""
    out: list[Outcome] = []
    hidden: set[str] = set()
    in_context: tuple[frozenset[str], str | None] | None = None
    for outcome in outcomes:
        if outcome.suggestion is None:
            out.append(outcome)
            continue
        checked = await asyncio.to_thread(screen_one, buffer, outcome.suggestion, settings, language)
        if settings.on_bug_copy != "allow" and any(map(_context_kind, checked.findings)):
            if in_context is None:  # once per request, and only when a suggestion has a rule finding
                in_context = await asyncio.to_thread(context_rules, buffer, outcome.suggestion.offset, settings)
            rules, context_error = in_context
            checked = mark_copies(checked, rules, settings, context_error)
        if hides(checked.verdict, settings):
            hidden.add(checked.id)
        out.append(replace(outcome, suggestion=checked))
    return out, frozenset(hidden)
