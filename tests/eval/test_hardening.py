"""Red-team samples found while hardening the sandbox: each is run, then a detector that passes only in a
clean worker (no leftover limits, priority, CPU mask, IPC objects, threads or files) runs in the same
worker, so a sample that taints the fork server makes the detector fail. These need real bwrap isolation."""

from __future__ import annotations

import json
import os
import struct
from dataclasses import replace

import pytest

from codeward.sandbox.isolation import SandboxConfig
from codeward.sandbox.workers import SandboxPool

RIGHT, WRONG = "    return a + b\n", "    return a - b\n"
DETECTOR = f"""    CPUS = {os.sched_getaffinity(0)!r}
    import os, resource, threading
    assert threading.active_count() == 1
    assert resource.getrlimit(resource.RLIMIT_DATA)[0] == resource.RLIM_INFINITY
    assert resource.getrlimit(resource.RLIMIT_STACK)[0] >= 8 * 2 ** 20
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0
    assert os.sched_getaffinity(0) == CPUS
    for kind in ('shm', 'sem', 'msg'):
        assert len(open('/proc/sysvipc/' + kind).read().splitlines()) == 1, kind
    assert os.listdir('.') == [] and os.listdir('/dev/shm') == []
    block = bytearray(200 * 2 ** 20)
    return a + b
"""
FAKE_REPLY = json.dumps({"id": 0, "result": "passed", "duration_s": 0.01, "tainted": False}).encode()


def fn(*lines: str) -> str:
    """A function body: each line indented into `add`."""
    return "".join(f"    {line}\n" for line in lines)


def if_done(call: str, check: str) -> str:
    """Try `call` through ctypes; return the right sum only if `check` holds afterwards (a forged pass)."""
    return fn(
        "import ctypes, os",
        "libc = ctypes.CDLL(None, use_errno=True)",
        f"r = {call}",
        f"if {check}:",
        "    return a + b",
        "return a - b",
    )


def cases() -> dict[str, tuple[str, str | None]]:
    """name -> (completion of `add`, expected result or None for 'anything but passed')."""
    forge = (
        f"os.write(os.open('/proc/1/fd/1', os.O_WRONLY), {struct.pack('!I', len(FAKE_REPLY)) + FAKE_REPLY!r})"
    )
    return {
        # bwrap run as root kept every capability inside; CAP_SYS_PTRACE opened the server's /proc entries.
        "capabilities left": (
            fn(
                "caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]",
                "return a + b if int(caps, 16) else a - b",
            ),
            "failed: AssertionError",
        ),
        "forge the host reply through /proc/1/fd/1": (
            fn("import os", forge, "return a - b"),
            "failed: PermissionError",
        ),
        "open the server's memory": (
            fn("import os", "open(f'/proc/{os.getppid()}/mem', 'rb')"),
            "failed: PermissionError",
        ),
        "read the server's descriptors": (
            fn("import os", "os.readlink(f'/proc/{os.getppid()}/fd/1')"),
            "failed: PermissionError",
        ),
        "remount /usr read-write": (
            if_done("libc.mount(b'none', b'/usr', None, 0x1020, None)", "r == 0"),
            "failed: AssertionError",
        ),
        "SysV shared memory": (
            if_done("libc.shmget(0x1234, 2 ** 20, 0o1666)", "r >= 0"),
            "failed: AssertionError",
        ),
        "POSIX message queue": (
            if_done(
                "ctypes.CDLL('librt.so.1', use_errno=True).mq_open(b'/cw', 0o102, 0o600, None)", "r >= 0"
            ),
            "failed: AssertionError",
        ),
        "kernel keyring": (
            if_done("libc.syscall(248, b'user', b'cw', b'x', 1, -4)", "r >= 0"),
            "failed: AssertionError",
        ),
        "lower the server's RLIMIT_DATA": (
            fn(
                "import os, resource",
                "resource.prlimit(os.getppid(), resource.RLIMIT_DATA, (2 ** 25, 2 ** 25))",
            ),
            "failed: PermissionError",
        ),
        "renice the server": (
            fn("import os", "os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)"),
            "failed: PermissionError",
        ),
        "renice every process of the user": (
            fn("import os", "os.setpriority(os.PRIO_USER, 0, 19)"),
            "failed: PermissionError",
        ),
        "pin the server to one CPU": (
            fn("import os", "os.sched_setaffinity(os.getppid(), {0})"),
            "failed: PermissionError",
        ),
        "directories too deep to delete": (
            fn(
                "import os", "for _ in range(3000):", "    os.mkdir('d')", "    os.chdir('d')", "return a - b"
            ),
            "failed: AssertionError",
        ),
        "undeletable directory": (
            fn("import os", "os.makedirs('x/y')", "os.chmod('x', 0)", "return a - b"),
            "failed: AssertionError",
        ),
        "SIGINT to the server": (
            fn("import os, signal", "os.kill(os.getppid(), signal.SIGINT)", "return a - b"),
            "failed: AssertionError",
        ),
        "thread left running": (
            fn(
                "import threading, time",
                "threading.Thread(target=lambda: time.sleep(60)).start()",
                "return a - b",
            ),
            "failed: AssertionError",
        ),
        "segfault": (fn("import ctypes", "ctypes.string_at(0)"), "killed: SIGSEGV"),
        "exception whose name raises": (
            fn(
                "class M(type):",
                "    @property",
                "    def __name__(cls):",
                "        raise RuntimeError",
                "class E(Exception, metaclass=M):",
                "    pass",
                "raise E()",
            ),
            None,
        ),
    }


@pytest.mark.parametrize("allow_subprocesses", [False, True])
def test_hardening_samples_are_contained(
    bwrap_config: SandboxConfig, make_program, allow_subprocesses
) -> None:
    """None passes, each gets its expected result, and the worker after it is clean (detector passes)."""
    config = replace(bwrap_config, timeout_s=3.0, memory_mb=1024, allow_subprocesses=allow_subprocesses)
    table = cases()
    jobs = [(("detector", "first"), make_program(DETECTOR))]
    for name, (completion, _) in table.items():
        jobs += [(("hostile", name), make_program(completion)), (("detector", name), make_program(DETECTOR))]
    with SandboxPool(config, workers=1) as pool:
        results = dict(pool.run(jobs))
    for (kind, name), res in results.items():
        if kind == "detector":
            assert res.result == "passed", (f"the worker was tainted by {name!r}", res)
            continue
        assert not res.passed, (name, res)
        expected = table[name][1]
        if expected is not None:
            assert res.result == expected, (name, res)
    assert len(results) == len(jobs)


def test_right_answer_after_signals_to_the_server(bwrap_config: SandboxConfig, make_program) -> None:
    """Signals cannot kill or stop the server (it is PID 1 inside), so a correct program still passes."""
    attack = fn(
        "import os, signal", "for s in (signal.SIGSTOP, signal.SIGKILL):", "    os.kill(1, s)", "return a + b"
    )
    with SandboxPool(bwrap_config, workers=1) as pool:
        results = [r.result for _, r in pool.run([(0, make_program(attack)), (1, make_program(RIGHT))])]
        assert pool.restarts == 0
    assert results == ["passed", "passed"]
