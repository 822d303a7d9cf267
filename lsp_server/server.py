"""The language server: thin pygls handlers named after the LSP methods they serve.

Work lives elsewhere: `completions` (the completion service: `engines`, `scheduler`, `cache`), `documents` (text
and positions), `items` (LSP shapes), `diagnostics`, `options` (settings from the editor), `telemetry` (stats,
client log).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from codeward import __version__
from codeward.completion.types import CompletionRequest
from codeward.config import Settings
from codeward.lsp_server import code_actions, options
from codeward.lsp_server.completions import CompletionService
from codeward.lsp_server.context_diagnostics import ContextDiagnostics
from codeward.lsp_server.diagnostics import AcceptedFindings
from codeward.lsp_server.documents import (
    DocumentError,
    Snapshot,
    client_unit,
    edited_position,
    file_path,
    request_for,
    snapshot,
)
from codeward.lsp_server.engines import EngineFactory
from codeward.lsp_server.items import ACCEPT_COMMAND, completion_items, inline_items
from codeward.lsp_server.telemetry import ClientLog, DebugRecord, Stats, write_stats_log
from codeward.model.factory import make_engine
from codeward.trust import ConfigSources

STATS_METHOD = "codeward/stats"
DID_SHOW_METHOD = "textDocument/didShowCompletion"  # the Copilot language server's names
DID_PARTIALLY_ACCEPT_METHOD = "textDocument/didPartiallyAcceptCompletion"
_LEVELS = {logging.ERROR: types.MessageType.Error, logging.WARNING: types.MessageType.Warning,
           logging.INFO: types.MessageType.Info}


log = logging.getLogger("codeward.lsp")


class CodewardProtocol(LanguageServerProtocol):
    """pygls's protocol, except that `exit` ends only the session (closes its connection) when the server is one
    session of `codeward serve --tcp`; over stdio it ends the process, as LSP says."""

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        if not getattr(self._server, "session_only", False):
            return (yield from super().lsp_exit(*args))
        if self.writer is not None:
            self.writer.close()  # the session's read loop sees the end of the stream and stops
        return None

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        """pygls's initialize, after taking the TCP token out of the options (pygls logs the params)."""
        params.initialization_options = options.without_token(params.initialization_options)
        return (yield from super().lsp_initialize(params))


