"""`codeward serve --tcp`: LSP sessions over TCP, one at a time, each on a fresh server.

A port is open to every local user (and, with --allow-remote, to other machines), so a connection must first prove
it is the user's: its first message is `initialize` with `initializationOptions.codeward_token`, the token written
at start to a 0600 file in the user's runtime folder. Anything else gets an error response and the connection is
closed; the first message is read by codeward itself, size- and time-bounded, before pygls sees anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcException
from pygls.io_ import run_async

from codeward.lsp_server.options import TOKEN_KEY
from codeward.lsp_server.runtime import open_runtime_dir
from codeward.lsp_server.server import CodewardServer

log = logging.getLogger("codeward.lsp")
AUTH_TIMEOUT_S = 10.0  # for a connection to send its initialize
MAX_FIRST_MESSAGE = 1 << 20  # bytes an unauthenticated connection may make the server read
PARSE_ERROR, INVALID_REQUEST, NOT_INITIALIZED = -32700, -32600, -32002  # JSON-RPC's and LSP's error codes


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


class Connections:
    """The open connections of a listener and the tasks serving them, so that stopping can close them and wait."""

    def __init__(self) -> None:
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @contextlib.contextmanager
    def tracked(self, writer: asyncio.StreamWriter) -> Iterator[None]:
        """Count this connection (and the task serving it) while the block runs; close it after."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            yield
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()

    async def wait(self) -> None:
        """Until every connection's session has ended and released its engine."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """One LSP message (headers, then a JSON object of at most MAX_FIRST_MESSAGE bytes); None when the connection
    closes first; ValueError when it is not one."""
    length = None
    for _ in range(32):
        line = await reader.readline()  # a line over the reader's limit (64 KiB) is a ValueError
        if not line.endswith(b"\n"):
            return None
        if not line.strip():
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    else:
        raise ValueError("too many header lines")
    if length is None or not 0 < length <= MAX_FIRST_MESSAGE:
        raise ValueError(f"Content-Length {length} missing or over {MAX_FIRST_MESSAGE} bytes")
    try:
        message = json.loads(await reader.readexactly(length))
    except asyncio.IncompleteReadError:
        return None
    return message if isinstance(message, dict) else {}  # not a request: refused as such


def refusal(message: dict[str, Any], token: str, token_file: Path) -> tuple[int, str] | None:
    """Why a connection whose first message is `message` is refused (an error code and text), None if it
    sent `initialize` with the right token. The text never holds a token."""
    where = f"the token in {token_file}, written when `codeward serve --tcp` started"
    if message.get("method") != "initialize" or "id" not in message:
        return NOT_INITIALIZED, (f"codeward: the first message over TCP must be `initialize` with "
                                 f"initializationOptions.{TOKEN_KEY} ({where}); closing the connection")
    params = message.get("params")
    init = params.get("initializationOptions") if isinstance(params, dict) else None
    given = init.get(TOKEN_KEY) if isinstance(init, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        state = "is missing" if given is None else "is wrong"
        return INVALID_REQUEST, (f"codeward: initializationOptions.{TOKEN_KEY} {state}: send {where}; closing "
                                 "the connection")
    return None


def error_frame(msg_id: Any, code: int, text: str) -> bytes:
    """A framed JSON-RPC error response (`msg_id` None when the message had no usable id)."""
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id if isinstance(msg_id, (int, str)) else None,
                       "error": {"code": code, "message": text}}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class TcpSessions(Connections):
    """One LSP session at a time, each on a fresh server (its own documents, settings and engine), so that two
    editors never share pygls's single protocol and writer and only one model is loaded. A connection must first
    send `initialize` with the token (checked before it waits for its turn); a connection that arrives during a
    session waits for its turn; a connection that closes at once (a port probe) ends at once."""

    def __init__(self, make_server: Callable[[], CodewardServer], token: str, token_file: Path) -> None:
        super().__init__()
        self._make = make_server
        self._token, self._token_file = token, token_file
        self._turn = asyncio.Lock()
        self._stopping = False

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """asyncio's callback for each accepted connection."""
        peer = writer.get_extra_info("peername")
        with self.tracked(writer):
            if self._stopping:  # accepted as the listener closed: end before waiting for anything
                return
            first = await self._authenticate(reader, writer, peer)
            if first is None:
                return
            if self._turn.locked():
                log.warning("connection from %s waits: another editor's session is active (codeward serves one "
                            "session at a time over TCP)", peer)
            async with self._turn:
                if not self._stopping:
                    await self._serve(reader, writer, peer, first)

    async def _authenticate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            peer: Any) -> dict[str, Any] | None:
        """The connection's `initialize` if it holds the token; else None, after an error response (when there
        was a message to answer) and a log line."""
        try:
            message = await asyncio.wait_for(read_message(reader), AUTH_TIMEOUT_S)
        except TimeoutError:
            log.warning("connection from %s refused: no initialize within %.0f s", peer, AUTH_TIMEOUT_S)
            return None
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
            message, problem = {}, (PARSE_ERROR, f"codeward: not an LSP message ({exc}); closing the connection")
        except OSError as exc:
            log.info("connection from %s lost before initialize: %s", peer, exc)
            return None
        else:
            if message is None:
                return None  # closed at once: a port probe
            problem = refusal(message, self._token, self._token_file)
            if problem is None:
                return message
        log.warning("connection from %s refused: %s", peer, problem[1])
        with contextlib.suppress(OSError):
            writer.write(error_frame(message.get("id"), *problem))
            await writer.drain()
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any,
                     first: dict[str, Any]) -> None:
        server = self._make()
        server.client_restricted = True  # a TCP client may not set the keys a project file may not set
        await run_session(server, reader, writer, f"from {peer}", first)

    def stop(self) -> None:
        """Refuse waiting connections and end the active session (its read loop sees the end of the stream)."""
        self._stopping = True
        self.close_all()


