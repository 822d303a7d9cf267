"""`codeward serve --daemon`: one language server per user, on a Unix socket, shared by every editor window.

The editor still starts `codeward serve --daemon` over stdio; that process is a relay: it connects to the per-user
server's socket (`$XDG_RUNTIME_DIR/codeward/serve.sock`, else `/tmp/codeward-UID/serve.sock`; the folder 0700, the
socket 0600), starting the server first when none answers (one at a time: a lock file), and copies bytes both ways
until either side closes. The folder is opened without following links and used through its descriptor
(`runtime`); both ends check with SO_PEERCRED that the other runs as the same user. The server runs each
connection as its own LSP session (its own documents and settings) concurrently, all sessions in one event loop,
with one engine per model for all of them (`engines.EnginePool`); it stops after `--idle-timeout` seconds without a
session, and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from codeward.lsp_server.runtime import RuntimeDir, RuntimeDirError, require_peer
from codeward.lsp_server.server import CodewardServer
from codeward.lsp_server.tcp import Connections, run_session
from codeward.trust import state_dir

log = logging.getLogger("codeward.lsp")
IDLE_TIMEOUT_S = 900.0
START_TIMEOUT_S = 60.0
SOCKET = "serve.sock"  # names in the runtime folder
LOCK = "serve.lock"


class DaemonError(RuntimeDirError):
    """The per-user server could not be reached or started; the message says why and what to do."""


class DaemonSessions(Connections):
    """Concurrent LSP sessions, each on a fresh server made by `make_server`; counts them for the idle timer."""

    def __init__(self, make_server: Callable[[], CodewardServer], idle_timeout: float,
                 info: Callable[[], dict[str, Any]] | None = None, uid: int | None = None) -> None:
        super().__init__()
        self._make = make_server
        self._info = info
        self.uid = os.getuid() if uid is None else uid  # the only user whose connections are served
        self.idle_timeout = idle_timeout
        self.active = 0
        self.total = 0
        self.stop = asyncio.Event()
        self._idle_since = time.monotonic()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            require_peer(writer.get_extra_info("socket"), "a process connecting to the per-user server", self.uid)
        except RuntimeDirError as exc:
            log.warning("connection refused: %s", exc)
            writer.close()
            return
        self.active += 1
        self.total += 1
        n = self.total
        server = self._make()
        server.process_info = lambda: {"pid": os.getpid(), "mode": "daemon", "sessions": self.active,
                                       "sessions_total": self.total, **(self._info() if self._info else {})}
        try:
            with self.tracked(writer):
                await run_session(server, reader, writer, f"{n} ({self.active} active)")
        finally:
            self.active -= 1
            self._idle_since = time.monotonic()

    async def watch_idle(self) -> None:
        """Set `stop` once no session has been active for `idle_timeout` seconds."""
        while not self.stop.is_set():
            await asyncio.sleep(min(1.0, self.idle_timeout))
            if self.active == 0 and time.monotonic() - self._idle_since >= self.idle_timeout:
                log.info("no session for %.0f s: stopping", self.idle_timeout)
                self.stop.set()

    async def close(self) -> None:
        self.close_all()
        await self.wait()


def serve_daemon(make_server: Callable[[], CodewardServer], folder: RuntimeDir,
                 idle_timeout: float = IDLE_TIMEOUT_S, info: Callable[[], dict[str, Any]] | None = None) -> None:
    """Listen on the Unix socket in the runtime `folder` until idle for `idle_timeout` s or SIGINT/SIGTERM; `info`
    adds to what `codeward/stats` says about the process (the engine pool's counts)."""
    asyncio.run(_serve(make_server, folder, idle_timeout, info))


async def _serve(make_server: Callable[[], CodewardServer], folder: RuntimeDir, idle_timeout: float,
                 info: Callable[[], dict[str, Any]] | None) -> None:
    sessions = DaemonSessions(make_server, idle_timeout, info)
    path = folder.path / SOCKET
    folder.remove(SOCKET)  # a stale socket of a server that died (the caller holds the start lock)
    old = os.umask(0o177)  # the socket is created 0600: no window in which another user could connect
    try:
        listener = await asyncio.start_unix_server(sessions.connection, path=folder.entry(SOCKET))
    finally:
        os.umask(old)
    print(f"codeward: listening on {path} (per-user server, pid {os.getpid()})", file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, sessions.stop.set)
    watcher = asyncio.ensure_future(sessions.watch_idle())
    try:
        await sessions.stop.wait()
    finally:
        watcher.cancel()
        listener.close()
        folder.remove(SOCKET)
        await sessions.close()
        await listener.wait_closed()
    print("codeward: per-user server stopped", file=sys.stderr, flush=True)


def _connect(folder: RuntimeDir) -> socket.socket | None:
    """A connection to the per-user server's socket in `folder` (None when none listens); DaemonError when the
    process listening there is another user's."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(folder.entry(SOCKET))
        require_peer(sock, f"the server listening on {folder.path / SOCKET}")
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except RuntimeDirError as exc:
        sock.close()
        raise DaemonError(str(exc)) from None
    return sock


def connect_or_start(folder: RuntimeDir, server_command: Sequence[str],
                     timeout: float = START_TIMEOUT_S) -> socket.socket:
    """A connection to the per-user server in the runtime `folder`, starting it with `server_command` if none
    answers."""
    sock = _connect(folder)
    if sock is not None:
        return sock
    logs = state_dir()
    logs.mkdir(parents=True, exist_ok=True)
    with open(folder.open_lock(LOCK), "r+b") as lock:  # never follows a link, never truncates
        fcntl.flock(lock, fcntl.LOCK_EX)  # one relay starts the server; the others wait and connect to it
        sock = _connect(folder)
        if sock is not None:
            return sock
        with open(logs / "daemon.log", "ab") as out:
            proc = subprocess.Popen(list(server_command), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True)  # outlives this relay and its editor
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock = _connect(folder)
            if sock is not None:
                return sock
            if proc.poll() is not None:
                raise DaemonError(f"the per-user codeward server exited with code {proc.returncode} at start; see "
                                  f"{logs / 'daemon.log'} (or run `codeward serve` to see the error)")
            time.sleep(0.05)
    raise DaemonError(f"the per-user codeward server did not listen on {folder.path / SOCKET} within {timeout:.0f} s; see "
                      f"{logs / 'daemon.log'}")


def relay(sock: socket.socket, stdin_fd: int | None = None, stdout: Any = None) -> None:
    """Copy the editor's stdin to the server and the server's answers to stdout until the server closes."""
    src = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    dst = stdout or sys.stdout.buffer

    def upstream() -> None:  # raw reads: a buffered stdin's lock would abort the interpreter at exit
        try:
            while chunk := os.read(src, 65536):
                sock.sendall(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the editor is gone: the server ends this session

    threading.Thread(target=upstream, daemon=True).start()
    try:
        while chunk := sock.recv(65536):
            dst.write(chunk)
            dst.flush()
    except (OSError, ValueError):
        pass
    finally:
        sock.close()
