"""`codeward serve --daemon`: editors started as they are configured (stdio) share one per-user server and one
loaded model; one editor leaving does not stop the other; the socket is private; the server stops when idle. The
runtime folder is refused when it is a link or a file, the lock file is never followed or truncated, and each end
of the socket checks that the other is the same user (SO_PEERCRED)."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from codeward.lsp_server import daemon
from codeward.lsp_server.daemon import DaemonError, DaemonSessions
from codeward.lsp_server.runtime import open_runtime_dir
from codeward.testing.raw_client import RawClient

DOC = "import os\n\n\ndef list_dir(path):\n    "


class Editor(RawClient):
    """A minimal LSP client over the stdio of `codeward serve --daemon`, as an editor starts it."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "codeward", "serve", "--daemon", *extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        client = RawClient.over_pipes(self.proc)
        super().__init__(client.stream, client._write)

    def closed_early(self, method: str) -> str:
        err = self.proc.stderr.read().decode() if self.proc.stderr else ""
        return f"the relay closed before answering {method}: {err}"

    def start(self, uri: str) -> None:
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {},
                                             "initializationOptions": {"engine": {"max_new_tokens": 8}}})
        assert result["serverInfo"]["name"] == "codeward"
        self.send("initialized", {}, request=False)
        self.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": DOC}}, request=False)

    def complete(self, uri: str) -> list[Any]:
        """The inline completion items at the end of DOC (the model may have nothing to offer: a list)."""
        result = self.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": 4, "character": 4},
            "context": {"triggerKind": 1}})
        return result["items"] if isinstance(result, dict) else result

    def quit(self) -> int:
        assert self.request("shutdown") is None
        self.send("exit", request=False)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return {**os.environ, "CODEWARD_RUNTIME_DIR": str(runtime)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_editors_share_one_server_and_one_model_and_one_leaving_does_not_stop_the_other(env):
    runtime = Path(env["CODEWARD_RUNTIME_DIR"])
    a, b = Editor(env, "--idle-timeout", "3"), Editor(env, "--idle-timeout", "3")
    try:
        a.start("file:///tmp/a.py")
        assert isinstance(a.complete("file:///tmp/a.py"), list)
        b.start("file:///tmp/b.py")
        assert isinstance(b.complete("file:///tmp/b.py"), list)
        sa, sb = a.request("codeward/stats", {}), b.request("codeward/stats", {})
        assert sa["process"]["mode"] == "daemon" and sa["process"]["pid"] == sb["process"]["pid"]
        assert sb["process"]["sessions"] == 2 and sb["process"]["engines_loaded"] == 1  # one model for both
        assert sa["requests"] == 1 and sb["requests"] == 1  # each session its own documents and counts
        sock = runtime / "serve.sock"
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600 and stat.S_IMODE(runtime.stat().st_mode) == 0o700
        pid = sb["process"]["pid"]

        assert a.quit() == 0
        assert isinstance(b.complete("file:///tmp/b.py"), list)  # the other editor goes on
        after = b.request("codeward/stats", {})
        assert after["process"]["sessions"] == 1 and after["process"]["engines_loaded"] == 1
        assert after["requests"] == 2
        assert b.quit() == 0
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:  # idle for 3 s: the per-user server stops
            time.sleep(0.2)
        assert not alive(pid) and not sock.exists()
    finally:
        a.kill()
        b.kill()


def test_a_socket_folder_others_can_enter_is_refused_with_what_to_do(env):
    runtime = Path(env["CODEWARD_RUNTIME_DIR"])
    runtime.chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "codeward", "serve", "--daemon"], env=env, capture_output=True, check=False,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "must belong to you and be private" in proc.stderr and f"chmod 700 {runtime}" in proc.stderr


def _daemon_fails(env: dict[str, str]) -> str:
    """`codeward serve --daemon` refused at once: exit 2, one line, no traceback; that line."""
    proc = subprocess.run([sys.executable, "-m", "codeward", "serve", "--daemon", "--idle-timeout", "1"], env=env,
                          capture_output=True, check=False, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def test_a_symlinked_runtime_folder_is_refused(tmp_path: Path):
    real = tmp_path / "theirs"
    real.mkdir(mode=0o700)
    link = tmp_path / "codeward-1000"
    link.symlink_to(real)  # what another user could plant in /tmp before you first run codeward
    err = _daemon_fails({**os.environ, "CODEWARD_RUNTIME_DIR": str(link)})
    assert f"the runtime folder {link} is a symbolic link" in err and f"rm {link}" in err
    assert list(real.iterdir()) == []  # no socket, no lock file in the folder it points to


def test_a_file_squatting_the_runtime_folder_is_a_clear_error(tmp_path: Path):
    squat = tmp_path / "codeward-1000"
    squat.write_text("not a folder\n")
    err = _daemon_fails({**os.environ, "CODEWARD_RUNTIME_DIR": str(squat)})
    assert f"the runtime folder {squat} is a file, not a folder" in err and "CODEWARD_RUNTIME_DIR" in err


def test_the_lock_file_is_never_followed_and_never_truncated(env, tmp_path: Path):
    runtime = Path(env["CODEWARD_RUNTIME_DIR"])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (runtime / "serve.lock").symlink_to(victim)
    err = _daemon_fails(env)
    assert f"cannot open the lock file {runtime / 'serve.lock'}: is a symbolic link" in err
    assert victim.read_text() == "precious\n"
    (runtime / "serve.lock").unlink()
    (runtime / "serve.lock").write_text("kept\n")  # a lock file of an earlier start: opened, not truncated
    done = subprocess.run([sys.executable, "-m", "codeward", "serve", "--daemon", "--idle-timeout", "1"], env=env,
                          capture_output=True, check=False, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert (runtime / "serve.lock").read_text() == "kept\n"


def test_the_server_serves_only_its_own_user(tmp_path: Path):
    folder = open_runtime_dir(tmp_path / "run")
    made: list[int] = []

    def make_server() -> Any:
        made.append(1)
        raise AssertionError("a session was started for another user's connection")

    async def scenario() -> bytes:
        sessions = DaemonSessions(make_server, 60.0, uid=os.getuid() + 1)  # as if we were another user
        listener = await asyncio.start_unix_server(sessions.connection, path=folder.entry("serve.sock"))
        try:
            reader, writer = await asyncio.open_unix_connection(folder.entry("serve.sock"))
            data = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return data
        finally:
            listener.close()
            await listener.wait_closed()

    try:
        assert asyncio.run(scenario()) == b"" and made == []  # closed at once, no session
    finally:
        folder.close()


def test_the_relay_talks_only_to_a_server_of_its_own_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = open_runtime_dir(tmp_path / "run")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(folder.entry("serve.sock"))
        listener.listen()
        real = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: real + 1)  # the server's uid is not "ours" any more
        with pytest.raises(DaemonError, match=rf"runs as uid {real}, not as you \(uid {real + 1}\)"):
            daemon._connect(folder)
    finally:
        listener.close()
        folder.close()
