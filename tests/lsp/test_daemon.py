"""`codeward serve --daemon`: editors started as they are configured (stdio) share one per-user server and one
loaded model; one editor leaving does not stop the other; the socket is private; the server stops when idle."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

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
