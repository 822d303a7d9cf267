"""The language server: thin pygls handlers named after the LSP methods they serve.

Work lives elsewhere: `completions` (pipeline calls, debounce, cache, faults), `documents` (text and positions),
`items` (LSP shapes), `diagnostics`, `options` (settings from the editor), `telemetry` (stats, client log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from codeward import __version__
from codeward.config import Settings
from codeward.lsp_server import options
from codeward.lsp_server.completions import CompletionService, EngineFactory
from codeward.lsp_server.diagnostics import AcceptedFindings
from codeward.lsp_server.documents import DocumentError, Snapshot, file_path, request_for, snapshot
from codeward.lsp_server.items import ACCEPT_COMMAND, completion_items, inline_items
from codeward.lsp_server.telemetry import ClientLog, Stats
from codeward.model.factory import make_engine

STATS_METHOD = "codeward/stats"
_LEVELS = {logging.ERROR: types.MessageType.Error, logging.WARNING: types.MessageType.Warning,
           logging.INFO: types.MessageType.Info}


class CodewardServer(LanguageServer):
    """pygls server holding codeward's settings and completion service."""

    def __init__(self, engine_factory: EngineFactory = make_engine,
                 cli_overrides: Mapping[str, Any] | None = None) -> None:
        super().__init__("codeward", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.cli_overrides = dict(cli_overrides or {})
        self.stats = Stats()
        self.client_log = ClientLog(self._send_log)
        settings, _ = options.resolve({}, self.cli_overrides, None)
        self.service = CompletionService(settings, engine_factory, self.client_log, self.stats)
        self.accepted = AcceptedFindings()
        self.pending_problems: list[str] = []
        self.root: Path | None = None
        self.init_options: Mapping[str, Any] = {}

    @property
    def settings(self) -> Settings:
        return self.service.settings

    def _send_log(self, level: int, message: str) -> None:
        self.window_log_message(types.LogMessageParams(type=_LEVELS.get(level, types.MessageType.Log),
                                                       message=message))

    def apply_options(self, client_options: Any) -> None:
        """Re-resolve the settings: initializationOptions < `client_options` (pulled or pushed configuration) <
        command-line flags; problems are shown once, as one message."""
        layered = options.merge(options.unwrap(self.init_options), options.unwrap(client_options))
        settings, problems = options.resolve(layered, self.cli_overrides, self.root)
        self.service.update(settings)
        self.stats.settings_version += 1
        self.pending_problems = problems  # the problems of the settings now in force, not of earlier ones

    def show_problems(self) -> None:
        """One `window/showMessage` for all invalid settings (defaults are used instead)."""
        if not self.pending_problems:
            return
        text = "; ".join(self.pending_problems)
        self.pending_problems = []
        self.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning, message=f"codeward: invalid settings ignored, defaults used: {text}"))

    def client_supports_markdown(self) -> bool:
        """Whether the client renders Markdown in completion item documentation."""
        try:
            formats = self.client_capabilities.text_document.completion.completion_item.documentation_format
        except AttributeError:
            return False
        return bool(formats) and types.MarkupKind.Markdown in formats

    def snapshot_or_log(self, uri: str) -> Snapshot | None:
        """The document's text, or None after logging why there is none."""
        try:
            return snapshot(self.workspace, uri, self.settings.completion.max_document_chars)
        except DocumentError as exc:
            self.client_log("document", str(exc))
            return None

    async def suggestions_at(self, uri: str, position: types.Position) -> tuple[Snapshot, list] | None:
        """Shown suggestions at `position` of `uri` (None when there are none to give)."""
        if not self.settings.completion.enabled:
            return None
        snap = self.snapshot_or_log(uri)
        if snap is None:
            return None
        limit = self.settings.completion.max_document_chars
        if len(snap.text) > limit:
            self.client_log("size", f"{uri} has {len(snap.text):,} characters, over completion.max_document_chars"
                            f" = {limit:,}: no completions for it")
            return None
        result = await self.service.complete(uri, request_for(snap, position, self.workspace))
        if result is None or not result.suggestions:
            return None
        return snap, result.suggestions


def build_server(engine_factory: EngineFactory = make_engine,
                 cli_overrides: Mapping[str, Any] | None = None) -> CodewardServer:
    """A server with every handler registered; `engine_factory` lets tests plug in a failing engine."""
    server = CodewardServer(engine_factory, cli_overrides)

    @server.feature(types.INITIALIZE)
    def initialize(ls: CodewardServer, params: types.InitializeParams) -> None:
        root = params.root_uri or (params.workspace_folders[0].uri if params.workspace_folders else None)
        ls.root = file_path(root) if root else None
        ls.init_options = options.unwrap(params.initialization_options)
        ls.apply_options({})

    @server.feature(types.INITIALIZED)
    async def initialized(ls: CodewardServer, params: types.InitializedParams) -> None:
        await pull_configuration(ls)
        ls.show_problems()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: CodewardServer, params: types.DidChangeConfigurationParams) -> None:
        if not await pull_configuration(ls):
            ls.apply_options(params.settings)
        ls.show_problems()

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CodewardServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.accepted.forget(params.text_document.uri)
        ls.service.cache.forget(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: CodewardServer,
                                params: types.InlineCompletionParams) -> types.InlineCompletionList:
        found = await ls.suggestions_at(params.text_document.uri, params.position)
        return inline_items(*found) if found else types.InlineCompletionList(items=[])

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(ls: CodewardServer, params: types.CompletionParams) -> types.CompletionList:
        found = await ls.suggestions_at(params.text_document.uri, params.position)
        if not found:
            return types.CompletionList(is_incomplete=True, items=[])
        return completion_items(*found, markdown=ls.client_supports_markdown())

    @server.command(ACCEPT_COMMAND)
    def accept_completion(ls: CodewardServer, *arguments: Any) -> bool:
        return accept(ls, list(arguments))

    @server.feature(STATS_METHOD)
    def stats(ls: CodewardServer, params: Any) -> dict[str, Any]:
        return {**ls.stats.as_dict(), "settings": ls.service.settings_dict()}

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: CodewardServer, params: None) -> None:
        await ls.service.aclose()

    return server


async def pull_configuration(ls: CodewardServer) -> bool:
    """Ask the client for the `codeward` section (workspace/configuration) if it can answer; True if it did."""
    caps = ls.client_capabilities
    if not (caps and caps.workspace and caps.workspace.configuration):
        return False
    try:
        answer = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=options.SECTION)]))
    except Exception as exc:  # noqa: BLE001 - a client that fails here keeps the settings it gave before
        ls.client_log("configuration", f"workspace/configuration failed ({exc}); keeping the current settings")
        return False
    value = answer[0] if answer else None
    if not isinstance(value, Mapping):
        return False
    ls.apply_options({options.SECTION: value})
    return True


def accept(ls: CodewardServer, arguments: list[Any] | None) -> bool:
    """`codeward.acceptCompletion [id]`: count it and publish its findings as diagnostics."""
    suggestion_id = arguments[0] if arguments else None
    found = ls.service.cache.suggestion(str(suggestion_id)) if suggestion_id is not None else None
    if found is None:
        ls.client_log("accept", f"codeward.acceptCompletion: unknown suggestion id {suggestion_id!r} "
                      "(it may have expired); nothing to do", logging.INFO)
        return False
    uri, suggestion = found
    ls.stats.accepted += 1
    ls.accepted.add(uri, suggestion.id, suggestion.findings)
    snap = ls.snapshot_or_log(uri)
    if snap is not None:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, diagnostics=ls.accepted.diagnostics(snap)))
    return True
