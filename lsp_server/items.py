"""LSP items for suggestions: inline completion items and the completion-list fallback."""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from codeward.completion.types import Suggestion
from codeward.lsp_server.documents import Snapshot

ACCEPT_COMMAND = "codeward.acceptCompletion"


def client_range(snap: Snapshot, suggestion: Suggestion) -> types.Range:
    """The suggestion's replace range; its columns are already in the client's unit (the request's)."""
    r = suggestion.range
    return types.Range(start=types.Position(r.line, r.start), end=types.Position(r.line, r.end))


def accept_command(suggestion: Suggestion) -> types.Command:
    """The command the client runs when the suggestion is accepted (DESIGN.md's name)."""
    return types.Command(title="codeward: accept suggestion", command=ACCEPT_COMMAND, arguments=[suggestion.id])


def inline_items(snap: Snapshot, suggestions: Sequence[Suggestion]) -> types.InlineCompletionList:
    """One inline item per suggestion: the cursor line's typed text plus the suggestion, replacing the range."""
    return types.InlineCompletionList(items=[
        types.InlineCompletionItem(insert_text=s.insert_text, range=client_range(snap, s),
                                   filter_text=s.insert_text, command=accept_command(s))
        for s in suggestions])


def _label(suggestion: Suggestion) -> str:
    first = next((ln for ln in suggestion.insert_text.split("\n") if ln.strip()), suggestion.insert_text)
    return first.strip()[:80] or suggestion.text.strip()[:80]


def completion_items(snap: Snapshot, suggestions: Sequence[Suggestion], markdown: bool) -> types.CompletionList:
    """The fallback for clients without inline completion: an incomplete list (so the client asks again as the
    user types) whose items replace the line up to the cursor and filter on that same text."""
    items = []
    for rank, s in enumerate(suggestions):
        detail = "codeward" + (f" ({s.verdict}: " + ", ".join(f.rule_id for f in s.findings) + ")"
                               if s.findings else "") + (" (safety check incomplete)" if s.incomplete else "")
        items.append(types.CompletionItem(
            label=_label(s), kind=types.CompletionItemKind.Text, detail=detail,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                              value=f"```python\n{s.insert_text}\n```")
            if markdown else s.insert_text,
            sort_text=f"{rank:04d}", filter_text=s.insert_text, preselect=rank == 0,
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=client_range(snap, s), new_text=s.insert_text),
            command=accept_command(s)))
    return types.CompletionList(is_incomplete=True, items=items)
