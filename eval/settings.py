"""Eval settings: the `[eval]` section of codeward's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from codeward.sandbox.settings import SandboxSettings


@dataclass
class EvalSettings(SandboxSettings):
    """Defaults for the offline evaluation commands; the `sandbox*` keys of `[eval]` come from the sandbox's leaf."""

    temperature: float = field(
        default=0.2,
        metadata={"help": "Sampling temperature of eval runs (the Codex paper's best for pass@1); "
                  "--temperature 0.2,0.8 sweeps", "min": 0.0, "tier": "advanced", "project": True},
    )
    top_p: float = field(default=0.95, metadata={"help": "Nucleus mass of eval runs", "min": 0.0, "max": 1.0,
                         "tier": "advanced", "project": True})
    n: int = field(
        default=1,
        metadata={"help": "Samples per task of eval runs (pass@k is reported for k <= n); -n overrides",
                  "min": 1, "tier": "advanced", "project": True},
    )
    stop_preset: str = field(
        default="codex",
        metadata={"help": "Stop sequences of function-completion runs: codex (the paper's stops at a new "
                  "top-level statement), auto (by mode), none", "choices": ("codex", "auto", "none"),
                  "tier": "advanced", "project": True},
    )
    max_new_tokens: int = field(
        default=512, metadata={"help": "Most new tokens per eval sample (a whole HumanEval solution)", "min": 1,
                               "tier": "advanced", "project": True}
    )
    template: str = field(
        default="auto",
        metadata={"help": "Prompt template of eval runs, separate from engine.template; auto = the measured "
                  "default for the model family (FIM for Qwen2.5-Coder: see docs/benchmarks.md#prompt-style)",
                  "tier": "advanced", "project": True},
    )
    seed: int = field(
        default=0, metadata={"help": "Base sampling seed of eval runs (each task and temperature derives its own)",
                             "tier": "advanced", "project": True}
    )
    timeout_s: float = field(
        default=3.0, metadata={"help": "Per-program time limit when executing samples", "min": 0.1,
                               "tier": "advanced", "project": False}
    )
    workers: int = field(default=0, metadata={"help": "Parallel sandbox workers; 0 = one per core", "min": 0,
                         "tier": "advanced", "project": True})
    bootstrap_samples: int = field(
        default=2000,
        metadata={"help": "Bootstrap resamples over tasks for 95% confidence intervals", "min": 100,
                  "tier": "advanced", "project": True},
    )
    bootstrap_seed: int = field(default=0, metadata={"help": "Seed of the bootstrap resampling",
                                "tier": "advanced", "project": True})
