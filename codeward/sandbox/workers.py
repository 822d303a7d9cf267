"""Run many programs through a pool of sandboxed fork servers, one program at a time per worker.

Each worker is one long-lived sandbox (see `isolation.py`) that forks a fresh child per program; a worker
whose program timed out, was killed, killed the server, or left anything behind is replaced before the
next program, so innocent programs never run after a hostile one in a tainted sandbox.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from codeward.sandbox import forkserver as proto
from codeward.sandbox.isolation import Isolation, SandboxConfig, new_tag, resolve_isolation, worker_spec

log = logging.getLogger(__name__)
K = TypeVar("K")
START_TIMEOUT_S = 30.0
GRACE_S = 5.0
CLOSE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ExecResult:
    """One program's outcome: `result` is `passed`, `failed: <Exc>`, `timed out` or `killed: <reason>`."""

    passed: bool
    result: str
    duration_s: float
    harness_error: bool = False  # the sandbox failed (set-up, a lost runner): no verdict on the sample


HARNESS_ERROR_PREFIXES = ("killed: sandbox set-up failed", "killed: sandbox runner died")


def is_harness_error(result: str) -> bool:
    """Whether a result string means the harness failed rather than the sample."""
    return result.startswith(HARNESS_ERROR_PREFIXES)


class WorkerDied(RuntimeError):
    """The sandbox process ended or stopped answering."""


class Worker:
    """One sandboxed fork server; restarted on demand."""

    def __init__(self, config: SandboxConfig, isolation: Isolation, tag: str) -> None:
        self.config, self.isolation, self.tag = config, isolation, tag
        self.proc: subprocess.Popen[bytes] | None = None
        self.scratch: str | None = None
        self.stderr: Any = None
        self.seq = 0
        self.starts = 0

    def start(self) -> None:
        """Start the sandbox and wait for the server's `ready` message."""
        spec = worker_spec(self.config, self.isolation, self.tag)
        self.scratch = spec.scratch
        # Lives as long as the worker; closed in close().
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=spec.env,
            cwd=spec.cwd,
            start_new_session=True,
        )
        self.starts += 1
        try:
            hello = self._read(time.monotonic() + START_TIMEOUT_S)
        except WorkerDied as exc:
            raise WorkerDied(f"sandbox worker did not start: {exc}; {self._stderr_tail()}") from exc
        if not hello.get("ready"):
            raise WorkerDied(
                f"sandbox worker could not start: {hello.get('error', hello)}; "
                "set eval.sandbox_allow_subprocesses = true to run without the no-fork filter"
            )

    def run(self, program: str, timeout: float) -> ExecResult:
        """Execute one program; a dead or hung worker gives `killed: ...` and is replaced next time."""
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        self.seq += 1
        start = time.monotonic()
        try:
            proto.write_message(
                self.proc.stdin.fileno(), {"id": self.seq, "program": program, "timeout": timeout}
            )
            reply = self._read(start + timeout + GRACE_S)
        except (WorkerDied, BrokenPipeError) as exc:
            self._lost(exc)
            return ExecResult(False, "killed: sandbox runner died", time.monotonic() - start, True)
        if reply.get("tainted"):
            self.close()
        result = str(reply["result"])
        return ExecResult(result == "passed", result, float(reply["duration_s"]), is_harness_error(result))

    def _lost(self, exc: BaseException) -> None:
        """Close a worker that died or stopped answering mid-program, logging how it ended (exit status
        and the server's stderr) so that an unexpected death can be diagnosed."""
        code = self._stop()
        log.warning(
            "sandbox worker lost during a program (%s; exit status %s); %s", exc, code, self._stderr_tail()
        )
        self.close()

    def _read(self, deadline: float) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        (size,) = proto.HEADER.unpack(self._read_exact(fd, proto.HEADER.size, deadline))
        return json.loads(self._read_exact(fd, size, deadline))

    def _read_exact(self, fd: int, size: int, deadline: float) -> bytes:
        chunks, left = [], size
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise WorkerDied("no answer before the deadline")
            chunk = os.read(fd, left)
            if not chunk:
                raise WorkerDied(f"worker exited with code {self.proc.poll() if self.proc else None}")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _stderr_tail(self) -> str:
        if self.stderr is None:
            return ""
        self.stderr.seek(0)
        return "stderr: " + self.stderr.read()[-800:].decode("utf-8", "replace").strip()

    def _stop(self) -> int | None:
        """End the sandbox process (EOF, then SIGKILL to its group after a grace period); its exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            return proc.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.debug("sandbox worker %d did not exit on EOF; killing it", proc.pid)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return proc.wait()

    def close(self) -> None:
        """Stop the sandbox: EOF lets a healthy server exit so bwrap reaps its own processes; one that does
        not exit promptly is killed with its whole process group."""
        self._stop()
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


class SandboxPool:
    """A fixed number of workers executing (key, program) jobs in parallel; results come as they finish.

    Without an `isolation` the pool resolves one that fails closed (SandboxError where bwrap cannot isolate).
    Each worker lives in its own thread for the pool's lifetime: bwrap's --die-with-parent follows the
    thread that started it, so a sandbox must never be started from a short-lived thread."""

    def __init__(self, config: SandboxConfig, workers: int = 0, isolation: Isolation | None = None) -> None:
        self.config = config
        self.isolation = isolation or resolve_isolation(config)
        self.tag = new_tag()
        self.size = workers if workers > 0 else (os.cpu_count() or 1)
        self.workers = [Worker(config, self.isolation, self.tag) for _ in range(self.size)]
        self._todo: queue.Queue[tuple[Any, str, float, queue.Queue, threading.Event] | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._loop, args=(w,), daemon=True, name=f"sandbox-{i}")
            for i, w in enumerate(self.workers)
        ]
        for t in self._threads:
            t.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (each in the thread that owns it) and wait for them."""
        for _ in self._threads:
            self._todo.put(None)
        for t in self._threads:
            t.join()

    @property
    def restarts(self) -> int:
        """How many times a worker was started beyond the first (tainted or dead sandboxes replaced)."""
        return sum(max(0, w.starts - 1) for w in self.workers)

    def run(
        self, jobs: Iterable[tuple[K, str]], timeout: float | None = None
    ) -> Iterator[tuple[K, ExecResult]]:
        """Execute every job; yield (key, result) in completion order. Jobs still queued when the caller
        stops early (an error, Ctrl-C) are dropped."""
        limit = self.config.timeout_s if timeout is None else timeout
        done: queue.Queue[tuple[K, ExecResult] | BaseException] = queue.Queue()
        cancelled = threading.Event()
        count = 0
        for key, program in jobs:
            self._todo.put((key, program, limit, done, cancelled))
            count += 1
        try:
            for _ in range(count):
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()

    def _loop(self, worker: Worker) -> None:
        try:
            while (job := self._todo.get()) is not None:
                key, program, limit, done, cancelled = job
                if cancelled.is_set():
                    continue
                try:
                    done.put((key, worker.run(program, limit)))
                except Exception as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
                    log.debug("sandbox worker failed: %s", exc)
                    done.put(exc)
        finally:
            worker.close()


def execute(programs: list[str], config: SandboxConfig, workers: int = 0,
            isolation: Isolation | None = None) -> list[ExecResult]:
    """Run `programs` in the sandbox (at `isolation`, default `resolve_isolation`'s: bwrap or refused) and return
    their results in input order."""
    out: list[ExecResult | None] = [None] * len(programs)
    with SandboxPool(config, workers, isolation) as pool:
        for i, res in pool.run(enumerate(programs)):
            out[i] = res
    return [r for r in out if r is not None]
