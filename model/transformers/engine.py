"""The transformers engine: Hugging Face models (or GGUF files, dequantised) on CUDA or the CPU.

Batching: one prefill per distinct prompt (left-padded), its KV cache repeated n times for the n samples. A single
prompt that extends the previous one reuses the previous KV cache, cropped to the common token prefix, like
llama.cpp does, so consecutive keystrokes in the editor cost only their new tokens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from codeward.model.base import (
    Engine,
    EngineError,
    EngineInfo,
    PromptLike,
    Sample,
    SamplingParams,
    as_prompt,
    encode_segments,
    sentinel_id,
)
from codeward.model.registry import model_label, resolve_model_path
from codeward.model.settings import EngineSettings
from codeward.model.transformers import loading as hf_loading
from codeward.model.transformers.decoding import Batch, Decoder, Row, crop_cache, make_generator

log = logging.getLogger(__name__)


@dataclass
class PromptCache:
    """The KV cache of the last single-prompt call and the token ids it holds."""

    ids: list[int]
    cache: Any


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class TransformersEngine(Engine):
    """transformers causal LM behind the Engine interface; safe to call from several threads (one at a time)."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        path = resolve_model_path(settings.model, settings.model_dir)
        self.device = hf_loading.pick_device(settings.device)
        self.dtype = hf_loading.pick_dtype(settings.dtype, self.device)
        if settings.n_threads > 0 and self.device.type == "cpu":
            torch.set_num_threads(settings.n_threads)
        self.tokenizer, self.model = hf_loading.load(path, self.device, self.dtype)
        self._vocab: dict[str, int] = dict(self.tokenizer.get_vocab())
        self._bos = self._encode_text("", special=True)  # what the tokenizer puts around a text: BOS (if any)
        self._decoder = Decoder(self.model, self.tokenizer, hf_loading.eos_ids(self.tokenizer, self.model))
        self._lock = threading.Lock()
        self._prompt_cache: PromptCache | None = None
        self.last_reused = 0  # prompt tokens the last call took from the kept KV cache (for stats and tests)
        name = model_label(settings.model)
        self.info = EngineInfo(engine="transformers", model=name,
                               special_tokens=hf_loading.special_tokens(self.tokenizer),
                               extra={"device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
                                      "path": path, "eos_token": str(self.tokenizer.eos_token or "")},
                               chat_template=str(getattr(self.tokenizer, "chat_template", None) or ""),
                               n_params=sum(p.numel() for p in self.model.parameters()))
        log.info("transformers engine: %s on %s in %s", name, self.device, self.info.extra["dtype"])

    def _encode_text(self, text: str, special: bool = False) -> list[int]:
        """Ids of `text` as plain user text (special-token texts split into ordinary tokens); BOS when `special`."""
        return list(self.tokenizer(text, add_special_tokens=special, split_special_tokens=True)["input_ids"])

    def sentinel_id(self, text: str) -> int:
        """The one special token id of a template sentinel; EngineError when the vocabulary lacks it."""
        return sentinel_id(self._vocab, text)

    def encode(self, prompt: PromptLike, bos: bool = True) -> list[int]:
        """Ids of a prompt: user text (all of a str) with specials off, each sentinel as its special token."""
        return (list(self._bos) if bos else []) + encode_segments(prompt, self._encode_text, self._vocab)

    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` encodes to as plain user text (specials off), without BOS."""
        return len(self._encode_text(text))

    def generate(self, prompts: Sequence[PromptLike], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        """`params.n` samples for each prompt in one batch; Cancelled when `cancel` is set between steps."""
        if not prompts:
            return []
        encoded = [self.encode(p) for p in prompts]
        for prompt, ids in zip(prompts, encoded, strict=True):
            if not ids:
                text = as_prompt(prompt).text[:40]
                raise EngineError(f"prompt {text!r} encodes to no tokens and the model has no BOS token; "
                                  "give at least one character of context")
        with self._lock:
            self._check_open()
            return self._generate_locked(encoded, params, cancel)

    def _generate_locked(self, encoded: list[list[int]], params: SamplingParams,
                         cancel: threading.Event | None) -> list[list[Sample]]:
        single = len(encoded) == 1
        batch = self._prefill_reusing(encoded[0]) if single else self._prefill_fresh(encoded)
        batch = self._decoder.expand(batch, params.n)
        rows = [Row(anchor=ids[-1]) for ids in encoded for _ in range(params.n)]
        generator = make_generator(self.device, params.seed) if params.temperature > 0 else None
        try:
            batch, fed = self._decoder.run(batch, rows, params, cancel, generator)
        except BaseException:
            self._prompt_cache = None  # the cache was mutated mid-way; do not reuse it
            raise
        if single:
            self._keep_cache(batch, encoded[0], fed if params.n == 1 else [])
        return [[rows[i * params.n + j].sample() for j in range(params.n)] for i in range(len(encoded))]

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache()

    def _prefill_fresh(self, encoded: list[list[int]]) -> Batch:
        self._prompt_cache = None  # a multi-prompt batch replaces the single-prompt cache
        self.last_reused = 0
        return self._decoder.prefill(encoded, self._new_cache())

    def _prefill_reusing(self, ids: list[int]) -> Batch:
        """Prefill one prompt, reusing the cached KV of its longest common prefix with the previous prompt."""
        kept = self._prompt_cache
        self._prompt_cache = None
        reuse = common_prefix(kept.ids, ids) if kept is not None else 0
        reuse = min(reuse, len(ids) - 1)  # at least one token must run to produce the next-token logits
        self.last_reused = max(reuse, 0)
        if kept is None or reuse <= 0:
            return self._decoder.prefill([ids], self._new_cache())
        crop_cache(kept.cache, reuse)
        return self._decoder.prefill([ids], kept.cache, cached=reuse)

    def _keep_cache(self, batch: Batch, prompt: list[int], fed: list[int]) -> None:
        """Keep the KV cache of the prompt (plus what row 0 generated, for n = 1) for the next call."""
        cache = batch.cache
        if len(batch.rows) > 1:
            cache.batch_select_indices(torch.tensor([0], device=self.device))
        ids = prompt + fed
        if cache.get_seq_length() != len(ids):
            crop_cache(cache, len(prompt))
            ids = prompt
        self._prompt_cache = PromptCache(ids=ids, cache=cache)

    def score(self, prompt: PromptLike, continuation: str) -> float:
        """Sum of the continuation tokens' log-probs given the prompt, in one forward pass."""
        return float(sum(self.token_logprobs(prompt, continuation)))

    def token_logprobs(self, prompt: PromptLike, continuation: str) -> list[float]:
        """Log-prob of each continuation token (prompt and continuation tokenised separately, as llama.cpp does)."""
        head, tail = self.encode(prompt), self._encode_text(continuation)
        if not head or not tail:
            return []
        ids = torch.tensor([head + tail], device=self.device)
        with self._lock, torch.inference_mode():
            self._check_open()
            logits = self.model(input_ids=ids, use_cache=False).logits[0, len(head) - 1:-1].float()
        chosen = torch.log_softmax(logits, -1).gather(1, ids[0, len(head):, None]).squeeze(1)
        return [float(x) for x in chosen.tolist()]

    def _check_open(self) -> None:
        if self.model is None:
            raise EngineError("the transformers engine was closed; make a new engine to generate again")

    def close(self) -> None:
        """Drop the model (the decoder's reference too) and the kept cache, once no call is running on them."""
        with self._lock:
            self._prompt_cache = None
            self.model = None
            self._decoder.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
