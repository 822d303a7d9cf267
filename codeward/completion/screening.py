"""Safety step: splice each suggestion into its buffer, check it, and let the policy show, annotate or hide it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from codeward.completion.types import Outcome, Suggestion
from codeward.safety.api import CheckError, check_suggestion, decide, error_shown
from codeward.safety.settings import SafetySettings

log = logging.getLogger(__name__)
CHECKED_LANGUAGES = frozenset({"python"})


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
    for outcome in outcomes:
        if outcome.suggestion is None:
            out.append(outcome)
            continue
        checked = await asyncio.to_thread(screen_one, buffer, outcome.suggestion, settings, language)
        if hides(checked.verdict, settings):
            hidden.add(checked.id)
        out.append(replace(outcome, suggestion=checked))
    return out, frozenset(hidden)
