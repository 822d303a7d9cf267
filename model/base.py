"""The engine interface every model backend implements."""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class EngineError(RuntimeError):
    """A model backend failed or is misconfigured; the message says what to do."""


class Cancelled(EngineError):
    """Generation was stopped because the caller cancelled it."""


class Segment(NamedTuple):
    """A piece of a prompt: a template sentinel (`special`, one control token) or text tokenized as plain text."""

    text: str
    special: bool = False


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt as segments, so user text can never be parsed into control tokens."""

    segments: tuple[Segment, ...] = ()
    # the user segment that ends at the editor's cursor, where generation continues (token healing backs up over
    # its last token); None when no segment ends there (chat prompts, templates that pad the prefix). Not part of
    # equality: prompts that differ only here are the same text (no cache keys on Prompt)
    cursor: int | None = field(default=None, compare=False)

    @classmethod
    def plain(cls, text: str) -> Prompt:
        """A prompt that is all user text (no sentinels)."""
        return cls((Segment(text, False),) if text else ())

    @classmethod
    def of(cls, parts: Iterable[Segment | tuple[str, bool]]) -> Prompt:
        """A prompt from `(text, special)` parts; empty user text is dropped and neighbouring user texts merged."""
        out: list[Segment] = []
        for text, special in parts:
            if not text:
                continue
            if not special and out and not out[-1].special:
                out[-1] = Segment(out[-1].text + text, False)
            else:
                out.append(Segment(text, bool(special)))
        return cls(tuple(out))

    def marked(self, mark: str) -> Prompt:
        """This prompt without `mark`, which a template rendered at the cursor: `cursor` names the user segment it
        ended (None when it sat inside a segment or ended an empty one)."""
        segments, cursor = [], None
        for segment in self.segments:
            if segment.special or mark not in segment.text:
                segments.append(segment)
                continue
            text = segment.text.replace(mark, "")
            if text:
                if segment.text.endswith(mark):
                    cursor = len(segments)
                segments.append(Segment(text, False))
        return Prompt(tuple(segments), cursor)

    @property
    def text(self) -> str:
        """The plain concatenated text (what a user sees in stats and --json)."""
        return "".join(seg.text for seg in self.segments)

    @property
    def sentinels(self) -> tuple[str, ...]:
        """The texts of the special segments, in order."""
        return tuple(seg.text for seg in self.segments if seg.special)


PromptLike = Prompt | str  # a plain str is all user text: the safe default


def as_prompt(prompt: PromptLike) -> Prompt:
    """`prompt` as a Prompt; a str becomes all user text (specials off)."""
    return prompt if isinstance(prompt, Prompt) else Prompt.plain(prompt)


def sentinel_id(specials: Mapping[str, int], text: str) -> int:
    """The one special token id of a template sentinel in a vocabulary's `specials` (text -> id); sentencepiece
    vocabularies may spell it with a leading `▁` or space. EngineError when the vocabulary lacks it."""
    for candidate in (text, f"▁{text}", f" {text}"):
        if candidate in specials:
            return specials[candidate]
    raise EngineError(f"the model's vocabulary has no special token {text!r}, which the prompt template needs; "
                      "choose the template of this model's family ([engine] template, --template) or 'prefix'")


def encode_segments(prompt: PromptLike, encode_text: Callable[[str], list[int]],
                    specials: Mapping[str, int]) -> list[int]:
    """Token ids of a prompt's segments (no BOS): user text (all of a str) through `encode_text` with specials
    off, each sentinel as its one special token."""
    ids: list[int] = []
    for segment in as_prompt(prompt).segments:
        if segment.special:
            ids.append(sentinel_id(specials, segment.text))
        else:
            ids += encode_text(segment.text)
    return ids


@dataclass(frozen=True)
class SamplingParams:
    """What to sample: n samples per prompt, temperature 0 means greedy."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # token healing: take the last token before the prompt's cursor off and make each sample start with its text
    # (the cut word is completed in the model's own tokens); samples are returned without it. Engines that cannot
    # constrain their first tokens ignore it.
    heal: bool = False


