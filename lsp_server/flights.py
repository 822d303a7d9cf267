"""A document's model run in the language server, and how a later request relates to it."""

from __future__ import annotations

import asyncio

from codeward.completion.text import Cursor
from codeward.completion.types import CompletionRequest, CompletionResult
from codeward.lsp_server.cache import along_line, typed_since


class Flight:
    """A request's model run for one document: where it asked (text before and after its cursor), and whether it
    is past its debounce (the model is, or is about to be, working for it)."""

    def __init__(self, request: CompletionRequest, cursor: Cursor) -> None:
        self.before, self.after = request.text[: cursor.offset], request.text[cursor.offset:]
        self.in_engine = False
        self.prefetch = False  # started at a move by the server itself, before any request asked
        self.task: asyncio.Task[CompletionResult] | None = None

    def extended_by(self, request: CompletionRequest, cursor: Cursor) -> bool:
        """Whether `request` is this one's document with a few characters typed at its cursor (typing forward): its
        answer, advanced by what was typed, may still hold."""
        return along_line(typed_since(self.before, self.after, request, cursor))

    def ahead_of(self, request: CompletionRequest, cursor: Cursor) -> bool:
        """Whether this run was started for a later keystroke than `request` (its document is `request`'s with
        more typed at the cursor): `request` is stale."""
        before, after = request.text[: cursor.offset], request.text[cursor.offset:]
        return after == self.after and len(self.before) > len(before) and self.before.startswith(before)
