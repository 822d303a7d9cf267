"""Speculative greedy decoding: draft a few tokens cheaply, verify them in one batch, keep the agreeing prefix.

Prompt lookup (n-gram) drafting: code completions often repeat text already in the buffer (names, argument lists,
whole lines), so the tokens that followed the last earlier occurrence of the current n-gram are a good guess. The
model verifies the draft in one batch (one weight read for several tokens, which is the cost of a CPU decoding
step); the first token where its own greedy choice differs replaces the draft's, so the output is the model's
greedy output. llama.cpp's kernels give slightly different logits for different batch shapes, so a token can flip
at a near-tie (top two logits within ~0.1); `bench/speculative_agreement.py` measures how often.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from codeward.model.base import Cancelled

NGRAMS = (3, 2)  # n-gram sizes tried, longest first (1-grams match too often to be worth a batch)
MIN_DRAFT, MAX_DRAFT = 1, 8

Drafter = Callable[[Sequence[int], int], list[int]]


def lookup_draft(history: Sequence[int], limit: int, ngrams: Sequence[int] = NGRAMS) -> list[int]:
    """Up to `limit` tokens that followed the most recent earlier occurrence of the last n tokens of `history`
    (longest n first); [] when none occurs."""
    if limit <= 0:
        return []
    h = np.asarray(history, dtype=np.int64)
    for n in ngrams:
        if len(h) <= n:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(h[:-1], n)  # every n-gram but the last one
        hits = np.nonzero((windows == h[-n:]).all(axis=1))[0]
        if hits.size:
            start = int(hits[-1]) + n
            return h[start:start + limit].tolist()
    return []


def combined_drafter(model: Drafter) -> Drafter:
    """Prompt lookup first (free), else the draft `model`."""
    def draft(history: Sequence[int], limit: int) -> list[int]:
        return lookup_draft(history, limit) or model(history, limit)
    return draft


@dataclass
class SpecCounters:
    """Drafted and accepted tokens since the engine was made, and the steps that verified a draft."""

    proposed: int = 0
    accepted: int = 0
    steps: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"spec_proposed": self.proposed, "spec_accepted": self.accepted, "spec_steps": self.steps}


class DraftLength:
    """How many tokens to draft next: doubles after a fully accepted draft, halves after a rejected one, so a run
    of misses costs one-token batches and a repeated block is copied in long ones."""

    def __init__(self, start: int = 4, low: int = MIN_DRAFT, high: int = MAX_DRAFT) -> None:
        self.value, self.low, self.high = start, low, high

    def update(self, drafted: int, accepted: int) -> None:
        if not drafted:
            return
        if accepted == drafted:
            self.value = min(self.high, self.value * 2)
        else:
            self.value = max(self.low, self.value // 2)


class Stream(Protocol):
    """What the speculative loop needs of a decoding stream (batch.Stream)."""

    tokens: list[int]
    pos: int
    logits: np.ndarray


def speculate(stream: Stream, prompt: Sequence[int], advance: Callable[[Stream], int | None],
              step: Callable[[list[int], int], np.ndarray], trim: Callable[[int], None], drafter: Drafter,
              max_new: int, room: int, counters: SpecCounters, cancel: threading.Event | None) -> None:
    """Greedy-decode `stream` (whose logits follow `prompt`) to its end, verifying drafts in batches.

    `advance` picks the next token (None: the sample ended), `step(tokens, pos)` decodes tokens at positions from
    `pos` and returns one logits row each, `trim(pos)` drops the cells from `pos` on, `room` is the last usable
    position + 1 (the context window)."""
    length = DraftLength()
    pending = advance(stream)
    while pending is not None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("generation cancelled")
        limit = min(length.value, max_new - len(stream.tokens) - 1, room - stream.pos - 1)
        draft = drafter([*prompt, *stream.tokens], limit) if limit > 0 else []
        rows = step([pending, *draft], stream.pos)
        stream.logits, stream.pos = rows[0], stream.pos + 1
        pending = advance(stream)
        accepted = 0
        for i, token in enumerate(draft):
            if pending != token:
                break
            accepted += 1  # the draft token's cells are already in place
            stream.logits, stream.pos = rows[i + 1], stream.pos + 1
            pending = advance(stream)
        if draft:
            counters.proposed += len(draft)
            counters.accepted += accepted
            counters.steps += 1
            length.update(len(draft), accepted)
            if accepted < len(draft):
                trim(stream.pos)  # the rejected draft tokens' cells
