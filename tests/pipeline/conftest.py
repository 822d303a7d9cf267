"""Shared helpers for the pipeline tests: cursor-marked documents and a scripted engine."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

import pytest

from codeward.completion.text import Cursor, locate
from codeward.model.base import Engine, EngineInfo, Sample, SamplingParams

MARK = "║"


def unmark(marked: str) -> tuple[str, Cursor]:
    """The text without the cursor mark, and the cursor where the mark was."""
    assert marked.count(MARK) == 1, "a golden case marks exactly one cursor"
    offset = marked.index(MARK)
    text = marked.replace(MARK, "")
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return text, locate(text, line, column, "code-point")


def word_count(text: str) -> int:
    """A deterministic stand-in tokenizer for budget tests: words and newlines."""
    return len(re.findall(r"\S+|\n", text))


class ScriptedEngine(Engine):
    """Returns the given sample texts in order for every prompt; records the prompts and params it got."""

    def __init__(self, texts: Sequence[str], finish_reason: str = "stop") -> None:
        self.texts = list(texts)
        self.finish_reason = finish_reason  # "length": every sample was cut by the token limit
        self.info = EngineInfo(engine="scripted", model="scripted")
        self.calls: list[tuple[list[str], SamplingParams]] = []

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        self.calls.append((list(prompts), params))
        return [[Sample(t, self.finish_reason, -1.0, 3) for t in self.texts] for _ in prompts]

    def score(self, prompt: str, continuation: str) -> float:
        return -1.0

    def count_tokens(self, text: str) -> int:
        return word_count(text)


@pytest.fixture
def scripted() -> type[ScriptedEngine]:
    return ScriptedEngine
