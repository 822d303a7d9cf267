"""Snippets from other open documents: windows of lines that share identifiers with the code at the cursor."""

from __future__ import annotations

import functools
import keyword
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codeward.completion.settings import ContextSettings
from codeward.model.templates import NEUTRAL_REPO, FileSnippet, RepoFiles, comment_snippets

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


COSTED_PER_SNIPPET = 4  # candidates whose tokens are counted, per snippet wanted (the best-scoring first)


def identifiers(text: str) -> frozenset[str]:
    """The identifiers of `text` that say something (keywords and very short names left out)."""
    return frozenset(w for w in _IDENT.findall(text) if w not in _STOPWORDS)


def _windows(text: str, size: int) -> list[tuple[int, str]]:
    lines = text[:_MAX_SCAN_CHARS].splitlines()
    step = max(1, size // 2)
    return [(i, "\n".join(lines[i:i + size])) for i in range(0, max(1, len(lines) - size + step), step)
            if "\n".join(lines[i:i + size]).strip()]


@functools.lru_cache(maxsize=32)
def _indexed_windows(text: str, size: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
    """The windows of a document with their identifiers; cached, since the other documents stay the same from one
    keystroke to the next (20 ms for three stdlib modules otherwise)."""
    return tuple((first, window, identifiers(window)) for first, window in _windows(text, size))


def render_snippets(snippets: Sequence[Snippet]) -> str:
    """Snippets as comment blocks headed by their file path, one blank line after each (what families without a
    repository-level format read; also what a snippet is charged against the snippet budget)."""
    return comment_snippets([FileSnippet(s.path, s.text) for s in snippets])


def _workspace_root(paths: Sequence[str]) -> str | None:
    """The deepest folder holding every one of `paths` (absolute paths only), or None."""
    if not paths or not all(os.path.isabs(p) for p in paths):
        return None
    try:
        root = os.path.commonpath([os.path.dirname(p) for p in paths])
    except ValueError:  # paths on different drives
        return None
    return root if os.path.basename(root) else None


def repo_files(path: str, snippets: Sequence[Snippet]) -> RepoFiles | None:
    """The snippets and the current file as a repository-level prompt names them: paths relative to the folder
    that holds them all, named after it (a neutral name when the paths do not tell); None without snippets."""
    if not snippets:
        return None
    root = _workspace_root([path, *(s.path for s in snippets)]) if path else None

    def rel(p: str) -> str:
        return os.path.relpath(p, root).replace(os.sep, "/") if root else p

    return RepoFiles(tuple(FileSnippet(rel(s.path), s.text) for s in snippets), rel(path),
                     os.path.basename(root) if root else NEUTRAL_REPO)


def pick_snippets(others: Sequence[OtherDocument], *, path: str, language: str, query: str,
                  settings: ContextSettings, count: Callable[[str], int]) -> list[Snippet]:
    """The best-scoring windows of other same-language documents within the snippet budget, in a stable order."""
    if not others or settings.max_snippets <= 0 or settings.snippet_tokens <= 0:
        return []
    docs = tuple((d.path, d.text) for d in others if d.language == language and d.path != path)
    return list(_pick(docs, query, settings.max_snippets, settings.snippet_lines, settings.snippet_tokens, count))


@functools.lru_cache(maxsize=8)
def _pick(docs: tuple[tuple[str, str], ...], query: str, max_snippets: int, snippet_lines: int,
          snippet_tokens: int, count: Callable[[str], int]) -> tuple[Snippet, ...]:
    """pick_snippets for hashable arguments, remembered: the query is made of complete lines and the other
    documents rarely change, so keystrokes on one line pick the same snippets."""
    wanted = identifiers(query)
    if not wanted:
        return ()
    scored: list[Snippet] = []
    for doc_path, doc_text in docs:
        for first, text, have in _indexed_windows(doc_text, snippet_lines):
            score = len(wanted & have) / len(wanted | have) if have else 0.0
            if score > 0:
                scored.append(Snippet(doc_path, first, text, score))
    scored.sort(key=lambda s: (-s.score, s.path, s.first_line))
    chosen: list[Snippet] = []
    used = 0
    costed = 0
    for snippet in scored:
        if len(chosen) >= max_snippets or costed >= max_snippets * COSTED_PER_SNIPPET:
            break  # counting tokens is a tokenizer call: a few hundred candidates cost ~0.3 s per keystroke
        if any(c.path == snippet.path and abs(c.first_line - snippet.first_line) < snippet_lines
               for c in chosen):
            continue  # overlapping windows of one file
        costed += 1
        cost = count(render_snippets([snippet]))
        if used + cost <= snippet_tokens:
            chosen.append(snippet)
            used += cost
    # Stable order (path, line) rather than score: the prompt start then changes less while typing.
    return tuple(sorted(chosen, key=lambda s: (s.path, s.first_line)))
