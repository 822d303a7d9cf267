"""Eval settings: the `[eval]` section of codeward's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EvalSettings:
    """Defaults for the offline evaluation commands and the sandbox that executes generated code."""

    temperature: float = field(
        default=0.2,
        metadata={"help": "Sampling temperature of eval runs (the Codex paper's best for pass@1); "
                  "--temperature 0.2,0.8 sweeps", "min": 0.0},
    )
    top_p: float = field(default=0.95, metadata={"help": "Nucleus mass of eval runs", "min": 0.0, "max": 1.0})
    stop_preset: str = field(
        default="codex",
        metadata={"help": "Stop sequences of function-completion runs: codex (the paper's stops at a new "
                  "top-level statement), auto (by mode), none", "choices": ("codex", "auto", "none")},
    )
    max_new_tokens: int = field(
        default=512, metadata={"help": "Most new tokens per eval sample (a whole HumanEval solution)", "min": 1}
    )
    template: str = field(
        default="auto",
        metadata={"help": "Prompt template of eval runs, separate from engine.template; auto = the measured "
                  "default for the model family (FIM for Qwen2.5-Coder: see the README's prompt-style study)"},
    )
    seed: int = field(
        default=0, metadata={"help": "Base sampling seed of eval runs (each task and temperature derives its own)"}
    )
    timeout_s: float = field(
        default=3.0, metadata={"help": "Per-program time limit when executing samples", "min": 0.1}
    )
    workers: int = field(default=0, metadata={"help": "Parallel sandbox workers; 0 = one per core", "min": 0})
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
    bootstrap_samples: int = field(
        default=2000,
        metadata={"help": "Bootstrap resamples over tasks for 95% confidence intervals", "min": 100},
    )
    bootstrap_seed: int = field(default=0, metadata={"help": "Seed of the bootstrap resampling"})
