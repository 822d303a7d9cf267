"""Loopback servers for the openai-engine tests: llama-cpp-python's real server, and a scripted fake."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(model: Path, startup_s: float = 120.0) -> Iterator[str]:
    """Run `python -m llama_cpp.server` on loopback for the block; yield its base URL (with /v1)."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "1024"]
    # a file, not a pipe: llama.cpp's load log would fill an unread pipe and block the server
    with tempfile.TemporaryFile(mode="w+") as log:
        yield from _serve(cmd, log, f"http://127.0.0.1:{port}/v1", startup_s)


def _serve(cmd: list[str], log: Any, base: str, startup_s: float) -> Iterator[str]:
    """Start the server, wait until /models answers, yield the URL; stop it afterwards."""
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {log.read()[-2000:]}")
            try:
                if httpx.get(base + "/models", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer on {base} within {startup_s:g} s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Script:
    """What the fake server answers: a list of (status, body, headers), the last one repeated."""

    replies: list[tuple[int, Any, dict[str, str]]]
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)  # (path, headers, body)

    def next_reply(self) -> tuple[int, Any, dict[str, str]]:
        index = min(len(self.requests) - 1, len(self.replies) - 1)
        return self.replies[index]


@contextmanager
def fake_server(script: Script) -> Iterator[str]:
    """A loopback HTTP server that records each request and answers per `script`; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            script.requests.append((self.path, dict(self.headers), body))
            status, reply, headers = script.next_reply()
            data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def completion(*texts: str, finish: str = "length", logprobs: list[float] | None = None) -> dict[str, Any]:
    """An OpenAI /v1/completions answer with one choice per text."""
    lp = logprobs or [-0.5]
    choices = [{"index": i, "text": t, "finish_reason": finish,
                "logprobs": {"tokens": ["x"] * len(lp), "token_logprobs": lp, "text_offset": list(range(len(lp)))}}
               for i, t in enumerate(texts)]
    return {"object": "text_completion", "model": "fake", "choices": choices}
