"""Snippets from other open documents: windows of lines that share identifiers with the code at the cursor."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codeward.completion.settings import ContextSettings

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_STOPWORDS = frozenset(keyword.kwlist) | {"self", "cls", "None", "True", "False", "return", "print"}
_MAX_SCAN_CHARS = 200_000  # only the head of a huge other document is searched


@dataclass(frozen=True)
class OtherDocument:
    """Another document open in the editor (the pipeline only reads it)."""

    path: str
    text: str
    language: str = "python"


@dataclass(frozen=True)
class Snippet:
    """A window of lines from another document, with its Jaccard score against the cursor's code."""

    path: str
    first_line: int  # 0-based
    text: str
    score: float


def identifiers(text: str) -> frozenset[str]:
    """The identifiers of `text` that say something (keywords and very short names left out)."""
    return frozenset(w for w in _IDENT.findall(text) if w not in _STOPWORDS)


def _windows(doc: OtherDocument, size: int) -> list[tuple[int, str]]:
    lines = doc.text[:_MAX_SCAN_CHARS].splitlines()
    step = max(1, size // 2)
    return [(i, "\n".join(lines[i:i + size])) for i in range(0, max(1, len(lines) - size + step), step)
            if "\n".join(lines[i:i + size]).strip()]


def render_snippets(snippets: Sequence[Snippet]) -> str:
    """Snippets as comment blocks headed by their file path, one blank line after each."""
    out = []
    for s in snippets:
        body = "\n".join("# " + line if line else "#" for line in s.text.splitlines())
        out.append(f"# Path: {s.path}\n{body}\n\n")
    return "".join(out)


def pick_snippets(others: Sequence[OtherDocument], *, path: str, language: str, query: str,
                  settings: ContextSettings, count: Callable[[str], int]) -> list[Snippet]:
    """The best-scoring windows of other same-language documents within the snippet budget, in a stable order."""
    if not others or settings.max_snippets <= 0 or settings.snippet_tokens <= 0:
        return []
    wanted = identifiers(query)
    if not wanted:
        return []
    scored: list[Snippet] = []
    for doc in others:
        if doc.language != language or doc.path == path:
            continue
        for first, text in _windows(doc, settings.snippet_lines):
            have = identifiers(text)
            score = len(wanted & have) / len(wanted | have) if have else 0.0
            if score > 0:
                scored.append(Snippet(doc.path, first, text, score))
    scored.sort(key=lambda s: (-s.score, s.path, s.first_line))
    chosen: list[Snippet] = []
    used = 0
    for snippet in scored:
        if len(chosen) >= settings.max_snippets:
            break
        if any(c.path == snippet.path and abs(c.first_line - snippet.first_line) < settings.snippet_lines
               for c in chosen):
            continue  # overlapping windows of one file
        cost = count(render_snippets([snippet]))
        if used + cost <= settings.snippet_tokens:
            chosen.append(snippet)
            used += cost
    # Stable order (path, line) rather than score: the prompt start then changes less while typing.
    return sorted(chosen, key=lambda s: (s.path, s.first_line))
