"""A batched decoding loop over a transformers causal LM: n samples per prompt, per-row stops and log-probs.

Written by hand rather than through `model.generate` so that the log-probs are those of the raw distribution
(temperature 1, before top-p), every row finishes on its own stop string, cancellation is checked between steps,
finished rows leave the batch, and the caller keeps the KV cache for the next, prefix-sharing prompt.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from codeward.model.base import Cancelled, Sample, SamplingParams
from codeward.model.stops import find_stop, strip_partial_char


@dataclass
class Row:
    """One sequence being sampled: its new tokens, their log-probs and decoded text."""

    anchor: int  # the last prompt token: decoding starts from it so a leading space survives
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text: str = ""
    finish: str | None = None

    def sample(self) -> Sample:
        """The row as a Sample; a row still unfinished ran out of tokens."""
        return Sample(text=self.text, finish_reason=self.finish or "length", logprob_sum=float(sum(self.logprobs)),
                      n_tokens=len(self.logprobs))


@dataclass
class Batch:
    """Tensors of the rows still decoding, in batch order, plus the row index of each batch position."""

    logits: torch.Tensor  # [R, vocab] logits for the next token
    mask: torch.Tensor  # [R, T] attention mask over cache + fed tokens
    positions: torch.Tensor  # [R] position id of the next token to feed
    cache: Any
    rows: list[int]


class Decoder:
    """Stateless helpers bound to one model and tokenizer."""

    def __init__(self, model: Any, tokenizer: Any, eos_ids: set[int]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.pad_id = min(eos_ids) if eos_ids else 0
        # transformers 5 renamed the forward argument `past_key_values` to `cache`
        params = inspect.signature(model.forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any) -> Any:
        """One forward pass that extends `cache` in place and returns only the last position's logits."""
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1, **{self.cache_arg: cache})
        return out.logits[:, -1, :]

    def prefill(self, prompts: Sequence[Sequence[int]], cache: Any, cached: int = 0) -> Batch:
        """Run the prompts (left-padded), skipping `cached` tokens already in `cache` (batch of one only)."""
        device = self.model.device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            ids[i, width - len(prompt):] = torch.tensor(list(prompt), dtype=torch.long)
            mask[i, width - len(prompt):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        ids, mask, positions = ids.to(device), mask.to(device), positions.to(device)
        with torch.inference_mode():
            logits = self.forward(ids[:, cached:], mask, positions[:, cached:], cache)
        return Batch(logits=logits, mask=mask, positions=positions[:, -1] + 1, cache=cache,
                     rows=list(range(len(prompts))))

    def expand(self, batch: Batch, n: int) -> Batch:
        """Repeat every prompt's state n times, so one prefill serves n samples."""
        if n == 1:
            return batch
        batch.cache.batch_repeat_interleave(n)
        return Batch(logits=batch.logits.repeat_interleave(n, 0), mask=batch.mask.repeat_interleave(n, 0),
                     positions=batch.positions.repeat_interleave(n, 0), cache=batch.cache,
                     rows=list(range(len(batch.rows) * n)))

    def choose(self, logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None
               ) -> torch.Tensor:
        """Next token per row: argmax at temperature 0, else temperature + top-p sampling."""
        if params.temperature <= 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits.float() / params.temperature, -1)
        if params.top_p < 1.0:
            sorted_p, order = probs.sort(-1, descending=True)
            drop = sorted_p.cumsum(-1) - sorted_p > params.top_p  # keep the smallest set reaching top_p
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    def update(self, row: Row, token: int, logprob: float, stops: tuple[str, ...]) -> None:
        """Append one token to a row and finish it on end-of-text or a stop string.

        Like the llamacpp engine, the log-probs count every generated token except end-of-text, including the
        tokens of a stop string that the returned text leaves out."""
        if token in self.eos_ids:
            row.finish = "stop"
            return
        row.ids.append(token)
        row.logprobs.append(logprob)
        anchor_text = self._decode([row.anchor])
        # a character whose bytes are split across tokens shows as U+FFFD until its last byte arrives
        row.text = strip_partial_char(self._decode([row.anchor, *row.ids])[len(anchor_text):])
        cut = find_stop(row.text, stops)
        if cut >= 0:
            row.text, row.finish = row.text[:cut], "stop"

    def step(self, batch: Batch, tokens: torch.Tensor) -> Batch:
        """Feed the chosen tokens of the rows still active and return the next logits."""
        mask = torch.cat([batch.mask, batch.mask.new_ones((batch.mask.shape[0], 1))], dim=1)
        with torch.inference_mode():
            logits = self.forward(tokens[:, None], mask, batch.positions[:, None], batch.cache)
        return Batch(logits=logits, mask=mask, positions=batch.positions + 1, cache=batch.cache, rows=batch.rows)

    def drop_finished(self, batch: Batch, tokens: torch.Tensor, rows: list[Row]) -> tuple[Batch, torch.Tensor]:
        """Remove finished rows from the batch (and the cache) so they cost nothing further."""
        keep = [i for i, r in enumerate(batch.rows) if rows[r].finish is None]
        if len(keep) == len(batch.rows):
            return batch, tokens
        index = torch.tensor(keep, device=tokens.device)
        batch.cache.batch_select_indices(index)
        return Batch(logits=batch.logits[index], mask=batch.mask[index], positions=batch.positions[index],
                     cache=batch.cache, rows=[batch.rows[i] for i in keep]), tokens[index]

    def run(self, batch: Batch, rows: list[Row], params: SamplingParams,
            cancel: threading.Event | None, generator: torch.Generator | None) -> tuple[Batch, list[int]]:
        """Decode until every row finished or used `max_new_tokens`; return the final batch and tokens fed."""
        fed: list[int] = []  # tokens fed after the prompt, for batch position 0 (the cache-reuse case)
        for step in range(params.max_new_tokens):
            if cancel is not None and cancel.is_set():
                raise Cancelled("generation cancelled")
            tokens = self.choose(batch.logits, params, generator)
            chosen = torch.log_softmax(batch.logits.float(), -1).gather(1, tokens[:, None]).squeeze(1)
            for token, logprob, r in zip(tokens.tolist(), chosen.tolist(), batch.rows, strict=True):
                self.update(rows[r], token, logprob, params.stop)
            if all(row.finish for row in rows) or step == params.max_new_tokens - 1:
                break
            batch, tokens = self.drop_finished(batch, tokens, rows)
            if batch.rows[0] == 0:
                fed.append(int(tokens[0]))
            batch = self.step(batch, tokens)
        return batch, fed


def crop_cache(cache: Any, length: int) -> None:
    """Cut a DynamicCache to its first `length` tokens (a negative count works on transformers 4 and 5)."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


def make_generator(device: torch.device, seed: int | None) -> torch.Generator:
    """A generator on the model's device, seeded when a seed is given."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator
