"""`codeward serve --tcp`: LSP sessions over TCP, one at a time, each on a fresh server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pygls.io_ import run_async

from codeward.lsp_server.server import CodewardServer

log = logging.getLogger("codeward.lsp")


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


class TcpSessions(Connections):
    """One LSP session at a time, each on a fresh server (its own documents, settings and engine), so that two
    editors never share pygls's single protocol and writer and only one model is loaded. A connection that
    arrives during a session waits for its turn; a connection that closes at once (a port probe) is a session
    that ends at once."""

    def __init__(self, make_server: Callable[[], CodewardServer]) -> None:
        super().__init__()
        self._make = make_server
        self._turn = asyncio.Lock()
        self._stopping = False

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """asyncio's callback for each accepted connection."""
        peer = writer.get_extra_info("peername")
        with self.tracked(writer):
            if self._turn.locked():
                log.warning("connection from %s waits: another editor's session is active (codeward serves one "
                            "session at a time over TCP)", peer)
            async with self._turn:
                if not self._stopping:
                    await self._serve(reader, writer, peer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Any) -> None:
        await run_session(self._make(), reader, writer, f"from {peer}")

    def stop(self) -> None:
        """Refuse waiting connections and end the active session (its read loop sees the end of the stream)."""
        self._stopping = True
        self.close_all()


async def run_session(server: CodewardServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      name: str) -> None:
    """One LSP session of `server` on a connection (its `exit` ends the session, not the process), then its end."""
    server.session_only = True
    server.protocol.set_writer(writer)  # type: ignore[arg-type]
    log.info("session %s started", name)
    try:
        await run_async(stop_event=threading.Event(), reader=reader, protocol=server.protocol, logger=log,
                        error_handler=server.report_server_error)
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        log.info("session %s lost: %s", name, exc)
    finally:
        await end_session(server)
        log.info("session %s ended", name)


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
