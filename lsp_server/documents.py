"""Documents: the text behind a URI (open in the editor, or read from disk) and the client's column unit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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


def _read_disk(uri: str, max_chars: int, unit: ColumnUnit) -> Snapshot:
    path = file_path(uri)
    if path is None:
        raise DocumentError(f"document {uri} is not open; open it (textDocument/didOpen) before asking for "
                            "completions")
    try:
        if path.stat().st_size > max_chars * 4:
            raise DocumentError(f"document {uri} is not open and its file is too large to read")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"document {uri} is not open and cannot be read from disk "
                            f"({exc.strerror or exc}); open it in the editor first") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"document {uri} is not valid UTF-8 on disk (byte {exc.start}: {exc.reason}); "
                            "no completions for it until it is saved as UTF-8") from None
    return Snapshot(uri, text, _language_of(str(path), None), str(path), unit)


def snapshot(workspace: Workspace, uri: str, max_chars: int) -> Snapshot:
    """The text of `uri`: the open document, else the file on disk (UTF-8 only); DocumentError otherwise."""
    unit = client_unit(workspace)
    if uri in workspace.text_documents:
        doc = workspace.get_text_document(uri)
        return Snapshot(uri, doc.source, _language_of(doc.path, doc.language_id), doc.path, unit)
    return _read_disk(uri, max_chars, unit)


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
