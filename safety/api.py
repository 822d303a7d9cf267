"""The safety API the completion pipeline, the LSP server and `codeward review` call (pure and thread-safe)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from codeward.safety.findings import Finding
from codeward.safety.scan import EOL, line_breaks, split_lines
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


def suggestion_lines(buffer: str, offset: int, suggestion: str) -> tuple[int, int]:
    """1-based first and last line the suggestion occupies in the spliced buffer (a final newline adds none)."""
    offset = min(max(offset, 0), len(buffer))
    first = line_breaks(buffer[:offset]) + 1
    body = suggestion.removesuffix("\n")
    return first, first + line_breaks(body)


def check_suggestion(buffer: str, offset: int, suggestion: str, settings: SafetySettings | None = None, *,
                     replace_len: int = 0) -> list[Finding]:
    """Splice `suggestion` into `buffer` at str index `offset` (replacing `replace_len` chars) and return the
    findings on the suggestion's lines only (line numbers refer to the spliced buffer)."""
    from codeward.safety.engine import analyse

    if not suggestion.strip():
        return []
    settings = settings or SafetySettings()
    offset = min(max(offset, 0), len(buffer))
    text = splice(buffer, offset, suggestion, replace_len)
    first, last = suggestion_lines(buffer, offset, suggestion)
    try:
        found = analyse(text, settings, (first, last), region=(first, last))
        if found:
            before = _preexisting(buffer, offset, suggestion, max(replace_len, 0), settings, first, last)
            found = [f for f in found if (f.rule_id, f.line, f.col) not in before]
        return found
    except Exception:  # the contract: never raise for bad or partial code
        log.warning("safety check of a suggestion failed; no findings reported", exc_info=True)
        return []


def _preexisting(buffer: str, offset: int, suggestion: str, replace_len: int, settings: SafetySettings,
                 first: int, last: int) -> set[tuple[str, int, int]]:
    """(rule id, line, col), in the spliced buffer, of the findings the cursor's line had without the suggestion:
    code typed before the cursor or left after the suggestion on its lines is the file's, not the suggestion's."""
    from codeward.safety.engine import analyse

    line_start = max(buffer.rfind("\n", 0, offset), buffer.rfind("\r", 0, offset)) + 1
    eol = EOL.search(buffer, offset + replace_len)
    line_end = eol.start() if eol else len(buffer)
    ends_line = suggestion.endswith(("\n", "\r"))  # then the rest of the line moves below the suggestion
    if not buffer[line_start:offset].strip() and (ends_line or not buffer[offset + replace_len:line_end].strip()):
        return set()
    column = offset - line_start
    breaks = line_breaks(suggestion)
    tail = split_lines(suggestion)[-1]
    end_column = column + len(tail) if breaks == 0 else len(tail)
    out = set()
    for f in analyse(buffer, settings, (first, first), region=(first, first)):
        if f.col < column:
            out.add((f.rule_id, first, f.col))
        elif f.col >= column + replace_len and first + breaks <= last:
            out.add((f.rule_id, first + breaks, end_column + f.col - column - replace_len))
    return out


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