class CodewardServer(LanguageServer):
    """pygls server holding codeward's settings and completion service."""

    def __init__(self, engine_factory: EngineFactory = make_engine,
                 cli_overrides: Mapping[str, Any] | None = None, debug_prompts: bool = False) -> None:
        super().__init__("codeward", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=CodewardProtocol)
        self.session_only = False  # True for a TCP session: `exit` then closes the connection, not the process
        self.client_restricted = False  # True over TCP: the client may not set `project = false` keys
        self.process_info: Callable[[], dict[str, Any]] | None = None  # the per-user server's counts, for stats
        self.cli_overrides = dict(cli_overrides or {})
        self.stats = Stats(debug=DebugRecord() if debug_prompts else None)  # `serve --debug-prompts`
        self.client_log = ClientLog(self._send_log)
        settings, _ = options.resolve({}, self.cli_overrides, None)
        self.service = CompletionService(settings, engine_factory, self.client_log, self.stats)
        self.accepted = AcceptedFindings()
        self.context_diagnostics = ContextDiagnostics(self.publish_diagnostics, self._context_checked,
                                                      self.service.busy)
        self.pending_problems: list[str] = []
        self.pending_notices: list[str] = []  # about the project config file, shown once each (`_told`)
        self._told: set[str] = set()
        self.root: Path | None = None
        self.init_options: Mapping[str, Any] = {}
        self._stats_written = False

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
        if self.client_restricted:
            layered, removed = options.machine_keys_removed(layered)
            note = options.removed_note(removed)
            if note and note not in self._told:
                self._told.add(note)
                self.client_log("configuration", note)
        sources = ConfigSources()
        settings, problems = options.resolve(layered, self.cli_overrides, self.root, sources)
        self.service.update(settings)
        self.stats.settings_version += 1
        self.pending_problems = problems  # the problems of the settings now in force, not of earlier ones
        self.pending_notices = [n for n in sources.notices() if n not in self._told]
        weakened = sources.weakened_text()
        if weakened and weakened not in self._told:  # logged once, not shown: the project chose it
            self._told.add(weakened)
            self.client_log("configuration", f"the project config file {sources.project_file} weakens the "
                            f"checks: {weakened}")

    def show_problems(self) -> None:
        """One `window/showMessage` for all invalid settings (defaults are used instead), and one for what the
        project config file may not set (each shown once per server)."""
        for notice in self.pending_notices:
            self._told.add(notice)
            log.warning("%s", notice)
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning,
                                                             message=f"codeward: {notice}"))
        self.pending_notices = []
        if not self.pending_problems:
            return
        text = "; ".join(self.pending_problems)
        self.pending_problems = []
        self.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning, message=f"codeward: invalid settings ignored, defaults used: {text}"))

    def _context_checked(self, n_findings: int) -> None:
        self.stats.context_checks += 1
        self.stats.context_findings = n_findings

    def publish_diagnostics(self, uri: str) -> None:
        """Publish everything codeward says about `uri`: findings of accepted suggestions and context diagnostics."""
        snap = self.open_snapshot(uri)
        if snap is None:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
            return
        diags = self.accepted.diagnostics(snap)
        seen = {(d.code, d.range.start.line) for d in diags}
        diags += [d for d in self.context_diagnostics.diagnostics(snap) if (d.code, d.range.start.line) not in seen]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diags))

    def check_context(self, uri: str, line: int) -> None:
        """After a pause in typing, check the code around `line` for likely bugs (context diagnostics)."""
        snap = self.open_snapshot(uri)
        if snap is not None:
            self.context_diagnostics.schedule(uri, snap.text, line, self.settings)

    def write_stats_log(self) -> None:
        """Append this session's counts and timings (no code) to the stats log in the user's state directory."""
        if self.settings.completion.stats_log and not self._stats_written:
            self._stats_written = True
            write_stats_log(self.stats.log_record(self.service.engine_counters()))

    def client_supports_markdown(self) -> bool:
        """Whether the client renders Markdown in completion item documentation."""
        try:
            formats = self.client_capabilities.text_document.completion.completion_item.documentation_format
        except AttributeError:
            return False
        return bool(formats) and types.MarkupKind.Markdown in formats

    def snapshot_or_log(self, uri: str) -> Snapshot:
        """The text of a document the client opened; for any other URI an error response (JsonRpcInvalidParams,
        logged once): no file is read from disk for it."""
        try:
            return snapshot(self.workspace, uri)
        except DocumentError as exc:
            self.client_log("document", str(exc))
            raise JsonRpcInvalidParams(str(exc)) from None

    def open_snapshot(self, uri: str) -> Snapshot | None:
        """The text of an open document (None, without a log line, when it is not open)."""
        return snapshot(self.workspace, uri) if uri in self.workspace.text_documents else None

    def request_at(self, uri: str, position: types.Position) -> CompletionRequest | None:
        """A pipeline request at `position` of an open document (None if it is not open or not readable)."""
        snap = self.open_snapshot(uri)
        return request_for(snap, position, self.workspace) if snap is not None else None

    async def suggestions_at(self, uri: str, position: types.Position,
                             invoked: bool = True) -> tuple[Snapshot, list] | None:
        """Shown suggestions at `position` of `uri` (None when there are none to give; an error response, counted as
        rejected, when the client has not opened it); an automatic request (`invoked` False) waits the debounce."""
        if uri not in self.workspace.text_documents:
            self.stats.requests += 1
            self.stats.rejected += 1
        snap = self.snapshot_or_log(uri)  # an error response for a document not open
        if not self.settings.completion.enabled:
            return None
        # Size and position are the pipeline's to check (`validate`): the service logs and counts its refusals.
        result = await self.service.complete(uri, request_for(snap, position, self.workspace), invoked)
        if result is None or not result.suggestions:
            return None
        return snap, result.suggestions


