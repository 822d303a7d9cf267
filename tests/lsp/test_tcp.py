"""`codeward serve --tcp`: the listener outlives its sessions (a port probe, an editor that quits or drops), serves
one session at a time on a fresh server, stops on SIGTERM, and says in one line why it cannot listen. A session
needs the token written at start (0600, in the runtime folder): anything else is answered with an error and the
connection closed; a TCP client may not set the keys a project file may not set; the address must be loopback
unless --allow-remote."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeward.testing.fake_engines import HANG_MARKER
from codeward.testing.raw_client import RawClient

FAKE_SERVER = ["-m", "codeward.testing.fake_server"]
DOC_URI = "file:///tmp/codeward-tcp/run.py"
DOC = "import subprocess\n\n\ndef run(cmd):\n    "
CLEAN = "subprocess.run(['ls'], check=False)"
ELSEWHERE = {"engine": {"base_url": "http://198.51.100.7/v1", "api_key_env": "HOME", "max_new_tokens": 5}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session(RawClient):
    """A minimal LSP client over one TCP connection."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.token = token
        super().__init__(self.sock.makefile("rb"), self.sock.sendall)

    def init_params(self, options: dict[str, Any] | None = None, pull: bool = False) -> dict[str, Any]:
        """initialize's params, the token in initializationOptions; `pull`: the client answers configuration."""
        caps = {"workspace": {"configuration": True}} if pull else {}
        token = {"codeward_token": self.token} if self.token is not None else {}
        return {"processId": None, "rootUri": None, "capabilities": caps,
                "initializationOptions": {**(options or {}), **token}}

    def initialize(self, options: dict[str, Any] | None = None, pull: bool = False) -> dict[str, Any]:
        result = self.request("initialize", self.init_params(options, pull))
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


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a server whose runtime folder (where the token goes) is private to the test."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return {**os.environ, "CODEWARD_RUNTIME_DIR": str(runtime)}


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)


def banner(proc: subprocess.Popen[bytes], port: int) -> tuple[str, Path]:
    """Check the two lines a listening server prints; the token and its file."""
    assert proc.stderr is not None
    first, second = proc.stderr.readline().decode(), proc.stderr.readline().decode()
    assert first == f"codeward: listening on 127.0.0.1:{port} (LSP over TCP)\n", first + second
    prefix, suffix = "codeward: clients send the token in ", " as initializationOptions.codeward_token\n"
    assert second.startswith(prefix) and second.endswith(suffix), second
    path = Path(second[len(prefix):-len(suffix)])
    return path.read_text().strip(), path


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
def serve(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int, str, Path]]:
    """The real `codeward serve --tcp` on a free loopback port, once it says it is listening: the process, the port,
    the token and the token's file."""
    port = free_port()
    proc = start([sys.executable, "-m", "codeward", "serve", "--tcp", f"127.0.0.1:{port}"], env)
    token, path = banner(proc, port)
    yield proc, port, token, path
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_a_probe_and_finished_sessions_leave_the_listener_up_until_sigterm(serve):
    proc, port, token, _ = serve
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # a port probe: connect, close
    for _ in range(2):  # two editors, one after the other, each with shutdown + exit
        session = Session(port, token)
        assert session.initialize()["serverInfo"]["name"] == "codeward"
        assert session.request("codeward/stats", {})["requests"] == 0
        assert session.shutdown_and_exit() == b""  # exit closes this session's connection...
        assert proc.poll() is None and listening(port)  # ...and only it
    code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert not listening(port)


def test_the_token_is_private_and_nothing_is_served_without_it(serve, env):
    proc, port, token, path = serve
    assert path.parent == Path(env["CODEWARD_RUNTIME_DIR"])  # the runtime folder `serve --daemon` uses
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(token) >= 32
    refused = []
    for first in ("stats", "notification", "no token", "wrong token", "token in the wrong place"):
        session = Session(port, {"no token": None, "wrong token": token[:-1] + "x"}.get(first, token))
        if first == "stats":  # a request before initialize
            msg_id = session.send("codeward/stats", {})
        elif first == "notification":
            msg_id = session.send("initialized", {}, request=False)
        elif first == "token in the wrong place":
            msg_id = session.send("initialize", {**session.init_params(), "codeward_token": token,
                                                 "initializationOptions": {}})
        else:
            msg_id = session.send("initialize", session.init_params({"completion": {"debounce_ms": 0}}))
        answer = session.answer(msg_id)
        assert answer is not None and "result" not in answer, (first, answer)
        assert answer["error"]["code"] == (-32002 if first in ("stats", "notification") else -32600), answer
        assert str(path) in answer["error"]["message"] and token not in answer["error"]["message"]
        assert session.receive() is None, first  # the connection is closed
        session.close()
        refused.append(first)
    assert proc.poll() is None and listening(port)
    session = Session(port, token)
    assert session.initialize()["serverInfo"]["name"] == "codeward"  # the right token: served
    assert session.request("codeward/stats", {})["requests"] == 0
    assert session.shutdown_and_exit() == b""
    code, err = stop(proc)
    assert code == 0 and token not in err and err.count("refused") == len(refused), err
    assert not path.exists()  # removed when the server stops


def wait_settings(session: RawClient, version: int) -> dict[str, Any]:
    """codeward/stats once the settings have been resolved `version` times (the configuration pull applied)."""
    for _ in range(200):
        stats = session.request("codeward/stats", {})
        if stats["settings_version"] >= version:
            return stats
        time.sleep(0.05)
    raise AssertionError("the server did not apply the pulled configuration within 10 s")


