"""A draft model for speculative decoding: a smaller model of the same family (same tokenizer) guesses the next
tokens greedily and the large model verifies them in one batch (`speculative`). Qwen2.5-Coder-0.5B drafting for
1.5B: the draft decodes ~2.5x faster than the model it drafts for on 2 cores."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from codeward.model.base import EngineError
from codeward.model.llamacpp.batch import decode_tokens, fill_sequence0
from codeward.model.llamacpp.load import load_llama
from codeward.model.llamacpp.quantize import llama_model_path

log = logging.getLogger(__name__)
PROBE = "def parse(path: str) -> dict[str, int]:\n    return {k: len(v) for k, v in items}  # ünïcode\n"


class DraftModel:
    """A second llama.cpp model with its own KV cache (the prefix it shares with the last history is reused)."""

    def __init__(self, name: str, model_dir: str, n_ctx: int, n_threads: int, verifier: object,
                 quant: str = "shipped") -> None:
        path = llama_model_path(name, model_dir, quant)
        self._llm = load_llama(path, n_ctx, n_threads, f" (the draft model {name!r}, engine.draft_model)")
        self._n_vocab = self._llm.n_vocab()
        self.n_ctx = n_ctx
        mine = self._llm.tokenize(PROBE.encode(), add_bos=False, special=False)
        theirs = verifier.tokenize(PROBE, bos=False)  # type: ignore[attr-defined]
        if mine != theirs:
            self._llm.close()
            raise EngineError(f"draft model {name!r} does not share the tokenizer of the model it drafts for; "
                              "choose a smaller model of the same family (qwen2.5-coder-0.5b for "
                              "qwen2.5-coder-1.5b) or leave engine.draft_model empty")
        self.name = name

    def __call__(self, history: Sequence[int], limit: int) -> list[int]:
        """Up to `limit` greedy tokens after `history`."""
        if limit <= 0 or len(history) + limit >= self.n_ctx:
            return []
        llm = self._llm
        logits = fill_sequence0(llm, history, lambda t: decode_tokens(llm, t, self._n_vocab, self.n_ctx))
        out: list[int] = []
        while len(out) < limit:
            token = int(np.argmax(logits))
            if llm.token_eos() == token:
                break
            out.append(token)
            if len(out) < limit:
                logits = decode_tokens(llm, [token], self._n_vocab, self.n_ctx)
        return out

    def close(self) -> None:
        self._llm.close()
