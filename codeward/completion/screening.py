"""Safety step: splice each suggestion into its buffer, check it, and let the policy show, annotate or hide it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from codeward.completion.types import Outcome, Suggestion
from codeward.safety.api import CONTEXT_KINDS, CheckError, check_suggestion, decide, error_shown
from codeward.safety.findings import Finding
from codeward.safety.settings import SafetySettings

log = logging.getLogger(__name__)
CHECKED_LANGUAGES = frozenset({"python"})


COPY_NOTE = "Repeats a likely bug of the code around the cursor (safety.on_bug_copy): "
_STRICTER = {"allow": 0, "warn": 1, "block": 2}


def context_rules(buffer: str, offset: int, settings: SafetySettings) -> frozenset[str]:
    """The bug rules that fire in the code the model read before `offset` (the lines around the cursor)."""
    from codeward.safety.api import context_findings_around

    line = buffer.count("\n", 0, offset)
    try:
        return frozenset(f.rule_id for f in context_findings_around(buffer[:offset], line, settings, after=0))
    except Exception:
        log.warning("the context check for bug copies failed; not applied", exc_info=True)
        return frozenset()


def _context_kind(f: Finding) -> bool:
    """Whether a finding is one the context check could also report (a CW rule of a kind it runs)."""
    return f.source == "libcst" and f.kind in CONTEXT_KINDS


def mark_copies(suggestion: Suggestion, in_context: frozenset[str], settings: SafetySettings) -> Suggestion:
    """A suggestion whose findings repeat a bug rule of its context: those findings say so, and the verdict is at
    least `safety.on_bug_copy`."""
    copied = [f for f in suggestion.findings if f.rule_id in in_context]
    if not copied or settings.on_bug_copy == "allow" or suggestion.verdict in ("error", "unchecked"):
        return suggestion
    findings = tuple(replace(f, message=COPY_NOTE + f.message) if f in copied else f for f in suggestion.findings)
    verdict = max(suggestion.verdict, settings.on_bug_copy, key=lambda v: _STRICTER.get(v, 0))
    return replace(suggestion, findings=findings, verdict=verdict, copies_bug=True)


def screen_one(buffer: str, suggestion: Suggestion, settings: SafetySettings, language: str) -> Suggestion:
    """`suggestion` with the findings on its lines of the spliced buffer and the policy's verdict: "unchecked"
    when safety is off or the language is not checked, "error" when a checker failed (never "allow")."""
    if not settings.enabled or language not in CHECKED_LANGUAGES:
        return replace(suggestion, findings=(), verdict="unchecked")
    try:
        findings = check_suggestion(buffer, suggestion.offset, suggestion.text, settings,
                                    replace_len=suggestion.replace_after)
    except CheckError as exc:
        log.warning("suggestion %s: %s; verdict error (safety.on_error = %s)", suggestion.id, exc, settings.on_error)
        return replace(suggestion, findings=tuple(exc.findings), verdict="error")
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
    in_context: frozenset[str] | None = None
    for outcome in outcomes:
        if outcome.suggestion is None:
            out.append(outcome)
            continue
        checked = await asyncio.to_thread(screen_one, buffer, outcome.suggestion, settings, language)
        if settings.on_bug_copy != "allow" and any(map(_context_kind, checked.findings)):
            if in_context is None:  # once per request, and only when a suggestion has a rule finding
                in_context = await asyncio.to_thread(context_rules, buffer, outcome.suggestion.offset, settings)
            checked = mark_copies(checked, in_context, settings)
        if hides(checked.verdict, settings):
            hidden.add(checked.id)
        out.append(replace(outcome, suggestion=checked))
    return out, frozenset(hidden)