async def run_session(server: CodewardServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      name: str, first: dict[str, Any] | None = None) -> None:
    """One LSP session of `server` on a connection (its `exit` ends the session, not the process), then its end;
    `first` is a message already read from the connection (the TCP session's `initialize`)."""
    server.session_only = True
    server.protocol.set_writer(writer)  # type: ignore[arg-type]
    log.info("session %s started", name)
    try:
        if first is not None:
            handle_first(server, first)
        await run_async(stop_event=threading.Event(), reader=reader, protocol=server.protocol, logger=log,
                        error_handler=server.report_server_error)
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        log.info("session %s lost: %s", name, exc)
    finally:
        await end_session(server)
        log.info("session %s ended", name)


def handle_first(server: CodewardServer, message: dict[str, Any]) -> None:
    """Hand a message read by codeward to pygls, as its own read loop would."""
    try:
        server.protocol.handle_message(server.protocol.structure_message(message))
    except Exception as exc:  # pygls's read loop reports a bad message the same way and goes on
        log.exception("unable to handle the first message")
        server.report_server_error(exc, JsonRpcException)


async def end_session(server: CodewardServer) -> None:
    """Cancel what the session left running (replies go nowhere) and release its engine."""
    protocol = server.protocol
    protocol.set_writer(_Discard())
    server.write_stats_log()
    for future in list(protocol._request_futures.values()):  # no public API lists a session's open requests
        future.cancel()
    await server.service.aclose()


def serve_tcp(make_server: Callable[[], CodewardServer], host: str, port: int) -> None:
    """Listen on host:port and serve sessions one after another until SIGINT or SIGTERM; ListenError if the
    address cannot be listened on, RuntimeDirError if the token cannot be written."""
    asyncio.run(_serve_tcp(make_server, host, port))


async def _serve_tcp(make_server: Callable[[], CodewardServer], host: str, port: int) -> None:
    folder = open_runtime_dir()
    name = f"tcp-{port}.token"
    token = secrets.token_urlsafe(32)
    sessions = TcpSessions(make_server, token, folder.path / name)
    try:
        listener = await asyncio.start_server(sessions.connection, host, port)
    except OSError as exc:
        folder.close()
        raise ListenError(host, port, exc) from exc
    try:
        token_file = folder.write_secret(name, token)  # after listening: never another server's file
    except BaseException:
        listener.close()
        folder.close()
        raise
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:  # before saying it listens: a SIGTERM right after that line stops it cleanly
        loop.add_signal_handler(sig, stop.set)
    shown = f"[{host}]" if ":" in host else host
    print(f"codeward: listening on {shown}:{port} (LSP over TCP)", file=sys.stderr, flush=True)
    print(f"codeward: clients send the token in {token_file} as initializationOptions.{TOKEN_KEY}",
          file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        for sig in signals:  # a second Ctrl-C while sessions end interrupts at once
            loop.remove_signal_handler(sig)
        listener.close()
        sessions.stop()
        await sessions.wait()
        await listener.wait_closed()
        folder.remove(name)
        folder.close()
    print("codeward: stopped listening", file=sys.stderr, flush=True)
