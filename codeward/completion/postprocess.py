"""Postprocess: an ordered list of small pure filters, each `(candidate, context) -> candidate | DROP`.

The order lives in `default_filters`; bracket scanning lives in `codeward.completion.brackets`. Filters never see the
model or the document beyond what `PostContext` carries, so golden cases can pin each one down.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from codeward.completion.brackets import closer_for, open_at_end, scan
from codeward.completion.modes import Mode
from codeward.completion.text import Cursor, indent_width, split_lines


@dataclass(frozen=True)
class Candidate:
    """A suggestion under way: the text inserted at the cursor, replacing `replace_after` characters after it."""

    text: str
    replace_after: int = 0


@dataclass(frozen=True)
class PostContext:
    """What the filters know about the cursor."""

    line_before: str
    line_after: str
    next_lines: tuple[str, ...]  # a few document lines after the cursor's line
    open_brackets: str  # brackets still open at the cursor, innermost last ("" when unknown)
    in_string: bool  # the cursor is inside a string literal (bracket balancing is then skipped)
    mode: Mode
    template_kind: str = "prefix"
    enclosing_def: str = ""  # the function whose body holds the cursor ("" at module level or unknown)
    body_indent: int = 4  # that function's body indentation in the document


def context_for(text: str, cursor: Cursor, mode: Mode, template_kind: str = "prefix") -> PostContext:
    """The filters' view of `cursor` in `text`. String and bracket state come from the document start, never from
    the prompt window's start, which may lie inside a docstring or an open bracket."""
    tail = text[cursor.offset: cursor.offset + 4000]
    brackets, in_string = open_at_end(text[: cursor.offset])
    return PostContext(line_before=cursor.line_before, line_after=cursor.line_after,
                       next_lines=tuple(split_lines(tail)[1:6]), open_brackets=brackets, in_string=in_string,
                       mode=mode, template_kind=template_kind,
                       **enclosing_def(text[max(0, cursor.offset - 20000): cursor.offset], mode))


_DEF = re.compile(r"^([ \t]*)(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", re.MULTILINE)


def enclosing_def(before: str, mode: Mode) -> dict[str, str | int]:
    """The last `def` before the cursor that the cursor's block is inside (indented less than it): its name and
    its body's indentation (of the first code line after the header; the def's own plus four when none)."""
    found = None
    for match in _DEF.finditer(before):
        if indent_width(match.group(1)) < mode.min_indent:
            found = match
    if found is None:
        return {}
    indent = indent_width(found.group(1)) + 4
    header_end = before.find(":\n", found.end())
    for line in before[header_end + 2:].split("\n") if header_end >= 0 else ():
        if line.strip():
            indent = max(indent_width(line), indent_width(found.group(1)) + 1)
            break
    return {"enclosing_def": found.group(2), "body_indent": indent}


def _body_of_redefinition(lines: list[str], ctx: PostContext) -> list[str]:
    """A chat answer that writes out the whole function the cursor is in: its body (imports before the `def`
    moved into it), re-indented to the cursor's block; other answers unchanged."""
    if not ctx.enclosing_def or ctx.mode.kind != "multi":
        return lines
    start = next((i for i, line in enumerate(lines) if (m := _DEF.match(line)) and m.group(2) == ctx.enclosing_def),
                 None)
    if start is None:
        return lines
    base = indent_width(lines[start])
    head = next((i for i in range(start, len(lines)) if lines[i].split("#")[0].rstrip().endswith(":")), None)
    if head is None:
        return lines
    body = lines[head + 1:]
    end = next((i for i, line in enumerate(body) if line.strip() and indent_width(line) <= base), len(body))
    body = _without_docstring(body[:end])
    if not any(line.strip() for line in body):
        return lines
    inner = min(indent_width(line) for line in body if line.strip())
    imports = [line.strip() for line in lines[:start] if line.startswith(("import ", "from "))]
    pad = " " * ctx.body_indent
    out = [pad + line for line in imports] + [pad + line[inner:] if line.strip() else "" for line in body]
    while out and not out[-1].strip():
        out.pop()
    if not ctx.line_before.strip():  # the first line follows the indentation already typed
        out[0] = out[0][min(len(ctx.line_before), ctx.body_indent):]
    return out


