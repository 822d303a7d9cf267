"""Hostile samples: each is contained, none counts as passed, the harness survives, and innocent samples
in the same run are graded exactly as when run alone. These need real bwrap isolation."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from codeward.sandbox.isolation import SandboxConfig
from codeward.sandbox.workers import SandboxPool, execute

from .procs import descendants, process_table

RIGHT, WRONG = "    return a + b\n", "    return a - b\n"
SECRET_NAME = "CODEWARD_TEST_SECRET"
LEAK = f"""    import glob, os
    if os.environ.get({SECRET_NAME!r}):
        return 'FOUND'
    for path in glob.glob('/proc/*/environ'):
        try:
            if {SECRET_NAME.encode()!r} in open(path, 'rb').read():
                return 'FOUND'
        except OSError:
            pass
    return 'NOT FOUND'
"""
SECRET_TASK = {
    "task_id": "t/leak",
    "prompt": "def leak():\n",
    "entry_point": "leak",
    "test": "def check(candidate):\n    assert candidate() == 'FOUND'\n",
}


def fn(*lines: str) -> str:
    """A function body: each line indented into `add`."""
    return "".join(f"    {line}\n" for line in lines)


def top(*lines: str) -> str:
    """Module-level code placed after a wrong `add` (runs before the tests are defined)."""
    return WRONG + "".join(f"{line}\n" for line in lines)


def resource_cases() -> dict[str, tuple[str, str | None]]:
    """Exhaust processes, memory or disk: name -> (completion, expected result)."""
    fill = [
        "i = 0",
        "while True:",
        "    with open(f'{}/f{{i}}', 'wb') as f:",
        "        f.write(b'0' * 8 * 2 ** 20)",
        "    i += 1",
    ]
    return {
        "fork bomb": (fn("import os", "while True:", "    os.fork()"), "failed: PermissionError"),
        "subprocess bomb": (
            fn("import subprocess", "subprocess.Popen(['sh', '-c', ':(){ :|:& };:'])"),
            "failed: PermissionError",
        ),
        "thread bomb": (
            fn(
                "import threading, time",
                "while True:",
                "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()",
            ),
            "failed: RuntimeError",
        ),
        "memory bomb": (fn("x = bytearray(8 * 1024 ** 3)"), "failed: MemoryError"),
        "memory creep": (
            fn("x = []", "while True:", "    x.append(bytearray(10 ** 7))"),
            "failed: MemoryError",
        ),
        "disk fill one file": (
            fn("with open('big', 'wb') as f:", "    while True:", "        f.write(b'0' * 2 ** 20)"),
            "failed: OSError",
        ),
        "disk fill many files": (fn(*[line.format("/tmp") for line in fill]), "failed: OSError"),
        "shm fill": (fn(*[line.format("/dev/shm") for line in fill]), "failed: OSError"),
    }


def escape_cases(port: int, sentinel: Path, outside: Path) -> dict[str, tuple[str, str | None]]:
    """Reach the network, host files, other processes, the harness; None = anything but passed."""
    return {
        "connect to loopback": (
            fn("import socket", f"socket.create_connection(('127.0.0.1', {port}), 2)", "return a + b"),
            None,
        ),
        "write outside": (fn(f"open({str(outside)!r}, 'w').write('pwned')", "return a + b"), None),
        "write to root": (
            fn("open('/codeward_pwned', 'w').write('pwned')", "return a + b"),
            "failed: OSError",
        ),
        "delete outside": (fn("import os", f"os.remove({str(sentinel)!r})", "return a + b"), None),
        # The runner is PID 1 of the sandbox: signals from inside cannot kill or stop it, so these samples
        # are graded on what they return (wrong here), in the same sandbox.
        "kill the runner": (
            fn("import os, signal", "os.kill(os.getppid(), signal.SIGKILL)", "return a - b"),
            "failed: AssertionError",
        ),
        "stop the runner": (
            fn("import os, signal", "os.kill(os.getppid(), signal.SIGSTOP)", "return a - b"),
            "failed: AssertionError",
        ),
        "kill everything": (
            fn("import os, signal", "os.kill(-1, signal.SIGKILL)", "return a - b"),
            "failed: ProcessLookupError",  # nothing it may signal: the server is PID 1
        ),
        "kill the harness": (
            fn("import os, signal", f"os.kill({os.getpid()}, signal.SIGKILL)", "return a + b"),
            None,
        ),
        "ignore SIGTERM": (
            fn("import signal", "signal.signal(signal.SIGTERM, signal.SIG_IGN)", "while True:", "    pass"),
            "timed out",
        ),
        "1 GB to stdout": (
            fn(
                "import sys",
                "chunk = 'x' * 2 ** 20",
                "for _ in range(1024):",
                "    sys.stdout.write(chunk)",
                "print('passed')",
                "return a - b",
            ),
            "failed: AssertionError",
        ),
        "daemon child": (
            fn(
                "import os",
                "if os.fork() == 0:",
                "    os.setsid()",
                "    os.execv('/bin/sleep', ['sleep', '4242.5'])",
                "return a - b",
            ),
            "failed: PermissionError",
        ),
    }


def forgery_cases() -> dict[str, tuple[str, str | None]]:
    """Wrong code that tries to make the harness report a pass without knowing the runner's protocol (one that
    knows it succeeds: the known limit kept in test_verdict_token.py)."""
    return {
        "os._exit(0) before tests": (
            top("import os", "os._exit(0)"),
            "killed: exit code 0 without a verdict",
        ),
        "sys.exit(0) before tests": (top("import sys", "sys.exit(0)"), "failed: SystemExit"),
        "SystemExit from the function": (fn("raise SystemExit(0)"), "failed: SystemExit"),
        "print passed": (top("print('passed')"), "failed: AssertionError"),
        "patch AssertionError": (
            top("import builtins", "class Fake(Exception):", "    pass", "builtins.AssertionError = Fake"),
            "failed: AssertionError",
        ),
        "patch builtins and os": (
            top(
                "import builtins, os, atexit",
                "builtins.BaseException = int",
                "builtins.type = lambda *a: 'passed'",
                "builtins.isinstance = lambda *a: 1 / 0",
                "os._exit = lambda code: None",
                "os.write = lambda fd, data: len(data)",
                "atexit.register(lambda: print('ok'))",
            ),
            "failed: AssertionError",
        ),
        "write 'passed' to every fd": (
            top(
                "import os",
                "for fd in range(3, 1024):",
                "    try:",
                "        os.write(fd, b'passed')",
                "    except OSError:",
                "        pass",
            ),
            None,
        ),
    }


def hostile_cases(port: int, sentinel: Path, outside: Path) -> dict[str, tuple[str, str | None]]:
    """name -> (completion of `add`, exact expected result or None for 'anything but passed')."""
    return {**resource_cases(), **escape_cases(port, sentinel, outside), **forgery_cases()}


@pytest.fixture()
def loopback_server():
    """A TCP server on 127.0.0.1 counting the connections it accepts."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], accepted
    stop.set()
    t.join()
    srv.close()


