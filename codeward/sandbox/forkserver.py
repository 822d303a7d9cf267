"""The fork server that runs inside the sandbox: one child per program, verdicts checked by a per-run token.

This file is executed as `python -I -S -c <this source> <config-json>` inside bwrap (or, in the
fallback, directly), so it imports only the standard library and never codeward. The host talks to
it over stdin/stdout with length-prefixed JSON messages; a child never holds those descriptors.

Known limit: the verdict token stops accidental and generic forgeries, but a sample written against the
runner's protocol can forge a pass (it runs in the runner's process; docs/security.md, Limits;
tests/eval/test_verdict_token.py keeps the attack as a test that succeeds).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import time

# Modules HumanEval-style programs import, loaded once here so each forked child starts warm.
PRELOAD = ("typing", "math", "re", "string", "collections", "itertools", "functools", "heapq", "bisect", "hashlib",
           "random", "fractions", "decimal", "statistics", "copy", "operator", "datetime", "json")

_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 38, 22, 2
HEADER = struct.Struct("!I")
READY, VERDICT_MAX = b"R", 4096  # the child's "check() returned"; how much of what it writes is kept


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


# Per machine: audit arch, x32 bit or 0, the process-creating syscalls (fork, vfork; clone is checked for
# CLONE_THREAD, clone3 gets ENOSYS), syscalls always refused, and syscalls whose pid-like arguments (by index)
# must be 0 (the caller itself) so that a program cannot change the fork server's rlimits, priority or CPUs.
_ARCHES = {
    "x86_64": {
        "arch": 0xC000003E,
        "x32": 0x40000000,
        "forks": (57, 58),
        "clone": 56,
        "clone3": 435,
        # ptrace, process_vm_readv/writev, SysV shm/sem/msg, POSIX mqueues, keyrings, ioprio_set
        "denied": (101, 310, 311, 29, 30, 31, 64, 65, 66, 220, 68, 69, 70, 71, 240, 241, 248, 249, 250, 251),
        # prlimit64, sched_setaffinity/setscheduler/setparam/setattr, setpriority(PRIO_PROCESS, 0)
        "self_only": ((302, (0,)), (203, (0,)), (144, (0,)), (142, (0,)), (314, (0,)), (141, (0, 1))),
    },
    "aarch64": {
        "arch": 0xC00000B7,
        "x32": 0,
        "forks": (),
        "clone": 220,
        "clone3": 435,
        "denied": (117, 270, 271, *range(186, 197), 180, 181, 217, 218, 219, 30),  # 186-196: SysV IPC
        "self_only": ((261, (0,)), (122, (0,)), (119, (0,)), (118, (0,)), (274, (0,)), (140, (0, 1))),
    },
}
_LD, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL, _EPERM, _ENOSYS = 0x7FFF0000, 0x80000000, 0x00050000 | 1, 0x00050000 | 38


def _self_only_rule(nr: int, args: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """BPF: for syscall `nr`, EPERM unless every listed 64-bit argument is 0; other syscalls fall through."""
    body: list[tuple[int, int, int, int]] = []
    for i in args:
        for off in (16 + 8 * i, 20 + 8 * i):  # low, then high 32 bits of args[i]
            body += [(_LD, 0, 0, off), (_JEQ, 1, 0, 0), (_RET, 0, 0, _EPERM)]
    body.append((_RET, 0, 0, _ALLOW))
    return [(_LD, 0, 0, 0), (_JEQ, 0, len(body), nr), *body]


def _seccomp_program(no_fork: bool = True) -> list[tuple[int, int, int, int]]:
    """BPF refusing new processes when `no_fork` (threads stay allowed), and always ptrace, cross-process
    memory access, SysV IPC, POSIX message queues, keyrings and changing another process's limits."""
    a = _ARCHES[os.uname().machine]
    prog = [(_LD, 0, 0, 4), (_JEQ, 1, 0, a["arch"]), (_RET, 0, 0, _KILL), (_LD, 0, 0, 0)]
    if a["x32"]:
        prog += [(_JGE, 0, 1, a["x32"]), (_RET, 0, 0, _EPERM)]
    if no_fork:
        prog += [(_JEQ, 0, 1, a["clone3"]), (_RET, 0, 0, _ENOSYS)]  # libc falls back to clone(), checked below
    for nr in (*a["denied"], *(a["forks"] if no_fork else ())):
        prog += [(_JEQ, 0, 1, nr), (_RET, 0, 0, _EPERM)]
    for nr, args in a["self_only"]:
        prog += _self_only_rule(nr, args)
    if no_fork:
        prog += [(_LD, 0, 0, 0), (_JEQ, 0, 3, a["clone"]), (_LD, 0, 0, 16)]
        prog += [(_JSET, 1, 0, 0x00010000), (_RET, 0, 0, _EPERM)]  # clone without CLONE_THREAD
    prog += [(_RET, 0, 0, _ALLOW)]
    return prog