def test_a_tcp_client_may_not_say_where_data_goes_but_the_users_own_channel_may(serve, env):
    _, port, token, _ = serve
    session = Session(port, token)
    session.configuration = {**ELSEWHERE, "engine": {**ELSEWHERE["engine"], "max_new_tokens": 6}}
    session.initialize(ELSEWHERE, pull=True)
    engine = wait_settings(session, 2)["settings"]["engine"]
    assert engine["base_url"] != ELSEWHERE["engine"]["base_url"] and engine["api_key_env"] != "HOME"
    assert engine["max_new_tokens"] == 6  # keys a project may set are the client's to set
    logs = [n["params"]["message"] for n in session.notifications if n["method"] == "window/logMessage"]
    ignored = [m for m in logs if "settings ignored over TCP" in m]
    assert len(ignored) == 1 and "engine.api_key_env, engine.base_url" in ignored[0], logs
    shown = [n["params"]["message"] for n in session.notifications if n["method"] == "window/showMessage"]
    assert not any("codeward_token" in m for m in shown), shown  # a reserved key, not an unknown section
    assert token not in json.dumps(session.notifications)
    assert session.shutdown_and_exit() == b""

    stdio = subprocess.Popen([sys.executable, *FAKE_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=env)
    try:
        client = RawClient.over_pipes(stdio)
        client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                      "initializationOptions": {**ELSEWHERE, "codeward_token": "anything"}})
        client.send("initialized", {}, request=False)
        engine = client.request("codeward/stats", {})["settings"]["engine"]
        assert engine["base_url"] == ELSEWHERE["engine"]["base_url"] and engine["api_key_env"] == "HOME"
        assert not any("codeward_token" in json.dumps(n) for n in client.notifications), client.notifications
        client.request("shutdown")
        client.send("exit", request=False)
        assert stdio.wait(timeout=20) == 0
    finally:
        if stdio.poll() is None:
            stdio.kill()
        stdio.communicate()


def test_a_waiting_editor_gets_a_fresh_session_when_the_active_one_drops(env):
    port = free_port()
    env = {**env, "CODEWARD_ENGINE_MODEL": "scripted:" + json.dumps([CLEAN])}  # the user's own channel
    proc = start([sys.executable, *FAKE_SERVER, "--tcp", str(port)], env)
    try:
        token, _ = banner(proc, port)
        first = Session(port, token)
        first.initialize({"completion": {"debounce_ms": 0, "timeout_s": 30.0}})
        hanging = DOC.replace("\n\n\n", f"\n{HANG_MARKER}\n\n")  # the scripted model never answers this one
        first.send("textDocument/didOpen", {"textDocument": {"uri": DOC_URI, "languageId": "python", "version": 1,
                                                             "text": hanging}}, request=False)
        first.send("textDocument/inlineCompletion", {"textDocument": {"uri": DOC_URI},
                                                     "position": {"line": 4, "character": 4},
                                                     "context": {"triggerKind": 1}})
        second = Session(port, token)
        second.send("initialize", second.init_params())
        readable, _, _ = select.select([second.sock], [], [], 1.0)
        assert not readable  # one session at a time: the second editor waits its turn
        first.close()  # the first editor drops with a generation in flight: its session ends, the model stops
        answer = second.receive()
        assert answer is not None and answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "codeward"
        second.send("initialized", {}, request=False)
        assert second.request("codeward/stats", {})["requests"] == 0  # a fresh server: nothing of the first
        second.send("workspace/didChangeConfiguration", {"settings": {"codeward": {
            "completion": {"debounce_ms": 0}}}}, request=False)
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


def _serve_fails(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "codeward", "serve", *args], check=False, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    return done.stderr


def test_an_address_in_use_is_one_line_and_exit_2(env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = _serve_fails(env, "--tcp", f"127.0.0.1:{port}")
    assert err.startswith(f"codeward: error: cannot listen on 127.0.0.1:{port}: the address is already in use;")
    assert "choose another port" in err


def test_an_unresolvable_host_is_one_line_and_exit_2(env):
    err = _serve_fails(env, "--tcp", "no-such-host.invalid:2087")
    assert err.startswith("codeward: error: cannot listen on no-such-host.invalid:2087: cannot resolve host")
    assert "127.0.0.1" in err


def test_an_address_other_machines_reach_needs_allow_remote_and_warns(env):
    port = free_port()
    err = _serve_fails(env, "--tcp", f"0.0.0.0:{port}")
    assert "can be reached from other machines" in err and "--allow-remote" in err and "127.0.0.1" in err
    proc = start([sys.executable, "-m", "codeward", "serve", "--tcp", f"0.0.0.0:{port}", "--allow-remote"], env)
    try:
        assert proc.stderr is not None
        warning = proc.stderr.readline().decode()
        assert warning.startswith("codeward: warning: listening on 0.0.0.0, reachable from other machines")
        assert "not encrypted" in warning
        assert proc.stderr.readline().decode() == f"codeward: listening on 0.0.0.0:{port} (LSP over TCP)\n"
    finally:
        code, err = stop(proc)
    assert code == 0, err


def test_debug_prompts_are_refused_over_tcp(env):
    err = _serve_fails(env, "--tcp", f"127.0.0.1:{free_port()}", "--debug-prompts")
    assert "--debug-prompts cannot be used with --tcp" in err
