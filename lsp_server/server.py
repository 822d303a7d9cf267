"""The language server: thin pygls handlers named after the LSP methods they serve.

Work lives elsewhere: `completions` (pipeline calls, debounce, cache, faults), `documents` (text and positions),
`items` (LSP shapes), `diagnostics`, `options` (settings from the editor), `telemetry` (stats, client log).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.io_ import run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

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


class CodewardServer(LanguageServer):
    """pygls server holding codeward's settings and completion service."""

    def __init__(self, engine_factory: EngineFactory = make_engine,
                 cli_overrides: Mapping[str, Any] | None = None) -> None:
        super().__init__("codeward", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=CodewardProtocol)
        self.session_only = False  # True for a TCP session: `exit` then closes the connection, not the process
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
            self.stats.requests += 1
            self.stats.rejected += 1
            return None
        # Size and position are the pipeline's to check (`validate`): the service logs and counts its refusals.
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


class ListenError(Exception):
    """The TCP address could not be listened on (in use, unresolvable, not this machine's, not allowed)."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {cause}")
        self.host, self.port, self.cause = host, port, cause


class _Discard:
    """Writer for a session that has ended: late replies of cancelled handlers go nowhere."""

    def write(self, data: bytes) -> None:
        return None

    def close(self) -> None:
        return None


class TcpSessions:
    """One LSP session at a time, each on a fresh server (its own documents, settings and engine), so that two
    editors never share pygls's single protocol and writer and only one model is loaded. A connection that
    arrives during a session waits for its turn; a connection that closes at once (a port probe) is a session
    that ends at once."""

    def __init__(self, make_server: Callable[[], CodewardServer]) -> None:
        self._make = make_server
        self._turn = asyncio.Lock()
        self._stopping = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """asyncio's callback for each accepted connection."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        try:
            if self._turn.locked():
                log.warning("connection from %s waits: another editor's session is active (codeward serves one "
                            "session at a time over TCP)", peer)
            async with self._turn:
                if not self._stopping:
                    await self._serve(reader, writer, peer)
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        server = self._make()
        server.session_only = True
        server.protocol.set_writer(writer)  # type: ignore[arg-type]
        log.info("session from %s started", peer)
        try:
            await run_async(stop_event=threading.Event(), reader=reader, protocol=server.protocol, logger=log,
                            error_handler=server.report_server_error)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("session from %s lost: %s", peer, exc)
        finally:
            await end_session(server)
            log.info("session from %s ended", peer)

    def stop(self) -> None:
        """Refuse waiting connections and end the active session (its read loop sees the end of the stream)."""
        self._stopping = True
        for writer in list(self._writers):
            writer.close()

    async def wait(self) -> None:
        """Until every session has ended and released its engine."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def end_session(server: CodewardServer) -> None:
    """Cancel what the session left running (replies go nowhere) and release its engine."""
    protocol = server.protocol
    protocol.set_writer(_Discard())
    for future in list(protocol._request_futures.values()):  # no public API lists a session's open requests
        future.cancel()
    await server.service.aclose()


def serve_tcp(make_server: Callable[[], CodewardServer], host: str, port: int) -> None:
    """Listen on host:port and serve sessions one after another until SIGINT or SIGTERM; ListenError if the
    address cannot be listened on."""
    asyncio.run(_serve_tcp(make_server, host, port))


async def _serve_tcp(make_server: Callable[[], CodewardServer], host: str, port: int) -> None:
    sessions = TcpSessions(make_server)
    try:
        listener = await asyncio.start_server(sessions.connection, host, port)
    except OSError as exc:
        raise ListenError(host, port, exc) from exc
    shown = f"[{host}]" if ":" in host else host
    print(f"codeward: listening on {shown}:{port} (LSP over TCP)", file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in signals:  # a second Ctrl-C while sessions end interrupts at once
            loop.remove_signal_handler(sig)
        listener.close()
        sessions.stop()
        await sessions.wait()
        await listener.wait_closed()
    print("codeward: stopped listening", file=sys.stderr, flush=True)