def install_no_fork_filter(no_fork: bool = True) -> None:
    """Install the seccomp filter in the calling process; raise OSError when the kernel refuses."""
    prog = _seccomp_program(no_fork)
    arr = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), arr)
    if _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if _LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def read_message(fd: int) -> dict | None:
    """One length-prefixed JSON message from `fd`, or None at end of file."""
    if (head := _read_exact(fd, HEADER.size)) is None:
        return None
    body = _read_exact(fd, HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def write_message(fd: int, message: dict) -> None:
    """Write one length-prefixed JSON message to `fd`."""
    body = json.dumps(message).encode()
    data = HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _set_limits(cfg: dict, timeout: float) -> None:
    mb = 1024 * 1024
    limits = [
        (resource.RLIMIT_CPU, math.ceil(timeout) + 1),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_AS, cfg["memory_mb"] * mb),
        (resource.RLIMIT_FSIZE, cfg["file_size_mb"] * mb),
        (resource.RLIMIT_NOFILE, cfg["open_files"]),
        (resource.RLIMIT_NPROC, cfg["max_processes"]),
    ]
    for which, value in limits:
        resource.setrlimit(which, (value, value))


def _child(cfg: dict, program: str, timeout: float, workdir: str, chan: int) -> None:
    """Run one program in the forked child and report through the socket `chan`; never returns."""
    # Bind everything the verdict needs now: the program may patch builtins and modules afterwards.
    _read, _write, _exit, _exec, _compile = os.read, os.write, os._exit, exec, compile
    _type, _base, _isinstance, _str, _blocking = type, BaseException, isinstance, str, os.set_blocking
    try:
        os.setsid()
        # Move the verdict socket to an unpredictable descriptor number and close everything else.
        high = 40 + int.from_bytes(os.urandom(2), "little") % 800
        os.dup2(chan, high)
        chan = high
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, high)
        os.closerange(high + 1, 65536)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update({"HOME": workdir, "TMPDIR": workdir, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the server (pid 1) ignores SIGINT
        _set_limits(cfg, timeout)
        if os.uname().machine in _ARCHES:
            install_no_fork_filter(not cfg["allow_subprocesses"])
    except _base as exc:  # set-up failed: report it as the harness's fault, not the sample's
        _write(chan, b"S:" + _type(exc).__name__.encode()[:64])
        _exit(3)
    try:
        _exec(_compile(program, "<sample>", "exec"), {})
    except _base as exc:
        name = _type(exc).__name__
        _write(chan, b"E:" + (_str.encode(name, "utf-8", "replace")[:64] if _isinstance(name, _str) else b"?"))
        _exit(1)
    try:  # check() returned: only now does the server send the token (the known limit: see the docstring)
        _blocking(chan, True)  # the program may have made it non-blocking
        _write(chan, READY)
        _write(chan, _read(chan, 64))
    except _base:
        _exit(4)
    _exit(0)


def _converse(pid: int, chan: int, token: bytes, timeout: float) -> tuple[int | None, bool, bytes]:
    """Wait for `pid` up to `timeout` s while reading its socket; answer its READY with the token (only if
    READY is all it wrote). Return (wait status or None, timed out, its first VERDICT_MAX bytes)."""
    deadline = time.monotonic() + timeout
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # kernels before 5.3: poll instead
        pidfd = None
    got, answered, open_chan, status = b"", False, True, None
    try:
        while status is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return _kill_and_reap(pid), True, got
            fds = ([chan] if open_chan else []) + ([pidfd] if pidfd is not None else [])
            ready = select.select(fds, [], [], left if pidfd is not None else min(left, 0.002))[0]
            if chan in ready:
                data = _recv(chan)
                open_chan = bool(data)
                got = (got + data)[:VERDICT_MAX]
                if not answered and got.endswith(READY):
                    answered = True
                    _send(chan, token if got == READY else b"-")
            if pidfd in ready:
                status = os.waitpid(pid, 0)[1]
            elif pidfd is None and (done := os.waitpid(pid, os.WNOHANG))[0]:
                status = done[1]
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return status, False, got + _drain(chan, VERDICT_MAX - len(got))


def _send(chan: int, data: bytes) -> None:
    """Answer the child; it may already be gone (killed), which is not the server's problem."""
    with contextlib.suppress(OSError):
        os.write(chan, data)


def _recv(chan: int) -> bytes:
    """One read from the child's socket; b"" at its end, when nothing is there, or when the child reset it."""
    try:
        return os.read(chan, 65536)
    except OSError:
        return b""


def _drain(chan: int, limit: int) -> bytes:
    """What is left in the socket once the child has exited, without blocking (at most `limit` bytes)."""
    os.set_blocking(chan, False)
    return _recv(chan)[: max(limit, 0)]


def _kill_and_reap(pid: int) -> int:
    """SIGKILL the child's process group (and the child itself, in case it had not called setsid yet)."""
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _classify(status: int | None, timed_out: bool, verdict: bytes, token: bytes) -> str:
    if timed_out:
        return "timed out"
    if status is not None and os.WIFSIGNALED(status):
        return "killed: " + signal.Signals(os.WTERMSIG(status)).name
    code = os.WEXITSTATUS(status) if status is not None else -1
    if code == 0 and verdict == READY + token:
        return "passed"
    if code == 1 and verdict.startswith(b"E:"):
        name = verdict[2:].decode("ascii", "replace")
        return "failed: " + ("".join(c for c in name if c.isalnum() or c == "_") or "Exception")
    if code == 3 and verdict.startswith(b"S:"):
        return "killed: sandbox set-up failed (" + verdict[2:].decode("ascii", "replace") + ")"
    if verdict and code == 0:
        return "killed: forged verdict"
    return f"killed: exit code {code} without a verdict"


def _server_state(cfg: dict) -> tuple:
    """What a program could change in this server from outside it (rlimits, priority, CPUs, scheduler) and
    the SysV IPC objects of the sandbox: compared after every program, a difference taints the worker."""
    limits = tuple(resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_"))
    ipc = []
    for kind in ("shm", "sem", "msg") if cfg["pid_namespace"] else ():  # without bwrap they are the host's
        try:
            with open(f"/proc/sysvipc/{kind}", "rb") as f:
                ipc.append(f.read().count(b"\n"))
        except OSError:
            ipc.append(-1)
    sched = (os.sched_getaffinity(0), os.sched_getscheduler(0)) if hasattr(os, "sched_getaffinity") else ()
    return limits, os.getpriority(os.PRIO_PROCESS, 0), sched, tuple(ipc)


def _reap_all() -> None:
    """As PID 1 of the sandbox, collect every orphan the kill-all left (they were all sent SIGKILL)."""
    while True:
        try:
            os.waitpid(-1, 0)  # PEP 475 retries on EINTR
        except ChildProcessError:
            return


def _cleanup(cfg: dict, workdir: str) -> bool:
    """Kill whatever the program left behind and wipe its files; True if the worker stays clean."""
    if cfg["pid_namespace"]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # every process in this PID namespace except init and this server
        if os.getpid() == 1:
            _reap_all()
    try:
        shutil.rmtree(workdir, ignore_errors=True)
    except RecursionError:  # absurdly deep directories: leave them, the worker is replaced
        return False
    leftovers = [
        os.path.join(d, n)
        for d in cfg["scratch_dirs"]
        if os.path.isdir(d)
        for n in os.listdir(d)
        if os.path.join(d, n) not in cfg["preexisting"]
    ]
    return not leftovers and not os.path.exists(workdir) and _server_state(cfg) == cfg["state"]


def run_one(cfg: dict, job: dict, seq: int) -> dict:
    """Fork a child for one program, time it out, classify the result and clean up after it."""
    timeout = float(job["timeout"])
    workdir = os.path.join(cfg["work_root"], f"w{seq}")
    os.mkdir(workdir, 0o700)
    chan, child_chan = socket.socketpair()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        chan.close()
        _child(cfg, job["program"], timeout, workdir, child_chan.detach())
    child_chan.close()
    # The token is born after the fork and is sent only once the child writes R (after check() returns, or a
    # program that writes R itself: the known limit in the module docstring); no copy exists in the child before.
    token = os.urandom(16).hex().encode()
    try:
        status, timed_out, verdict = _converse(pid, chan.fileno(), token, timeout)
    finally:
        chan.close()
    duration = time.monotonic() - start
    result = _classify(status, timed_out, verdict, token)
    clean = _cleanup(cfg, workdir)
    return {
        "id": job["id"],
        "result": result,
        "duration_s": duration,
        "tainted": not clean or not (result == "passed" or result.startswith("failed: ")),
    }


def _capability_problem(cfg: dict) -> str | None:
    """In a bwrap sandbox the server must hold no capabilities (else a program could remount, reach other
    processes' /proc entries or memory); say why not, or None."""
    if not cfg["pid_namespace"]:
        return None
    with open("/proc/self/status", encoding="ascii") as f:
        eff = next((line.split()[1] for line in f if line.startswith("CapEff:")), "0")
    return None if int(eff, 16) == 0 else f"the sandbox still holds capabilities (CapEff {eff})"


def serve(cfg: dict) -> None:
    """Answer jobs from stdin until it closes."""
    _LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # children cannot ptrace us or read our memory
    sys.path[:0] = cfg.get("python_path", [])
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    os.makedirs(cfg["work_root"], exist_ok=True)
    # Entries present before any program ran (e.g. mount points of extra read-only folders) are not litter.
    cfg["preexisting"] = {
        os.path.join(d, n) for d in cfg["scratch_dirs"] if os.path.isdir(d) for n in os.listdir(d)
    }
    ctrl_in, ctrl_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    if not cfg["allow_subprocesses"] and os.uname().machine not in _ARCHES:
        write_message(
            ctrl_out, {"ready": False, "error": f"no seccomp no-fork filter for {os.uname().machine}"}
        )
        return
    problem = _capability_problem(cfg)
    if problem:
        write_message(ctrl_out, {"ready": False, "error": problem})
        return
    if os.getpid() == 1:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # PID 1 ignores default-action signals from inside
    cfg["state"] = _server_state(cfg)
    write_message(ctrl_out, {"ready": True, "pid": os.getpid()})
    seq = 0
    while (job := read_message(ctrl_in)) is not None:
        seq += 1
        write_message(ctrl_out, run_one(cfg, job, seq))


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
