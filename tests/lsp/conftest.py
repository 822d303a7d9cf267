"""LSP test helpers: client capabilities, server start-up options, document helpers."""

from __future__ import annotations

import asyncio
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

INIT_OPTIONS: dict[str, Any] = {
    "completion": {"debounce_ms": 0, "timeout_s": 120.0},
    "engine": {"max_new_tokens": 4, "n_ctx": 1024},
}


def capabilities(encodings: tuple[str, ...] = ("utf-16",)) -> types.ClientCapabilities:
    """A client that supports inline completion, completion, configuration pull and diagnostics."""
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=list(encodings)),
        workspace=types.WorkspaceClientCapabilities(
            configuration=True,
            did_change_configuration=types.DidChangeConfigurationClientCapabilities(),
            execute_command=types.ExecuteCommandClientCapabilities()),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(),
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(snippet_support=False)),
            inline_completion=types.InlineCompletionClientCapabilities(),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities()),
        window=types.WindowClientCapabilities())


async def initialize(client: LanguageClient, options: dict[str, Any], root: str = "file:///tmp"
                     ) -> types.InitializeResult:
    """Initialize the session; the result is kept on the client as `init_result`."""
    result = await client.initialize_session(types.InitializeParams(
        capabilities=capabilities(), initialization_options=options, root_uri=root))
    client.init_result = result  # type: ignore[attr-defined]
    return result


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))


def change(client: LanguageClient, uri: str, version: int, line: int, start: int, end: int, text: str) -> None:
    """An incremental change replacing (line, start)-(line, end) (client units) with `text`."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, start), types.Position(line, end)), text=text)]))


async def inline(client: LanguageClient, uri: str, line: int, character: int) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    if result is None:
        return []
    return list(result.items if isinstance(result, types.InlineCompletionList) else result)


def plain(value: Any) -> Any:
    """pygls hands unknown results over as named tuples: turn them back into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def stats(client: LanguageClient) -> dict[str, Any]:
    """The server's `codeward/stats` answer as plain data."""
    return plain(await client.protocol.send_request_async("codeward/stats", {}))


async def configure(client: LanguageClient, codeward: dict[str, Any]) -> dict[str, Any]:
    """Set the client's `codeward` configuration, tell the server, and wait until it has pulled and applied it;
    returns the settings now in force."""
    before = (await stats(client))["settings_version"]
    client.set_configuration(codeward, section="codeward")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    for _ in range(200):
        now = await stats(client)
        if now["settings_version"] > before:
            return now["settings"]
        await asyncio.sleep(0.05)
    raise AssertionError("the server did not apply the new configuration within 10 s")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
