"""The engine interface every model backend implements."""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class EngineError(RuntimeError):
    """A model backend failed or is misconfigured; the message says what to do."""


class Cancelled(EngineError):
    """Generation was stopped because the caller cancelled it."""


@dataclass(frozen=True)
class SamplingParams:
    """What to sample: n samples per prompt, temperature 0 means greedy."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class Sample:
    """One generated continuation with the sum and count of its tokens' log-probs (temperature 1)."""

    text: str
    finish_reason: str  # "stop" (a stop sequence or end of text) or "length"
    logprob_sum: float
    n_tokens: int


@dataclass
class EngineInfo:
    """What a caller may want to know about a loaded model (for templates, reports and `doctor`)."""

    engine: str
    model: str
    special_tokens: frozenset[str] = field(default_factory=frozenset)
    extra: dict[str, str] = field(default_factory=dict)


class Engine(abc.ABC):
    """Prompts + sampling params -> n samples per prompt; plus log-prob scoring of a continuation."""

    info: EngineInfo

    @abc.abstractmethod
    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        """Return, for each prompt, `params.n` samples; stop early with Cancelled when `cancel` is set."""

    @abc.abstractmethod
    def score(self, prompt: str, continuation: str) -> float:
        """Sum of the log-probs of `continuation`'s tokens given `prompt`."""

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` encodes to (for context budgets)."""

    async def agenerate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Sample]]:
        """`generate` off the event loop; cancelling the awaiting task stops the generation between tokens."""
        cancel = threading.Event()
        task = asyncio.ensure_future(asyncio.to_thread(self.generate, prompts, params, cancel))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            cancel.set()
            try:
                await task
            except Exception as exc:  # noqa: BLE001 - the caller cancelled; the outcome only matters for the log
                log.debug("cancelled generation ended with %s: %s", type(exc).__name__, exc)
            raise

    def close(self) -> None:
        """Release the model's resources."""