def _without_docstring(body: list[str]) -> list[str]:
    """`body` without a leading docstring (the prompt already has it)."""
    first = next((i for i, line in enumerate(body) if line.strip()), None)
    if first is None:
        return body
    opener = body[first].strip()[:3]
    if opener not in ('"""', "'''"):
        return body
    if body[first].strip().count(opener) >= 2 and len(body[first].strip()) > 3:
        return body[first + 1:]
    close = next((i for i in range(first + 1, len(body)) if opener in body[i]), None)
    return body[close + 1:] if close is not None else body


def drop_cut_line(text: str, finish_reason: str, mode: Mode) -> str:
    """Multi-line mode: a sample cut by the token limit (`finish_reason == "length"`) loses its last line, which
    the model was still writing; single-line samples and samples that stopped on their own are kept whole."""
    if finish_reason != "length" or mode.kind != "multi" or "\n" not in text:
        return text
    return text[: text.rindex("\n")]


DROP = None
Filter = Callable[[Candidate, PostContext], "Candidate | None"]


def _with_text(item: Candidate, text: str) -> Candidate | None:
    return replace(item, text=text) if text.strip() else DROP


_PROSE = re.compile(r"^[A-Z][A-Za-z']*(\s+[\w'’,-]+)+\s*[.:!]?$")
_FENCE = re.compile(r"^\s*```[\w+-]*\s*$")


def strip_chat(item: Candidate, ctx: PostContext) -> Candidate | None:
    """Chat templates: keep the code of a fenced block, drop prose lines around it and an echo of the line."""
    if ctx.template_kind != "chat":
        return item
    lines = item.text.split("\n")
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if len(fences) >= 2:
        lines = lines[fences[0] + 1: fences[1]]
    elif fences:
        lines = lines[:fences[0]] if fences[0] > 0 else lines[1:]
    while lines and _PROSE.match(lines[0].strip()) and not lines[0].rstrip().endswith(":"):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _PROSE.match(lines[-1].strip())):
        lines.pop()
    lines = _body_of_redefinition(lines, ctx)
    text = "\n".join(lines).replace("<CURSOR>", "")
    echo = ctx.line_before.strip()
    if echo and text.lstrip().startswith(echo):
        text = text.lstrip()[len(echo):]
    return _with_text(item, text)


def single_line(item: Candidate, ctx: PostContext) -> Candidate | None:
    """Single-line mode keeps the first line only."""
    if ctx.mode.kind != "single":
        return item
    return _with_text(item, item.text.split("\n", 1)[0])


def limit_scope(item: Candidate, ctx: PostContext) -> Candidate | None:
    """Multi-line mode stops at the first line indented less than the block the cursor is in."""
    if ctx.mode.kind != "multi":
        return item
    lines = item.text.split("\n")
    first = lines[0]
    if not ctx.line_before.strip() and first.strip() and len(ctx.line_before) + indent_width(first) < ctx.mode.min_indent:
        return DROP
    kept = [first]
    for line in lines[1:]:
        if line.strip() and indent_width(line) < ctx.mode.min_indent:
            break
        kept.append(line)
    return _with_text(item, "\n".join(kept))


def drop_repetition(item: Candidate, ctx: PostContext) -> Candidate | None:
    """Cut at a line repeated three times in a row or a block of 2-4 lines repeated; drop a degenerate last line."""
    lines = item.text.split("\n")
    # Compare lines as they will stand in the buffer: the first one follows the indentation already typed.
    keys = [line.rstrip() for line in lines]
    if not ctx.line_before.strip():
        keys[0] = ctx.line_before + keys[0]
    cut = len(lines)
    for i in range(len(keys)):
        if keys[i].strip() and i + 2 < len(keys) and keys[i] == keys[i + 1] == keys[i + 2]:
            cut = min(cut, i + 1)
        for k in range(2, 5):
            block = keys[i:i + k]
            if len(block) == k and any(b.strip() for b in block) and keys[i + k:i + 2 * k] == block:
                cut = min(cut, i + k)
    lines = lines[:cut]
    if lines and re.search(r"(.{4,}?)\1{4,}\s*$", lines[-1]):
        lines.pop()
    return _with_text(item, "\n".join(lines))


