"""Sandbox settings: the `sandbox*` keys of the `[eval]` section (EvalSettings takes these fields from here).

Every key is `project: False` (see `codeward.config`): each one either weakens the isolation or chooses what runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SandboxSettings:
    """How generated and user code is isolated when codeward executes it."""

    sandbox: str = field(
        default="auto",
        metadata={
            "help": "Isolation for generated code: bwrap if it works, else eval commands refuse unless "
            "--unsafe-no-sandbox (auto); require bwrap (bwrap); rlimits only, also needing --unsafe-no-sandbox "
            "(none)",
            "choices": ("auto", "bwrap", "none"),
            "tier": "advanced", "project": False,
        },
    )
    sandbox_memory_mb: int = field(
        default=1024,
        metadata={"help": "Address-space limit per program process (MiB)", "min": 64,
                  "tier": "advanced", "project": False},
    )
    sandbox_file_size_mb: int = field(
        default=16,
        metadata={"help": "Largest file a program may write (MiB)", "min": 0, "tier": "advanced", "project": False},
    )
    sandbox_tmpfs_mb: int = field(
        default=64,
        metadata={"help": "Size of each private tmpfs in the sandbox (/tmp, /dev/shm) (MiB)", "min": 1,
                  "tier": "advanced", "project": False},
    )
    sandbox_max_processes: int = field(
        default=32,
        metadata={"help": "RLIMIT_NPROC per program (enforced by the kernel for non-root users)", "min": 1,
                  "tier": "advanced", "project": False},
    )
    sandbox_open_files: int = field(
        default=64,
        metadata={"help": "RLIMIT_NOFILE per program", "min": 8, "tier": "advanced", "project": False},
    )
    sandbox_allow_subprocesses: bool = field(
        default=False,
        metadata={
            "help": "Let programs fork/spawn processes (off: a seccomp filter refuses fork, vfork, clone)",
            "tier": "advanced", "project": False,
        },
    )
    sandbox_python: str = field(
        default="",
        metadata={
            "help": "Interpreter that runs programs (default: the one running codeward; started with -I -S)",
            "tier": "advanced", "project": False,
        },
    )
    sandbox_python_path: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Extra folders made visible read-only in the sandbox and put on sys.path "
            "(e.g. a site-packages with numpy, for programs that import it)",
            "tier": "advanced", "project": False,
        },
    )
