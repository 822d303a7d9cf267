"""`codeward serve --tcp`: the listener outlives its sessions (a port probe, an editor that quits or drops), serves
one session at a time on a fresh server, stops on SIGTERM, and says in one line why it cannot listen."""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from codeward.testing.raw_client import RawClient

FAKE_SERVER = ["-m", "codeward.testing.fake_server"]
DOC_URI = "file:///tmp/codeward-tcp/run.py"
DOC = "import subprocess\n\n\ndef run(cmd):\n    "
CLEAN = "subprocess.run(['ls'], check=False)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session(RawClient):
    """A minimal LSP client over one TCP connection."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        super().__init__(self.sock.makefile("rb"), self.sock.sendall)

    def initialize(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                             "initializationOptions": options or {}})
        self.send("initialized", {}, request=False)
        return result

    def shutdown_and_exit(self) -> bytes:
        """shutdown + exit; what the server sends after them (nothing) once it has closed the connection."""
        assert self.request("shutdown") is None
        self.send("exit", request=False)
        rest = self.stream.read()
        self.close()
        return rest

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


def start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """SIGTERM, then the exit code and the rest of stderr."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the server did not stop within 20 s of SIGTERM; stderr: {err.decode()}") from None
    return proc.returncode, err.decode()


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture
def serve() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The real `codeward serve --tcp` on a free loopback port, once it says it is listening."""
    port = free_port()
    proc = start([sys.executable, "-m", "codeward", "serve", "--tcp", f"127.0.0.1:{port}"])
    first = proc.stderr.readline().decode() if proc.stderr else ""
    assert first == f"codeward: listening on 127.0.0.1:{port} (LSP over TCP)\n", first
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_a_probe_and_finished_sessions_leave_the_listener_up_until_sigterm(serve):
    proc, port = serve
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # a port probe: connect, close
    for _ in range(2):  # two editors, one after the other, each with shutdown + exit
        session = Session(port)
        assert session.initialize()["serverInfo"]["name"] == "codeward"
        assert session.request("codeward/stats", {})["requests"] == 0
        assert session.shutdown_and_exit() == b""  # exit closes this session's connection...
        assert proc.poll() is None and listening(port)  # ...and only it
    code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert not listening(port)


def test_a_waiting_editor_gets_a_fresh_session_when_the_active_one_drops():
    port = free_port()
    proc = start([sys.executable, *FAKE_SERVER, "--tcp", str(port)])
    try:
        assert proc.stderr is not None and b"listening on" in proc.stderr.readline()
        first = Session(port)
        first.initialize({"completion": {"debounce_ms": 0, "timeout_s": 30.0}, "engine": {"model": "hang"}})
        first.send("textDocument/didOpen", {"textDocument": {"uri": DOC_URI, "languageId": "python", "version": 1,
                                                             "text": DOC}}, request=False)
        first.send("textDocument/inlineCompletion", {"textDocument": {"uri": DOC_URI},
                                                     "position": {"line": 4, "character": 4},
                                                     "context": {"triggerKind": 1}})
        second = Session(port)
        second.send("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        readable, _, _ = select.select([second.sock], [], [], 1.0)
        assert not readable  # one session at a time: the second editor waits its turn
        first.close()  # the first editor drops with a generation in flight: its session ends, the model stops
        answer = second.receive()
        assert answer is not None and answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "codeward"
        second.send("initialized", {}, request=False)
        assert second.request("codeward/stats", {})["requests"] == 0  # a fresh server: nothing of the first
        scripted = "scripted:" + json.dumps([CLEAN])
        second.send("workspace/didChangeConfiguration", {"settings": {"codeward": {
            "engine": {"model": scripted}, "completion": {"debounce_ms": 0}}}}, request=False)
        second.send("textDocument/didOpen", {"textDocument": {"uri": DOC_URI, "languageId": "python",
                                                              "version": 1, "text": DOC}}, request=False)
        items = second.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": DOC_URI}, "position": {"line": 4, "character": 4}, "context": {"triggerKind": 1}})
        assert [i["insertText"] for i in items["items"]] == ["    " + CLEAN]
        assert second.shutdown_and_exit() == b""
        assert proc.poll() is None
    finally:
        code, err = stop(proc)
    assert code == 0, err


def _serve_fails(address: str) -> str:
    done = subprocess.run([sys.executable, "-m", "codeward", "serve", "--tcp", address], check=False,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    return done.stderr


def test_an_address_in_use_is_one_line_and_exit_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = _serve_fails(f"127.0.0.1:{port}")
    assert err.startswith(f"codeward: error: cannot listen on 127.0.0.1:{port}: the address is already in use;")
    assert "choose another port" in err


def test_an_unresolvable_host_is_one_line_and_exit_2():
    err = _serve_fails("no-such-host.invalid:2087")
    assert err.startswith("codeward: error: cannot listen on no-such-host.invalid:2087: cannot resolve host")
    assert "127.0.0.1" in err
