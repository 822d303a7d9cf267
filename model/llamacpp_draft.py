"""A draft model for speculative decoding: a smaller model of the same family (same tokenizer) guesses the next
tokens greedily and the large model verifies them in one batch (`speculative`). Qwen2.5-Coder-0.5B drafting for
1.5B: the draft decodes ~2.5x faster than the model it drafts for on 2 cores."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from codeward.model.base import EngineError
from codeward.model.llamacpp_batch import common_prefix, decode_tokens
from codeward.model.registry import resolve_model_path

log = logging.getLogger(__name__)
PROBE = "def parse(path: str) -> dict[str, int]:\n    return {k: len(v) for k, v in items}  # ünïcode\n"


class DraftModel:
    """A second llama.cpp model with its own KV cache (the prefix it shares with the last history is reused)."""

    def __init__(self, name: str, model_dir: str, n_ctx: int, n_threads: int, verifier: object) -> None:
        import llama_cpp

        path = resolve_model_path(name, model_dir)
        if not Path(path).is_file():
            raise EngineError(f"draft model {name!r} not found ({path}); set engine.draft_model to an installed "
                              "model of the same family (`codeward models`) or leave it empty")
        threads = n_threads or os.cpu_count() or 1
        try:
            self._llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                        n_batch=512, logits_all=False, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise EngineError(f"llama.cpp could not load the draft model {path!r}: {exc}") from exc
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
        common = min(common_prefix(llm.input_ids[:llm.n_tokens], history), len(history) - 1)
        llm.n_tokens = common
        logits = decode_tokens(llm, history[common:], self._n_vocab, self.n_ctx)
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
