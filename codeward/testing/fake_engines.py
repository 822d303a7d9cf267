"""Engines for the fault tests, chosen by model name; any other name goes to the real `make_engine`.

`scripted:<JSON list>` answers with those texts (the model is the test double; the safety checks are real), except
that a prompt holding `HANG_MARKER` is never answered until cancelled; `raise` raises inside `generate`, `hang` never
answers until cancelled.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence

from codeward.model.base import Cancelled, Engine, EngineInfo, Sample, SamplingParams
from codeward.model.factory import make_engine
from codeward.model.settings import EngineSettings

HANG_MARKER = "# codeward-test: hang"  # a scripted engine never answers a prompt holding it until cancelled


def _wait_for_cancel(cancel: threading.Event | None) -> None:
    """Block until `cancel` is set (or a minute passes), then raise Cancelled."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        time.sleep(0.02)
    raise Cancelled("gave up")


class _Fake(Engine):
    def __init__(self, name: str) -> None:
        self.info = EngineInfo(engine="fake", model=name)

    def score(self, prompt: str, continuation: str) -> float:
        return 0.0

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1


class ScriptedEngine(_Fake):
    """Answers every prompt with the given texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        super().__init__("scripted")
        self.texts = list(texts)

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        if any(HANG_MARKER in str(getattr(p, "text", p)) for p in prompts):
            _wait_for_cancel(cancel)
        return [[Sample(t, "stop", -1.0, 2) for t in self.texts] for _ in prompts]


class RaisingEngine(_Fake):
    """Fails inside generate with an exception that is not an EngineError."""

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        raise RuntimeError("the model crashed (fault injected by the test)")


class HangingEngine(_Fake):
    """Never answers; stops when cancelled (or after a minute)."""

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        _wait_for_cancel(cancel)
        return []


def factory(settings: EngineSettings) -> Engine:
    """The engine the settings' model name asks for."""
    if settings.model.startswith("scripted:"):
        return ScriptedEngine(json.loads(settings.model[len("scripted:"):]))
    if settings.model == "raise":
        return RaisingEngine("raise")
    if settings.model == "hang":
        return HangingEngine("hang")
    return make_engine(settings)
