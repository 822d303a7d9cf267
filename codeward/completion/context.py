"""Context: the text the model reads, cut from the document around the cursor under token budgets.

The prefix is cut at line starts snapped to multiples of `START_STEP` lines, so that while the user types the
prompt's start stays put and llama.cpp's KV cache of the previous prompt stays valid (DESIGN.md: ~0.2 s warm
against ~3.7 s cold for 1,024 tokens). Snippets from other open documents are picked in a stable order; the
template puts them first (as comments, or in the family's repository-level format).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codeward.completion.settings import INSTRUCTION_LINE, ContextSettings
from codeward.completion.snippets import OtherDocument, Snippet, pick_snippets
from codeward.completion.text import EOL, Cursor, indent_width, line_offset

CountTokens = Callable[[str], int]
START_STEP = 8  # prefix windows start on a line number that is a multiple of this
QUERY_LINES = 30  # at module level, snippets are matched against this many lines above the cursor's line
QUERY_CHARS = 2000
_CHARS_PER_TOKEN_MAX = 8  # generous: a window of budget * this many characters always holds the budget
_DEF = re.compile(r"^([ \t]*)(async[ \t]+)?def[ \t]")


@dataclass(frozen=True)
class Context:
    """The pieces of one prompt: `prefix` (instruction + document window), `suffix`, and the snippets of other
    documents (`picked`), which the template places before the prefix."""

    prefix: str
    suffix: str
    window_start: int  # offset in the document where the prefix window starts
    snippets: tuple[str, ...]  # paths of the other documents snippets came from
    instruction_line: int | None  # 0-based document line the instruction was inserted before, if any
    picked: tuple[Snippet, ...] = ()  # the snippets themselves, in prompt order
    elided: tuple[int, ...] = ()  # exclude policy: 1-based document lines replaced by the marker
    excluded: int = 0  # exclude policy: snippets left out for their likely bugs


def _fits(text: str, budget: int, count: CountTokens) -> bool:
    return count(text) <= budget


def _first_fitting(candidates: Sequence[int], text: str, budget: int, count: CountTokens) -> int | None:
    """Smallest candidate start (ascending list) whose tail `text[start:]` fits; binary search."""
    lo, hi, best = 0, len(candidates) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if _fits(text[candidates[mid]:], budget, count):
            best, hi = candidates[mid], mid - 1
        else:
            lo = mid + 1
    return best


def trim_prefix(prefix: str, budget: int, count: CountTokens) -> int:
    """Offset in `prefix` where the kept window starts: whole lines, snapped starts first, never over budget."""
    if budget <= 0 or not prefix:
        return len(prefix)
    lo = max(0, len(prefix) - budget * _CHARS_PER_TOKEN_MAX)
    if lo == 0 and _fits(prefix, budget, count):
        return 0
    first_line = prefix.count("\n", 0, lo)  # absolute line number of the line holding `lo` (\n endings)
    starts = [m.end() for m in EOL.finditer(prefix, lo)]
    numbered = [(first_line + 1 + i, s) for i, s in enumerate(starts)]
    snapped = [s for n, s in numbered if n % START_STEP == 0]
    for candidates in (snapped, starts):
        start = _first_fitting(candidates, prefix, budget, count)
        if start is not None:
            return start
    # The cursor's own line is over budget: keep its tail, halving until it fits.
    size = min(len(prefix), budget * 4)
    while size > 0 and not _fits(prefix[len(prefix) - size:], budget, count):
        size //= 2
    return len(prefix) - size


def trim_suffix(suffix: str, budget: int, count: CountTokens) -> str:
    """The longest run of whole lines at the start of `suffix` within `budget` (at least nothing)."""
    if budget <= 0 or not suffix:
        return ""
    window = suffix[: budget * _CHARS_PER_TOKEN_MAX]
    if window == suffix and _fits(suffix, budget, count):
        return suffix
    ends = [m.end() for m in EOL.finditer(window)]
    lo, hi, best = 0, len(ends) - 1, 0
    while lo <= hi:
        mid = (lo + hi) // 2
        if _fits(window[: ends[mid]], budget, count):
            best, lo = ends[mid], mid + 1
        else:
            hi = mid - 1
    return window[:best]


def function_start(text: str, cursor: Cursor) -> int | None:
    """0-based line of the function holding the cursor (its first decorator if any); None at module level."""
    lines = EOL.split(text[: cursor.line_start])[:-1]  # complete lines before the cursor's line
    if cursor.line_before.strip():
        ref = indent_width(cursor.line_before)
        if _DEF.match(cursor.line_before):
            return _with_decorators(lines, cursor.line)
    else:
        prev = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)
        if prev is None:
            return None
        if _DEF.match(lines[prev]):
            return _with_decorators(lines, prev)
        ref = indent_width(lines[prev])
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if not line.strip() or indent_width(line) >= ref:
            continue
        if _DEF.match(line):
            return _with_decorators(lines, i)
        if line.lstrip().startswith(("#", ")", "]", "}", '"', "'")):
            continue  # comments and closing brackets or string lines at odd indentation say nothing
        ref = indent_width(line)
        if ref == 0:
            return None
    return None


def _with_decorators(lines: list[str], index: int) -> int:
    while index > 0 and lines[index - 1].lstrip().startswith("@"):
        index -= 1
    return index


@functools.lru_cache(maxsize=16)
def _lines_above_start(above: str, budget: int, count: CountTokens) -> int:
    """trim_prefix of the lines above the cursor's line: the same from keystroke to keystroke on one line, so it is
    remembered (its binary search is a dozen tokenizer calls)."""
    return trim_prefix(above, budget, count)


def window_start(prefix_doc: str, line_start: int, budget: int, count: CountTokens) -> int:
    """Where the prefix window starts: chosen from the lines before the cursor's line with a reserve for that
    line, so that typing on one line leaves the window's start (and the KV cache of the prompt) where it was."""
    reserve = max(8, budget // 8)
    if budget > reserve and line_start > 0:
        start = _lines_above_start(prefix_doc[:line_start], budget - reserve, count)
        if _fits(prefix_doc[start:], budget, count):
            return start
    return trim_prefix(prefix_doc, budget, count)


def snippet_query(text: str, cursor: Cursor) -> str:
    """What snippets from other documents are matched against: the enclosing function up to the cursor's line (at
    module level the lines above it), complete lines only, so typing on a line never re-chooses the snippets."""
    top = function_start(text, cursor)
    first = top if top is not None else max(0, cursor.line - QUERY_LINES)
    return text[line_offset(text, first): cursor.line_start][-QUERY_CHARS:]


def build_context(text: str, cursor: Cursor, settings: ContextSettings, count: CountTokens, *,
                  path: str = "", language: str = "python", others: Sequence[OtherDocument] = (),
                  use_suffix: bool = True, task_line: int | None = None) -> Context:
    """Prefix and suffix for `cursor` in `text` under the budgets of `settings`, with the context policy applied.
    The instruct policy's line goes before the function that holds the cursor (anchor `function`, or `task` when
    the request has no `task_line`), else before the cursor's line; with anchor `task`, before `task_line`."""
    prefix_doc = text[: cursor.offset]
    budget = settings.prefix_tokens
    inserted_at: int | None = None
    if settings.policy == "instruct":
        budget = max(1, budget - count(INSTRUCTION_LINE + "\n"))
        if settings.instruct_anchor == "task" and task_line is not None and 0 <= task_line <= cursor.line:
            inserted_at = task_line
        else:
            inserted_at = function_start(text, cursor)
        if inserted_at is None:
            inserted_at = cursor.line
    start = window_start(prefix_doc, cursor.line_start, budget, count)
    window = prefix_doc[start:]
    if inserted_at is not None:
        at = max(line_offset(text, inserted_at), start)
        window = prefix_doc[start:at] + INSTRUCTION_LINE + "\n" + prefix_doc[at:]
    chosen = pick_snippets(others, path=path, language=language, query=snippet_query(text, cursor),
                           settings=settings, count=count) if others else []
    elided: tuple[int, ...] = ()
    excluded = 0
    if settings.policy == "exclude":
        window, elided = elide_buggy_lines(window, text.count("\n", 0, start), cursor.line)
        kept = [s for s in chosen if not likely_buggy(s.text)]
        excluded, chosen = len(chosen) - len(kept), kept
    after = text[cursor.offset:]
    if settings.suffix_scope == "line":
        after = cursor.line_after
    suffix = trim_suffix(after, settings.suffix_tokens, count) if use_suffix and settings.suffix_scope != "none" \
        else ""
    return Context(prefix=window, suffix=suffix, window_start=start, snippets=tuple(s.path for s in chosen),
                   instruction_line=inserted_at, picked=tuple(chosen), elided=elided, excluded=excluded)


ELISION = "# ... (left out by codeward: a likely bug, {rule})"


@functools.lru_cache(maxsize=64)
def _bug_lines(text: str) -> tuple[tuple[int, int, str], ...]:
    """(first, last, rule) of each likely bug in `text` (1-based lines). Cached: while the user types on one line,
    the text before it and the snippets stay the same from keystroke to keystroke."""
    from codeward.safety.api import context_findings

    return tuple((f.line, f.end_line, f.rule_id) for f in context_findings(text))


def likely_buggy(text: str) -> bool:
    """Whether the bug and subtle-bug rules find something in `text` (a snippet from another document)."""
    return bool(_bug_lines(text))


def elide_buggy_lines(window: str, first_line: int, cursor_line: int) -> tuple[str, tuple[int, ...]]:
    """`window` (the prefix, starting at 0-based document line `first_line`) with the lines of each likely bug
    before the cursor's line replaced by one marker comment at the bug's indentation; the 1-based document lines
    replaced. The cursor's own line is never touched (the user is typing it)."""
    lines = window.split("\n")
    whole = max(0, cursor_line - first_line)  # the lines of `window` before the cursor's
    gone: dict[int, str] = {}
    for first, last, rule in _bug_lines("\n".join(lines[:whole])):
        for i in range(first - 1, last):
            gone.setdefault(i, rule)
    if not gone:
        return window, ()
    out = []
    for i, line in enumerate(lines):
        if i not in gone:
            out.append(line)
        elif i - 1 not in gone or gone[i - 1] != gone[i]:
            out.append(line[: len(line) - len(line.lstrip())] + ELISION.format(rule=gone[i]))
    return "\n".join(out), tuple(sorted(first_line + i + 1 for i in gone))
