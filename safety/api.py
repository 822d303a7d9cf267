"""The safety API the completion pipeline, the LSP server and `codeward review` call (pure and thread-safe)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from codeward.safety.findings import Finding
from codeward.safety.settings import ACTIONS, SafetySettings

log = logging.getLogger(__name__)

__all__ = ["Finding", "check_suggestion", "check_text", "decide", "splice", "suggestion_lines"]


def check_text(text: str, settings: SafetySettings | None = None, *,
               lines: tuple[int, int] | None = None) -> list[Finding]:
    """All findings in `text`; with `lines=(first, last)` (1-based, inclusive) only those on these lines."""
    from codeward.safety.engine import analyse

    settings = settings or SafetySettings()
    try:
        return analyse(text, settings, lines)
    except Exception:  # the contract: never raise for bad or partial code
        log.warning("safety check failed on a %d-character text; no findings reported", len(text), exc_info=True)
        return []


def splice(buffer: str, offset: int, suggestion: str, replace_len: int = 0) -> str:
    """`buffer` with `suggestion` inserted at str index `offset`, replacing `replace_len` characters."""
    offset = min(max(offset, 0), len(buffer))
    end = min(offset + max(replace_len, 0), len(buffer))
    return buffer[:offset] + suggestion + buffer[end:]


def _line_breaks(text: str) -> int:
    return text.replace("\r\n", "\n").replace("\r", "\n").count("\n")


def suggestion_lines(buffer: str, offset: int, suggestion: str) -> tuple[int, int]:
    """1-based first and last line the suggestion occupies in the spliced buffer (a final newline adds none)."""
    offset = min(max(offset, 0), len(buffer))
    first = _line_breaks(buffer[:offset]) + 1
    body = suggestion.removesuffix("\n")
    return first, first + _line_breaks(body)


def check_suggestion(buffer: str, offset: int, suggestion: str, settings: SafetySettings | None = None, *,
                     replace_len: int = 0) -> list[Finding]:
    """Splice `suggestion` into `buffer` at str index `offset` (replacing `replace_len` chars) and return the
    findings on the suggestion's lines only (line numbers refer to the spliced buffer)."""
    from codeward.safety.engine import analyse

    if not suggestion.strip():
        return []
    settings = settings or SafetySettings()
    text = splice(buffer, offset, suggestion, replace_len)
    first, last = suggestion_lines(buffer, offset, suggestion)
    try:
        return analyse(text, settings, (first, last), region=(first, last))
    except Exception:  # the contract: never raise for bad or partial code
        log.warning("safety check of a suggestion failed; no findings reported", exc_info=True)
        return []


def decide(findings: Sequence[Finding], settings: SafetySettings | None = None) -> str:
    """The policy's verdict: "allow" | "warn" | "block" (the strictest action over the findings' severities)."""
    settings = settings or SafetySettings()
    verdict = "allow"
    for f in findings:
        action = {"high": settings.on_high, "medium": settings.on_medium, "low": settings.on_low}.get(
            f.severity, settings.on_low)
        if ACTIONS.index(action) > ACTIONS.index(verdict):
            verdict = action
    return verdict