def test_hostile_samples_are_contained(
    bwrap_config: SandboxConfig, make_program, loopback_server, tmp_path: Path, monkeypatch
) -> None:
    port, accepted = loopback_server
    socket.create_connection(("127.0.0.1", port), 2).close()  # control: the server is reachable from here
    deadline = time.monotonic() + 5
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(accepted) == 1
    accepted.clear()
    sentinel, outside = tmp_path / "sentinel.txt", tmp_path / "pwned.txt"
    sentinel.write_text("keep me")
    monkeypatch.setenv(SECRET_NAME, "s3cret-value")
    namespace: dict = {}
    # Control: the leak code does find the secret when it is exposed.
    exec("def leak():\n" + LEAK, namespace)  # noqa: S102
    assert namespace["leak"]() == "FOUND"

    cases = hostile_cases(port, sentinel, outside)
    config = replace(bwrap_config, timeout_s=2.0, memory_mb=256)
    innocents = [make_program(RIGHT), make_program(WRONG)]
    alone = [r.result for r in execute(innocents, config, workers=1)]
    assert alone == ["passed", "failed: AssertionError"]
    jobs = [(("innocent", i % 2), innocents[i % 2]) for i in range(4)]
    for name, (completion, _) in cases.items():
        pick = len(jobs) % 2
        jobs += [(("hostile", name), make_program(completion)), (("innocent", pick), innocents[pick])]
    jobs.append((("hostile", "env secret"), make_program(LEAK, SECRET_TASK)))
    with SandboxPool(config, workers=2) as pool:
        results = list(pool.run(jobs))
        restarts = pool.restarts
    assert len(results) == len(jobs)
    got = {key: res for key, res in results}
    for (kind, name), res in results:
        if kind == "innocent":
            assert res.result == alone[name], (kind, name, res)
            continue
        assert not res.passed, (name, res)
        expected = cases[name][1] if name in cases else "failed: AssertionError"
        if expected is not None:
            assert res.result == expected, (name, res)
    assert got[("hostile", "connect to loopback")].result.startswith("failed: ")
    assert got[("hostile", "write outside")].result.startswith("failed: ")
    assert not accepted, "a sample reached the loopback server"
    assert sentinel.read_text() == "keep me" and not outside.exists()
    assert not Path("/codeward_pwned").exists()
    assert restarts >= 3  # the timeout and the files left in /tmp and /dev/shm replaced their sandboxes


def test_daemons_are_killed_when_subprocesses_are_allowed(bwrap_config: SandboxConfig, make_program) -> None:
    config = replace(bwrap_config, timeout_s=2.0, allow_subprocesses=True)
    daemon = (
        "    import os, time\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
        "            os.execv('/bin/sleep', ['sleep', '4242.5'])\n        os._exit(0)\n"
        "    time.sleep(0.3)\n" + WRONG
    )
    stubborn = (
        "    import os, signal, time\n    if os.fork() == 0:\n"
        "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "        os.execv('/bin/sleep', ['sleep', '4343.5'])\n    time.sleep(0.3)\n" + WRONG
    )
    jobs = [
        (0, make_program(daemon)),
        (1, make_program(RIGHT)),
        (2, make_program(stubborn)),
        (3, make_program(WRONG)),
        (4, make_program(RIGHT)),
    ]
    with SandboxPool(config, workers=1) as pool:
        results = dict(pool.run(jobs))
        (worker,) = pool.workers
        assert worker.proc is not None and worker.proc.poll() is None
        sandbox_pid = worker.proc.pid
        inside = descendants(sandbox_pid)
        assert "sleep" not in inside.values(), inside  # the daemon and the SIGTERM-ignoring child are gone
        assert len(inside) == 1, inside  # the fork server (PID 1 inside, no bwrap init), nothing else
    assert [results[i].result for i in range(5)] == [
        "failed: AssertionError",
        "passed",
        "failed: AssertionError",
        "failed: AssertionError",
        "passed",
    ]
    deadline = time.monotonic() + 5  # SIGKILL of the inner processes is asynchronous
    while any(pid in process_table() for pid in (sandbox_pid, *inside)) and time.monotonic() < deadline:
        time.sleep(0.05)
    table = process_table()
    assert not any(pid in table for pid in (sandbox_pid, *inside)), "closing the pool must end every process"