def build_server(engine_factory: EngineFactory = make_engine, cli_overrides: Mapping[str, Any] | None = None,
                 debug_prompts: bool = False) -> CodewardServer:
    """A server with every handler registered; `engine_factory` lets tests plug in a failing engine;
    `debug_prompts` adds the last prompt and suggestions to `codeward/stats` (`serve --debug-prompts`)."""
    server = CodewardServer(engine_factory, cli_overrides, debug_prompts)

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

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CodewardServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        opening = opening_position(doc.text, ls.settings.context.prefix_tokens)
        ls.service.schedule_prefill(doc.uri, ls.request_at(doc.uri, opening))
        ls.check_context(doc.uri, opening.line)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CodewardServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        edited = edited_position(params.content_changes, client_unit(ls.workspace))
        ls.service.changed(uri, ls.request_at(uri, edited))
        ls.context_diagnostics.edited(uri, params.content_changes)
        snap = ls.open_snapshot(uri)
        if ls.accepted.edited(uri, params.content_changes, snap.text if snap is not None else None):
            ls.publish_diagnostics(uri)  # an accepted suggestion's finding moved or went away
        ls.check_context(uri, edited.line)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CodewardServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.accepted.forget(params.text_document.uri)
        ls.context_diagnostics.forget(params.text_document.uri)
        ls.service.forget(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: CodewardServer,
                                params: types.InlineCompletionParams) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        found = await ls.suggestions_at(params.text_document.uri, params.position, invoked)
        return inline_items(*found) if found else types.InlineCompletionList(items=[])

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(ls: CodewardServer, params: types.CompletionParams) -> types.CompletionList:
        invoked = params.context is None or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        found = await ls.suggestions_at(params.text_document.uri, params.position, invoked)
        if not found:
            return types.CompletionList(is_incomplete=True, items=[])
        return completion_items(*found, markdown=ls.client_supports_markdown())

    @server.command(ACCEPT_COMMAND)
    def accept_completion(ls: CodewardServer, *arguments: Any) -> bool:
        return accept(ls, list(arguments))

    @server.feature(DID_SHOW_METHOD)
    def did_show_completion(ls: CodewardServer, params: Any) -> None:
        ls.stats.shown_reported += 1

    @server.feature(DID_PARTIALLY_ACCEPT_METHOD)
    def did_partially_accept_completion(ls: CodewardServer, params: Any) -> None:
        ls.stats.partially_accepted += 1
        ls.stats.accepted_chars += accepted_length(params)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_action(ls: CodewardServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        snap = ls.snapshot_or_log(params.text_document.uri)
        if snap is None:
            return []
        return code_actions.actions(snap, list(params.context.diagnostics))

    @server.command(code_actions.EXPLAIN_COMMAND)
    def explain(ls: CodewardServer, *arguments: Any) -> str:
        text = code_actions.explanation(str(arguments[0]) if arguments else "")
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=text))
        return text

    @server.feature(STATS_METHOD)
    def stats(ls: CodewardServer, params: Any) -> dict[str, Any]:
        process = ls.process_info() if ls.process_info is not None else {"pid": os.getpid(), "mode": "single"}
        return {**ls.stats.as_dict(ls.service.engine_counters()), "settings": ls.service.settings_dict(),
                "process": process}

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: CodewardServer, params: None) -> None:
        ls.write_stats_log()
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


def opening_position(text: str, prefix_tokens: int) -> types.Position:
    """Where a just-opened document is prefilled: the line where a window from the top of the file fills the
    prefix budget (editors open files at the top), or the end of a shorter file. No LSP message says where the
    cursor is; a request elsewhere is answered from the short context while its own context fills in."""
    budget_chars, seen = prefix_tokens * 3, 0  # ~3 characters per token of Python
    for line, chunk in enumerate(text.split("\n")):
        seen += len(chunk) + 1
        if seen >= budget_chars:
            return types.Position(line, 0)
    return types.Position(text.count("\n"), 0)


def accepted_length(params: Any) -> int:
    """Characters a `didPartiallyAcceptCompletion` says were accepted (its `acceptedLength`), 0 if absent."""
    value = params.get("acceptedLength") if isinstance(params, dict) else getattr(params, "acceptedLength", None)
    return value if isinstance(value, int) and value > 0 else 0


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
    ls.stats.accepted_chars += len(suggestion.text)
    ls.accepted.add(uri, suggestion)
    ls.publish_diagnostics(uri)
    return True
