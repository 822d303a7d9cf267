"""The llamacpp engine: GGUF models in-process through llama-cpp-python, KV cache reused across calls.

Sampling runs here (not in llama.cpp's sampler chain) so that every sample carries the raw log-prob of its tokens,
honours a seed per sample, and can be cancelled between tokens. The samples of a call decode together, one llama.cpp
sequence each (`batch`); sequence 0 is the one whose KV prefix is reused across calls.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Sequence

import numpy as np

from codeward.model.base import (
    Cancelled,
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
from codeward.model.healing import HealIndex, split_heal
from codeward.model.llamacpp.batch import (
    MAX_SEQS,
    KvSequences,
    Scheduler,
    StreamRules,
    common_prefix,
    decode_tokens,
    fill_sequence0,
    open_batch_context,
)
from codeward.model.llamacpp.contexts import ContextCache
from codeward.model.llamacpp.draft import DraftModel
from codeward.model.llamacpp.load import load_llama
from codeward.model.llamacpp.quantize import llama_model_path
from codeward.model.llamacpp.speculative import Drafter, SpecCounters, combined_drafter, lookup_draft
from codeward.model.registry import model_label
from codeward.model.sampling import log_softmax, pick_token
from codeward.model.settings import EngineSettings

log = logging.getLogger(__name__)
PREFILL_CHUNK = 16  # tokens per decode in a background prefill: a request waits ~0.2 s at most (0.5B, 2 cores)
PROMPT_CHUNK = 64  # tokens per decode of a request's prompt: the most a superseded request makes the next one wait


class LlamaCppEngine(Engine):
    """One `llama_cpp.Llama` context; calls are serialised by a lock (one context holds one KV cache)."""

    def __init__(self, settings: EngineSettings) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise EngineError("llama-cpp-python is not installed; run `make install` "
                              "or `pip install llama-cpp-python`") from exc
        path = llama_model_path(settings.model, settings.model_dir, settings.quant)
        self._llm = load_llama(path, settings.n_ctx, settings.n_threads, " (--model, engine.model)")
        threads = self._llm.n_threads
        self._lock = threading.Lock()
        self._closed = False
        self._n_vocab = self._llm.n_vocab()
        try:
            open_batch_context(self._llm, MAX_SEQS)
        except ValueError as exc:
            self._llm.close()
            raise EngineError(f"llama.cpp could not make a context of {MAX_SEQS} sequences and n_ctx="
                              f"{settings.n_ctx} for {path!r}: {exc}; lower engine.n_ctx") from exc
        self._kv = KvSequences(self._llm, self._n_vocab)
        self._contexts = ContextCache(self._llm, settings.kv_cache_mb * 1024 * 1024)
        self._spec = SpecCounters()
        self._prefilled = 0
        self._pieces: dict[int, bytes] = {}
        self._healing: HealIndex | None = None
        self.n_ctx = settings.n_ctx
        self._special_ids, specials, self._end_tokens, self._control_ids = self._scan_vocab()
        self.info = EngineInfo(engine="llamacpp", model=model_label(settings.model), special_tokens=specials,
                               extra={"path": path, "threads": str(threads), "eos_token": self._eos_text()},
                               chat_template=self._llm.metadata.get("tokenizer.chat_template", ""),
                               n_params=int(llama_cpp.llama_model_n_params(self._llm.model)))
        self._draft_model: DraftModel | None = None
        lookup = settings.speculative == "lookup"
        self._drafter: Drafter | None = lookup_draft if lookup else None
        if settings.draft_model:
            try:
                self._draft_model = DraftModel(settings.draft_model, settings.model_dir, settings.n_ctx,
                                               settings.n_threads, self, settings.quant)
            except EngineError:
                self._kv.close()
                self._llm.close()
                raise
            self._drafter = combined_drafter(self._draft_model) if lookup else self._draft_model

    def _eos_text(self) -> str:
        """The end-of-sequence token's text (chat templates may name it), empty when the model has none."""
        eos = self._llm.token_eos()
        if eos < 0:
            return ""
        return self._llm.detokenize([eos], special=True).decode("utf-8", errors="replace")

    def _scan_vocab(self) -> tuple[dict[str, int], frozenset[str], frozenset[int], frozenset[int]]:
        """Special token ids by text, control tokens' texts (for template detection), end-of-generation ids,
        control token ids."""
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        special = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
        ids: dict[str, int] = {}
        texts, ends, controls = set(), {self._llm.token_eos()}, set()
        for tok in range(self._n_vocab):
            attr = llama_cpp.llama_vocab_get_attr(vocab, tok)
            if attr & special:
                text = self._llm.detokenize([tok], special=True).decode("utf-8", "replace")
                ids.setdefault(text, tok)
                if attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL:
                    texts.add(text)
                    controls.add(tok)
            if llama_cpp.llama_vocab_is_eog(vocab, tok):
                ends.add(tok)
        return ids, frozenset(texts), frozenset(ends), frozenset(controls)

    # --- tokens and the KV cache -------------------------------------------------------------------------------

    def sentinel_id(self, text: str) -> int:
        """The one special token id of a template sentinel; EngineError when the vocabulary lacks it."""
        return sentinel_id(self._special_ids, text)

    def tokenize(self, prompt: PromptLike, bos: bool) -> list[int]:
        """Token ids of a prompt: user text (all of a str) with specials off, each sentinel as its special token."""
        self._check_open()
        tokens: list[int] = self._llm.tokenize(b"", add_bos=True, special=False) if bos else []
        tokens += encode_segments(prompt, self._plain_tokens, self._special_ids)
        if bos and not tokens:  # an empty prompt: start from the model's start (or end-of-text) token
            start = self._llm.token_bos()
            tokens = [start if start >= 0 else self._llm.token_eos()]
        return tokens

    def _plain_tokens(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` as plain user text (specials off), without BOS."""
        return len(self.tokenize(text, bos=False))

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        """Bytes of `tokens`, special tokens as their text (so template stops such as `<file_sep>` can match).

        Not `Llama.detokenize`: its 32-byte piece buffer returns nothing for longer tokens (deep indentation runs)."""
        return b"".join(self._piece(t) for t in tokens)

    def _piece(self, token: int) -> bytes:
        """Bytes of one token, cached (special tokens as their text)."""
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
            vocab_token = llama_cpp.llama_token(token)
            buffer = (ctypes.c_char * 64)()
            n = llama_cpp.llama_token_to_piece(vocab, vocab_token, buffer, len(buffer), 0, True)
            if n < 0:  # the piece needs -n bytes
                buffer = (ctypes.c_char * -n)()
                n = llama_cpp.llama_token_to_piece(vocab, vocab_token, buffer, len(buffer), 0, True)
            piece = self._pieces[token] = bytes(buffer[:max(n, 0)])
        return piece

    def _decode(self, tokens: Sequence[int], all_logits: bool = False) -> np.ndarray:
        """Append `tokens` to the context; return logits of the last token (or of every token, 2-D)."""
        return decode_tokens(self._llm, tokens, self._n_vocab, self.n_ctx, all_logits)

    def _prefill(self, tokens: list[int], cancel: threading.Event | None = None) -> np.ndarray:
        """Make the context hold exactly `tokens`, reusing the longest common prefix; return the last logits.
        With `cancel`, the prompt is evaluated PROMPT_CHUNK tokens at a time and Cancelled is raised between
        chunks once it is set (what was evaluated stays cached), so that a request that was superseded while its
        prompt is evaluated frees the engine within one chunk, not after the whole prompt."""
        if cancel is None:
            return fill_sequence0(self._llm, tokens, self._decode)

        def decode(rest: Sequence[int]) -> np.ndarray:
            logits = None
            for start in range(0, len(rest), PROMPT_CHUNK):
                if cancel.is_set():
                    raise Cancelled("generation cancelled while its prompt was evaluated")
                logits = self._decode(rest[start:start + PROMPT_CHUNK])
            assert logits is not None  # fill_sequence0 decodes at least one token
            return logits

        return fill_sequence0(self._llm, tokens, decode)

    # --- the Engine interface -------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[PromptLike], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        with self._lock:
            self._check_open()
            tokens, heals = zip(*(self._prompt_tokens(p, params) for p in prompts)) if prompts else ((), ())
            allowed = self._heal_index().allowed if any(heals) else None
            rules = StreamRules(params, pick_token, self._end_tokens, self.detokenize, allowed)
            return Scheduler(self._kv, self._llm, lambda t: self._prefill(t, cancel), list(tokens), rules,
                             self.n_ctx, drafter=self._drafter, counters=self._spec, heals=heals).run(cancel)

    def warm_healing(self) -> None:
        with self._lock:
            self._check_open()
            self._heal_index()

    def _heal_index(self) -> HealIndex:
        """The vocabulary by token text for token healing, made once (Qwen's ~150k pieces: ~0.8 s here). Control
        and end tokens are never allowed; user-defined ones are (plain-text tokenization emits them)."""
        if self._healing is None:
            self._healing = HealIndex([self._piece(t) for t in range(self._n_vocab)],
                                      set(self._control_ids | self._end_tokens))
        return self._healing

    def use_context(self, key: str | None) -> None:
        if key is None:
            return
        with self._lock:
            self._check_open()
            self._contexts.switch(key)

    def cached_tokens(self, prompt: PromptLike, context: str | None = None) -> tuple[int, int]:
        with self._lock:
            self._check_open()
            tokens = self.tokenize(prompt, bos=True)
            held = self._contexts.tokens_of(context)
            return (0 if held is None else common_prefix(held, tokens)), len(tokens)

    def forget_context(self, key: str) -> None:
        """Drop the saved KV state of `key` (its document was closed)."""
        with self._lock:
            self._contexts.forget(key)

    def prefill(self, prompt: PromptLike, cancel: threading.Event | None = None) -> int:
        """Extend the KV cache to hold `prompt`, PREFILL_CHUNK tokens at a time so that a request waiting for
        the engine waits at most one chunk; what was evaluated before a cancel stays cached."""
        with self._lock:
            self._check_open()
            tokens = self.tokenize(prompt, bos=True)[: self.n_ctx - 64]
            llm, done = self._llm, 0
            common = common_prefix(llm.input_ids[:llm.n_tokens], tokens)
            for start in range(common, len(tokens), PREFILL_CHUNK):
                if cancel is not None and cancel.is_set():
                    break  # the cache is cut back only once there is something to put in its place
                llm.n_tokens = start
                chunk = tokens[start:start + PREFILL_CHUNK]
                self._decode(chunk)
                done += len(chunk)
            self._prefilled += done
            return done

    def counters(self) -> dict[str, int]:
        return {**self._spec.as_dict(), **self._contexts.counts, "prefill_tokens": self._prefilled,
                "kv_saved_bytes": self._contexts.saved_bytes}

    def _prompt_tokens(self, prompt: PromptLike, params: SamplingParams) -> tuple[list[int], bytes]:
        """The prompt's tokens (with BOS) and, with `params.heal`, the text token healing took off its end;
        EngineError when they and max_new_tokens overflow the context window."""
        heal = b""
        if params.heal and as_prompt(prompt).cursor is not None:
            self._check_open()
            body, heal = split_heal(prompt, self._plain_tokens, self._special_ids, self._piece)
            tokens = self._llm.tokenize(b"", add_bos=True, special=False) + body
            if not tokens:  # the healed token was all of it: nothing left to continue from
                tokens, heal = self.tokenize(prompt, bos=True), b""
        else:
            tokens = self.tokenize(prompt, bos=True)
        if len(tokens) + params.max_new_tokens > self.n_ctx:
            raise EngineError(f"the prompt has {len(tokens)} tokens; with max_new_tokens="
                              f"{params.max_new_tokens} that exceeds the context window n_ctx={self.n_ctx}: raise "
                              "engine.n_ctx or shorten the prompt")
        return tokens, heal

    def score(self, prompt: PromptLike, continuation: str) -> float:
        with self._lock:
            self._check_open()
            p = self.tokenize(prompt, bos=True)
            c = self.tokenize(continuation, bos=False)
            if not c:
                return 0.0
            first = self._prefill(p)
            total = float(log_softmax(first)[c[0]])
            if len(c) > 1:
                rows = self._decode(c[:-1], all_logits=True)
                for i, tok in enumerate(c[1:]):
                    total += float(log_softmax(rows[i])[tok])
            return total

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("the llamacpp engine was closed; make a new engine to generate again")

    def close(self) -> None:
        """Free the model once no call is running on it (freeing it under a running decode would crash)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._kv.close()
                self._llm.close()
                if self._draft_model is not None:
                    self._draft_model.close()
