"""A minimal LSP client over any byte stream (a TCP connection, a relay's stdio): requests answered in order,
notifications kept in `notifications`, the server's own requests answered (configuration: `configuration`, empty
by default)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO


@contextlib.contextmanager
def served(argv: list[str]) -> Iterator[tuple[subprocess.Popen[bytes], RawClient]]:
    """A language server started by `argv` (stdio; its stderr dropped) and a client on its pipes; the server is killed
    on the way out if the test left it running."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        yield proc, RawClient.over_pipes(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


class RawClient:
    def __init__(self, stream: BinaryIO, write: Callable[[bytes], None]) -> None:
        self.stream, self._write = stream, write
        self.next_id = 0
        self.configuration: Any = {}  # the `codeward` section answered to workspace/configuration
        self.notifications: list[dict[str, Any]] = []  # what the server sent unasked, in order

    @classmethod
    def over_pipes(cls, proc: subprocess.Popen[bytes]) -> RawClient:
        """A client on a child process's stdin and stdout."""
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def write(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        return cls(proc.stdout, write)

    def _frame(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self._write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, method: str, params: Any = None, request: bool = True) -> int | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        self._frame(message)
        return message.get("id")

    def receive(self) -> dict[str, Any] | None:
        """The next message from the server, or None when it closed the connection."""
        length = 0
        while True:
            line = self.stream.readline()
            if not line:
                return None
            if line == b"\r\n":
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.stream.read(length))

    def closed_early(self, method: str) -> str:
        return f"the server closed the connection before answering {method}"

    def _aside(self, message: dict[str, Any]) -> None:
        """A message that is not the awaited answer: a server request is answered, a notification kept."""
        if "method" in message and "id" in message:
            result = [self.configuration] if message["method"] == "workspace/configuration" else None
            self._frame({"jsonrpc": "2.0", "id": message["id"], "result": result})
        elif "method" in message:
            self.notifications.append(message)

    def wait_for(self, method: str) -> Any:
        """The params of the next notification `method` (others kept, the server's requests answered)."""
        while True:
            message = self.receive()
            assert message is not None, f"the server closed the connection while we waited for {method}"
            if message.get("method") == method and "id" not in message:
                return message["params"]
            self._aside(message)

    def answer(self, msg_id: int | None) -> dict[str, Any] | None:
        """The whole response to request `msg_id` (its `result` or its `error`); None when the server closed the
        connection first."""
        while True:
            message = self.receive()
            if message is None:
                return None
            if message.get("id") == msg_id and "method" not in message:
                return message
            self._aside(message)

    def request(self, method: str, params: Any = None) -> Any:
        message = self.answer(self.send(method, params))
        assert message is not None, self.closed_early(method)
        assert "error" not in message, message
        return message["result"]
