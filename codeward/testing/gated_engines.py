"""Engine doubles for the completion service's tests, whose orderings the test decides (no sleeps that race)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from codeward.model.base import Engine, EngineInfo, Sample, SamplingParams


class StubbornEngine(Engine):
    """Ignores cancellation for `busy_s` (like a long prefill) and records a close that comes too early."""

    def __init__(self, busy_s: float) -> None:
        self.info = EngineInfo(engine="stubborn", model="stubborn")
        self.busy_s = busy_s
        self.running = threading.Event()
        self.closed_while_running = False

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        self.running.set()
        time.sleep(self.busy_s)
        self.running.clear()
        return [[Sample("x", "stop", 0.0, 1)] for _ in prompts]

    def score(self, prompt: str, continuation: str) -> float:
        return 0.0

    def count_tokens(self, text: str) -> int:
        return len(text)

    def close(self) -> None:
        self.closed_while_running = self.running.is_set()


class GatedEngine(StubbornEngine):
    """Answers `answer` once `gate` is set (the test decides when); counts its calls and the cancelled ones."""

    def __init__(self, answer: str) -> None:
        super().__init__(0.0)
        self.answer = answer
        self.gate = threading.Event()
        self.calls = 0
        self.cancelled = 0

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        self.calls += 1
        self.running.set()
        while not self.gate.wait(0.005):
            if cancel is not None and cancel.is_set():
                self.cancelled += 1
                self.running.clear()
                raise RuntimeError("cancelled")
        self.running.clear()
        return [[Sample(self.answer, "stop", 0.0, 3)] for _ in prompts]


async def until_running(engine: GatedEngine) -> None:
    """Return once `engine` is generating."""
    while not engine.running.is_set():
        await asyncio.sleep(0.005)
