"""The safety API the completion pipeline, the LSP server and `codeward review` call (pure and thread-safe)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from codeward.safety.errors import CheckError
from codeward.safety.findings import Finding
from codeward.safety.scan import EOL, line_breaks, split_lines
from codeward.safety.settings import ACTIONS, SafetySettings

log = logging.getLogger(__name__)

__all__ = ["CONTEXT_KINDS", "CheckError", "Finding", "check_suggestion", "check_text", "context_findings",
           "context_findings_around", "context_rule_ids", "decide", "decide_incomplete", "error_shown",
           "incomplete_verdict", "splice", "suggestion_lines", "warm_up"]

# the kinds of rule the context check runs: likely bugs in the code a model reads (bug and subtle), not security
CONTEXT_KINDS = frozenset({"bug", "subtle"})


def _analyse(text: str, settings: SafetySettings, lines: tuple[int, int] | None,
             region: tuple[int, int] | None = None) -> list[Finding]:
    """The engine's findings; any crash in it becomes a CheckError (logged with its traceback)."""
    from codeward.safety.engine import analyse

    try:
        return analyse(text, settings, lines, region=region)
    except CheckError:
        raise  # the engine logged each failed checker already
    except Exception as exc:  # a bug outside the checkers (the filters, the positions): still not a clean result
        log.warning("the safety engine failed on a %d-character text", len(text), exc_info=True)
        raise CheckError(f"safety check incomplete: the engine failed ({type(exc).__name__}: {exc}) "
                         "(see the log for the traceback)", (), ["engine"]) from exc


def check_text(text: str, settings: SafetySettings | None = None, *,
               lines: tuple[int, int] | None = None) -> list[Finding]:
    """All findings in `text`; with `lines=(first, last)` (1-based, inclusive) only those on these lines.

    Bad or partial code never raises; a crashed checker raises CheckError (with the others' findings)."""
    return _analyse(text, settings or SafetySettings(), lines)


def context_rule_ids() -> frozenset[str]:
    """The CW rules the context check runs: those whose kind is in CONTEXT_KINDS."""
    from codeward.safety.rules import rules_of_kind

    return rules_of_kind(CONTEXT_KINDS)


def context_findings(text: str, settings: SafetySettings | None = None) -> list[Finding]:
    """The likely bugs in code a model reads (the CW rules of kind bug and subtle only, no security or bandit
    checks: cheap enough for every pause in typing), on the repaired tree, `# nosec` and disabled rules honoured."""
    from codeward.safety.findings import is_suppressed, nosec_lines
    from codeward.safety.repair import repair
    from codeward.safety.rules import all_rules, run_rules

    settings = settings or SafetySettings()
    wanted = context_rule_ids() - {r.upper() for r in settings.disabled_rules}
    rep = repair(text)
    if rep.text is None or not wanted:
        return []
    found = run_rules(rep.text, disabled=set(all_rules()) - wanted, offset=rep.offset,
                      module=None)
    nosec = nosec_lines(text)
    n_lines = len(split_lines(text))
    return [f for f in found if 1 <= f.line <= n_lines and f.line not in rep.masked and not is_suppressed(f, nosec)]


def context_findings_around(text: str, line: int, settings: SafetySettings | None = None, before: int = 200,
                            after: int = 30) -> list[Finding]:
    """`context_findings` on the lines around 0-based `line` (what a prompt's prefix budget holds, and a little
    after), numbered in the whole text."""
    lines = text.split("\n")
    start = max(0, line - before)
    end = min(len(lines), line + after + 1)
    return [f.shifted(start) for f in context_findings("\n".join(lines[start:end]), settings)]


def warm_up(settings: SafetySettings | None = None) -> None:
    """Check a small snippet once, so the checkers' imports and plugin loading (~0.4 s) are not paid by the
    first suggestion; a failing checker is logged, not raised (the real check reports it)."""
    try:
        check_text("import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n",
                   settings)
    except CheckError as exc:
        log.debug("safety warm-up: %s", exc)


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
    findings on the suggestion's lines only (line numbers refer to the spliced buffer).

    Bad or partial code never raises; a crashed checker raises CheckError (with the findings it could make)."""
    if not suggestion.strip():
        return []
    settings = settings or SafetySettings()
    offset = min(max(offset, 0), len(buffer))
    text = splice(buffer, offset, suggestion, replace_len)
    first, last = suggestion_lines(buffer, offset, suggestion)
    try:
        found = _analyse(text, settings, (first, last), region=(first, last))
    except CheckError as exc:
        exc.findings = tuple(_own(exc.findings, buffer, offset, suggestion, replace_len, settings))
        raise
    return _own(found, buffer, offset, suggestion, replace_len, settings)


def _own(found: Sequence[Finding], buffer: str, offset: int, suggestion: str, replace_len: int,
         settings: SafetySettings) -> list[Finding]:
    """`found` less the findings the cursor's line had without the suggestion (see `_preexisting`); all of
    `found` when the buffer alone cannot be checked (the suggestion's own check did complete: over-report)."""
    if not found:
        return []
    first, last = suggestion_lines(buffer, offset, suggestion)
    try:
        before = _preexisting(buffer, offset, suggestion, max(replace_len, 0), settings, first, last)
    except CheckError as exc:
        log.warning("findings already on the cursor's line unknown (%s); all are the suggestion's", exc)
        return list(found)
    return [f for f in found if (f.rule_id, f.line, f.col) not in before]


def _preexisting(buffer: str, offset: int, suggestion: str, replace_len: int, settings: SafetySettings,
                 first: int, last: int) -> set[tuple[str, int, int]]:
    """(rule id, line, col), in the spliced buffer, of the findings the cursor's line had without the suggestion:
    code typed before the cursor or left after the suggestion on its lines is the file's, not the suggestion's."""
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
    for f in _analyse(buffer, settings, (first, first), region=(first, first)):
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


def incomplete_verdict(known: str, settings: SafetySettings | None = None) -> str:
    """The verdict of a check that failed part-way, whose completed part gives `known`: `known` where it is stricter
    than `safety.on_error`, else `error` (which on_error shows or hides). A failure never loosens what was found."""
    on_error = (settings or SafetySettings()).on_error
    stricter = known in ACTIONS and ACTIONS.index(known) > ACTIONS.index(on_error)
    return known if stricter else "error"


def decide_incomplete(findings: Sequence[Finding], settings: SafetySettings | None = None) -> str:
    """The verdict on the partial `findings` of a check that failed part-way (a CheckError's): the stricter of the
    policy on them and `safety.on_error` (see `incomplete_verdict`)."""
    return incomplete_verdict(decide(findings, settings), settings)


def error_shown(settings: SafetySettings | None = None) -> bool:
    """Whether a suggestion whose check failed (verdict `error`) is shown: `safety.on_error` is warn or allow."""
    return (settings or SafetySettings()).on_error != "block"