def drop_suffix_duplicates(item: Candidate, ctx: PostContext) -> Candidate | None:
    """Remove text the document already has after the cursor: the rest of the line, or the next code line."""
    lines = item.text.split("\n")
    after = ctx.line_after.strip()
    if after and lines[0].rstrip().endswith(after) and len(lines) == 1:
        lines[0] = lines[0].rstrip()[: -len(after)]
    following = next((ln.strip() for ln in ctx.next_lines if ln.strip()), "")
    if following and len(following) >= 3:
        for i in range(1, len(lines)):
            if lines[i].strip() == following:
                lines = lines[:i]
                break
    return _with_text(item, "\n".join(lines))


def limit_lines(max_lines: int) -> Filter:
    """A filter keeping at most `max_lines` lines."""
    def _limit(item: Candidate, ctx: PostContext) -> Candidate | None:
        return _with_text(item, "\n".join(item.text.split("\n")[:max_lines]))
    _limit.__name__ = f"limit_lines_{max_lines}"
    return _limit


def balance_brackets(item: Candidate, ctx: PostContext) -> Candidate | None:
    """Cut at a closer nothing opened; close what the suggestion opened (or cut back to its last balanced line);
    replace auto-closed brackets after the cursor that the suggestion closes itself."""
    if ctx.in_string:
        return item
    result = scan(item.text, list(ctx.open_brackets))
    text = item.text[: result.excess_at] if result.excess_at is not None else item.text
    if result.excess_at is not None:
        result = scan(text, list(ctx.open_brackets))
    replace_after = 0
    after = ctx.line_after
    while replace_after < len(result.closed_outer) and after[replace_after:replace_after + 1] == \
            result.closed_outer[replace_after]:
        replace_after += 1
    if result.unclosed:
        needed = "".join(closer_for(b) for b in reversed(result.unclosed))
        if "\n" in text and result.last_balanced_line_end:
            text = text[: result.last_balanced_line_end]
        elif not ctx.line_after.lstrip().startswith(needed[:1]):
            text = text.rstrip() + needed
    out = _with_text(item, text)
    return replace(out, replace_after=max(out.replace_after, replace_after)) if out else DROP


def trim_whitespace(item: Candidate, ctx: PostContext) -> Candidate | None:
    """Strip trailing spaces and blank lines; after a space already typed, strip the first line's leading ones.

    On a line holding only indentation, leading blank lines go and the indentation already typed is not repeated.
    """
    lines = [line.rstrip() for line in item.text.split("\n")]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    if not ctx.line_before.strip() and not ctx.line_after.strip():
        while len(lines) > 1 and not lines[0]:
            lines.pop(0)
        typed = ctx.line_before
        # A model that repeats the indentation already typed gets it once; but when the typed indentation is the
        # header's own level (only `    ` typed under `    if i:`), the model's extra indentation is the block's.
        if typed and lines[0].startswith(typed) and (
                ctx.mode.kind != "multi" or len(typed) + indent_width(lines[0][len(typed):]) >= ctx.mode.min_indent):
            lines[0] = lines[0][len(typed):]
    elif ctx.line_before.strip() and ctx.line_before[-1:] in (" ", "\t") and lines:
        lines[0] = lines[0].lstrip(" \t")
    return _with_text(item, "\n".join(lines))


def min_length(min_chars: int) -> Filter:
    """A filter dropping suggestions with fewer than `min_chars` non-blank characters."""
    def _min(item: Candidate, ctx: PostContext) -> Candidate | None:
        return item if len("".join(item.text.split())) >= max(1, min_chars) else DROP
    _min.__name__ = f"min_length_{min_chars}"
    return _min


def default_filters(max_lines: int = 16, min_chars: int = 2) -> list[Filter]:
    """The filters in the order they run."""
    return [strip_chat, single_line, limit_scope, drop_repetition, drop_suffix_duplicates, limit_lines(max_lines),
            balance_brackets, trim_whitespace, min_length(min_chars)]


def run_filters(text: str, ctx: PostContext, filters: Sequence[Filter]) -> tuple[Candidate | None, str | None]:
    """Apply `filters` in order to raw model text: (the candidate, None), or (DROP, the name of the filter that
    dropped it) as soon as one does."""
    item = Candidate(text)
    for f in filters:
        out = f(item, ctx)
        if out is None:
            return DROP, f.__name__
        item = out
    return item, None
