"""Documents: the text of a URI the editor opened (never a file read from disk) and the client's column unit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.workspace import Workspace

from codeward.completion.text import ColumnUnit, from_code_points, split_lines
from codeward.completion.types import CompletionRequest, OtherDocument

MAX_OTHER_DOCUMENTS = 10
_LANGUAGES = {".py": "python", ".pyi": "python", ".pyw": "python"}
_UNITS: dict[str, ColumnUnit] = {"utf-16": "utf-16", "utf-8": "utf-8", "utf-32": "code-point"}


class DocumentError(ValueError):
    """A document the server cannot complete in; the message names the URI and the reason."""


@dataclass(frozen=True)
class Snapshot:
    """A document's text at request time and the column unit the client negotiated."""

    uri: str
    text: str
    language: str
    path: str
    unit: ColumnUnit


def _language_of(path: str, language_id: str | None) -> str:
    return language_id or _LANGUAGES.get(Path(path).suffix.lower(), "plaintext")


def client_unit(workspace: Workspace) -> ColumnUnit:
    """The column unit of the position encoding negotiated at initialize (UTF-16 unless the client chose)."""
    return _UNITS.get(str(workspace.position_encoding or "utf-16"), "utf-16")


def file_path(uri: str) -> Path | None:
    """The local path of a `file:` URI (percent-escapes decoded), None for any other scheme."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def snapshot(workspace: Workspace, uri: str) -> Snapshot:
    """The text of `uri` as the client opened it; DocumentError for a URI it has not opened (no file is ever read
    from disk for it: a client must not read files through the server)."""
    if uri not in workspace.text_documents:
        raise DocumentError(f"document {uri} is not open; open it (textDocument/didOpen) before asking about it "
                            "(codeward never reads an unopened file from disk)")
    doc = workspace.get_text_document(uri)
    return Snapshot(uri, doc.source, _language_of(doc.path, doc.language_id), doc.path, client_unit(workspace))


def others(workspace: Workspace, uri: str) -> tuple[OtherDocument, ...]:
    """The other open documents (a few), for snippets."""
    out = []
    for other_uri, doc in list(workspace.text_documents.items()):
        if other_uri != uri and len(out) < MAX_OTHER_DOCUMENTS:
            out.append(OtherDocument(doc.path, doc.source, _language_of(doc.path, doc.language_id)))
    return tuple(out)


def line_text(text: str, line: int) -> str:
    """Text of 0-based `line` ("" past the end)."""
    lines = split_lines(text)
    return lines[line] if 0 <= line < len(lines) else ""


def request_for(snap: Snapshot, position: types.Position, workspace: Workspace) -> CompletionRequest:
    """A pipeline request at the client's `position`, its column in the client's unit."""
    return CompletionRequest(text=snap.text, line=position.line, column=position.character, path=snap.path,
                             language=snap.language, unit=snap.unit, other_documents=others(workspace, snap.uri))


def to_client_column(snap: Snapshot, line: int, column: int) -> int:
    """Column in the client's unit of code-point `column` on `line`."""
    return from_code_points(line_text(snap.text, line), column, snap.unit)


def edited_position(changes: Any, unit: ColumnUnit) -> types.Position:
    """Where the cursor is after the last change: the end of its inserted text, the column in `unit` (the
    client's) as the change's range is (the prefill of a prefix-suffix-middle prompt needs only the line, a
    suffix-first one the column). Lines end at LSP's line endings."""
    last = changes[-1] if changes else None
    rng = getattr(last, "range", None)
    if rng is None:
        return types.Position(0, 0)
    lines = split_lines(last.text)
    width = from_code_points(lines[-1], len(lines[-1]), unit)
    if len(lines) == 1:
        return types.Position(rng.start.line, rng.start.character + width)
    return types.Position(rng.start.line + len(lines) - 1, width)