@dataclass(frozen=True)
class Sample:
    """One generated continuation with the sum and count of its tokens' log-probs (temperature 1). With token
    healing the tokens that re-made the healed text count too, though `text` starts after it."""

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
    chat_template: str = ""  # the model's own Jinja chat template (GGUF `tokenizer.chat_template`), if it has one
    n_params: int | None = None  # parameter count (GGUF tensors, the torch model); None when the engine cannot tell


class Engine(abc.ABC):
    """Prompts + sampling params -> n samples per prompt; plus log-prob scoring of a continuation."""

    info: EngineInfo

    @abc.abstractmethod
    def generate(self, prompts: Sequence[PromptLike], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        """Return, for each prompt (a str is all user text), `params.n` samples; Cancelled when `cancel` is set."""

    @abc.abstractmethod
    def score(self, prompt: PromptLike, continuation: str) -> float:
        """Sum of the log-probs of `continuation`'s tokens (plain user text) given `prompt`."""

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` encodes to as plain user text, specials off (for context budgets)."""

    def use_context(self, key: str | None) -> None:
        """Make the next calls run in the model context (KV cache) kept for `key` (the editor: a document's URI),
        keeping the current one for its own key; None: any context. Engines without reusable contexts ignore it."""

    def prefill(self, prompt: PromptLike, cancel: threading.Event | None = None) -> int:
        """Evaluate `prompt` into the current context's KV cache ahead of a request that will extend it; returns
        the tokens evaluated (0 where the engine keeps no cache). Stops early, keeping what it did, on `cancel`."""
        return 0

    def cached_tokens(self, prompt: PromptLike, context: str | None = None) -> tuple[int, int] | None:
        """(tokens of `prompt` the KV cache of `context` (default: the current one) already holds, tokens of
        `prompt`), without switching contexts; None where the engine keeps no cache (remote servers: theirs)."""
        return None

    def warm_healing(self) -> None:
        """Make ready what token healing needs (the llamacpp engine indexes its vocabulary, ~0.8 s), so that the
        first request that heals does not pay for it; engines without healing do nothing."""

    def forget_context(self, key: str) -> None:
        """Drop what is kept for `key` (its document was closed)."""

    def counters(self) -> dict[str, int]:
        """Counts since the engine was made (speculative tokens proposed/accepted, KV reuse), for stats."""
        return {}

    async def agenerate(self, prompts: Sequence[PromptLike], params: SamplingParams,
                        context: str | None = None) -> list[list[Sample]]:
        """`generate` off the event loop, in `context`'s model context (`use_context`); cancelling the awaiting
        task stops the generation between tokens."""
        def run(cancel: threading.Event) -> list[list[Sample]]:
            if context is not None:
                self.use_context(context)
            return self.generate(prompts, params, cancel)

        return await _cancellable(run)

    async def aprefill(self, prompt: PromptLike, context: str | None = None) -> int:
        """`prefill` off the event loop, in `context`'s model context; cancelling stops it between chunks."""
        def run(cancel: threading.Event) -> int:
            if context is not None:
                self.use_context(context)
            return self.prefill(prompt, cancel)

        return await _cancellable(run)

    def close(self) -> None:
        """Release the model's resources."""


async def _cancellable(run: Callable[[threading.Event], T]) -> T:
    """`run(cancel)` in a thread; cancelling the awaiting task sets `cancel` and waits for the thread to stop
    (a model call must not outlive its caller's hold on the engine)."""
    cancel = threading.Event()
    task = asyncio.ensure_future(asyncio.to_thread(run, cancel))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        cancel.set()
        try:
            await task
        except Exception as exc:  # noqa: BLE001 - the caller cancelled; the outcome only matters for the log
            log.debug("cancelled engine call ended with %s: %s", type(exc).__name__, exc)
        raise
