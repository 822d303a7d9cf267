"""Sandbox settings: the `sandbox*` keys of the `[eval]` section (EvalSettings takes these fields from here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SandboxSettings:
    """How generated and user code is isolated when codeward executes it."""

    sandbox: str = field(
        default="auto",
        metadata={
            "help": "Isolation for generated code: bwrap if it works, else a loud fallback (auto); "
            "require bwrap (bwrap); or rlimits only (none)",
            "choices": ("auto", "bwrap", "none"),
        },
    )
    sandbox_memory_mb: int = field(
        default=1024, metadata={"help": "Address-space limit per program process (MiB)", "min": 64}
    )
    sandbox_file_size_mb: int = field(
        default=16, metadata={"help": "Largest file a program may write (MiB)", "min": 0}
    )
    sandbox_tmpfs_mb: int = field(
        default=64,
        metadata={"help": "Size of each private tmpfs in the sandbox (/tmp, /dev/shm) (MiB)", "min": 1},
    )
    sandbox_max_processes: int = field(
        default=32,
        metadata={"help": "RLIMIT_NPROC per program (enforced by the kernel for non-root users)", "min": 1},
    )
    sandbox_open_files: int = field(default=64, metadata={"help": "RLIMIT_NOFILE per program", "min": 8})
    sandbox_allow_subprocesses: bool = field(
        default=False,
        metadata={
            "help": "Let programs fork/spawn processes (off: a seccomp filter refuses fork, vfork, clone)"
        },
    )
    sandbox_python: str = field(
        default="",
        metadata={
            "help": "Interpreter that runs programs (default: the one running codeward; started with -I -S)"
        },
    )
    sandbox_python_path: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Extra folders made visible read-only in the sandbox and put on sys.path "
            "(e.g. a site-packages with numpy, for programs that import it)"
        },
    )
