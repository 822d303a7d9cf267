"""Safety step: splice each suggestion into its buffer, check it, and let the policy show, annotate or drop it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from codeward.completion.types import Suggestion
from codeward.safety.api import check_suggestion, decide
from codeward.safety.settings import SafetySettings

CHECKED_LANGUAGES = frozenset({"python"})


def screen_one(buffer: str, suggestion: Suggestion, settings: SafetySettings, language: str) -> Suggestion:
    """`suggestion` with the findings on its lines of the spliced buffer and the policy's verdict."""
    if not settings.enabled or language not in CHECKED_LANGUAGES:
        return replace(suggestion, findings=(), verdict="unchecked")
    findings = check_suggestion(buffer, suggestion.offset, suggestion.text, settings,
                                replace_len=suggestion.replace_after)
    return replace(suggestion, findings=tuple(findings), verdict=decide(findings, settings))


async def screen(buffer: str, suggestions: Sequence[Suggestion], settings: SafetySettings,
                 language: str) -> tuple[list[Suggestion], list[Suggestion]]:
    """(shown, blocked): every suggestion checked off the event loop (the checks are CPU-bound), order kept."""
    shown: list[Suggestion] = []
    blocked: list[Suggestion] = []
    for suggestion in suggestions:
        checked = await asyncio.to_thread(screen_one, buffer, suggestion, settings, language)
        (blocked if checked.verdict == "block" else shown).append(checked)
    return shown, blocked
