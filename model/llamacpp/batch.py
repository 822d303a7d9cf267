"""Batched sampling for the llamacpp engine: the samples of a call decode together, one llama.cpp sequence each.

CPU decoding is bound by reading the weights once per step, so a step that carries one token for each of 16
sequences costs little more than a step with one. A prompt is prefilled once, in its home sequence; its other
samples share that KV (`llama_memory_seq_cp` in a unified KV cache tags the same cells, it copies no data). Each
step is one batch with one token per running sample, and a finished sample's sequence takes the next pending
sample at once (of the same prompt or the next one), so n above MAX_SEQS and several prompts fill the same batches.
Sequence 0 holds the first prompt and mirrors `Llama.input_ids`, so the engine's KV prefix reuse across calls keeps
working; an n=1 call is one sequence decoding one token per step (a greedy call of one prompt may verify
speculative drafts several tokens per step, `speculative`). KV room: the cache's n_ctx cells serve
all sequences together, and a sample starts only when its worst case fits (max_new_tokens cells, plus the prompt's
for a prompt's first sample), so long generations in a small window run fewer samples at a time. Greedy samples are
all the same: one is decoded and copied n times.

Numerics: llama.cpp's CPU kernels give slightly different logits for different batch shapes (quantised
activations, blocked matmuls and attention over a KV view whose size depends on the other sequences), so one
seed reproduces its samples for the same call (prompts, n, params), and a sample's `logprob_sum` equals `score()`
of its text only within `logprob_tolerance` (see there).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codeward.model.base import Cancelled, EngineError, Sample, SamplingParams
from codeward.model.healing import mask, owed
from codeward.model.llamacpp.speculative import Drafter, SpecCounters, speculate
from codeward.model.sampling import log_softmax, sample_seeds
from codeward.model.stops import decode_complete, find_stop

MAX_SEQS = 16  # sequences decoded together: by 8-16 rows a 2-core CPU step is compute-bound, more gains little

PickFn = Callable[[np.ndarray, float, float, np.random.Generator], tuple[int, float]]


def logprob_tolerance(logprob_sum: float) -> float:
    """How far a sample's `logprob_sum` may be from `score()` of its text: the larger of 0.3 nats and 8%.

    score() decodes the text in one batch, a sample was decoded one token per step beside other sequences, and
    the gap grows with the improbable tokens that make |logprob_sum| large. Measured over ~120 samples of 8 tokens
    at temperature 1, n = 4 and 16: SmolLM2 Q4_1 median 0.01 nats, max 0.40; Qwen2.5-Coder-0.5B Q4_K_M median
    0.05, max 0.24; none more than half this tolerance."""
    return max(0.3, 0.08 * abs(logprob_sum))


def open_batch_context(llm: Any, n_seq_max: int) -> None:
    """Recreate `llm`'s context with `n_seq_max` sequences in one unified KV cache (`Llama()` offers neither).

    Unified: the n_ctx cells are shared by every sequence, so a prompt's cells serve all its samples and any one
    sequence may still use the whole window (the interactive path needs that)."""
    from llama_cpp import _internals

    params = llm.context_params
    params.n_seq_max = n_seq_max
    params.kv_unified = True
    context = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
    llm._ctx.close()
    llm._ctx = context
    llm._stack.callback(context.close)  # freed before the model, like the context it replaces


def common_prefix(cached: Sequence[int], tokens: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(cached), len(tokens))
    if n == 0:
        return 0
    diff = np.nonzero(np.asarray(cached[:n]) != np.asarray(tokens[:n]))[0]
    return int(diff[0]) if diff.size else n


def decode_tokens(llm: Any, tokens: Sequence[int], n_vocab: int, n_ctx: int, all_logits: bool = False) -> np.ndarray:
    """Append `tokens` to `llm`'s sequence 0; return logits of the last token (or of every token, 2-D)."""
    if llm.n_tokens + len(tokens) > n_ctx:
        raise EngineError(f"{llm.n_tokens + len(tokens)} tokens exceed the context window n_ctx={n_ctx}; "
                          "raise engine.n_ctx or shorten the text")
    rows = []
    llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
    for start in range(0, len(tokens), llm.n_batch):
        chunk = list(tokens[start:start + llm.n_batch])
        llm._batch.set_batch(batch=chunk, n_past=llm.n_tokens, logits_all=all_logits)
        llm._ctx.decode(llm._batch)
        llm.input_ids[llm.n_tokens:llm.n_tokens + len(chunk)] = chunk
        llm.n_tokens += len(chunk)
        if all_logits:
            flat = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(chunk) * n_vocab,))
            rows.append(flat.reshape(len(chunk), n_vocab).copy())
    if all_logits:
        return np.concatenate(rows)
    return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,)).copy()


def fill_sequence0(llm: Any, tokens: Sequence[int], decode: Callable[[Sequence[int]], np.ndarray]) -> np.ndarray:
    """Make sequence 0 hold exactly `tokens`, reusing the prefix it already holds (at least one token is decoded
    again, for fresh logits) and appending the rest with `decode`; return the last token's logits."""
    common = min(common_prefix(llm.input_ids[:llm.n_tokens], tokens), len(tokens) - 1)
    llm.n_tokens = common
    return decode(tokens[common:])


class KvSequences:
    """llama.cpp calls on several sequences of one context: a batched step, a prefill, copy and drop."""

    def __init__(self, llm: Any, n_vocab: int) -> None:
        from llama_cpp import _internals

        self._llm = llm
        self._n_vocab = n_vocab
        self._batch = _internals.LlamaBatch(n_tokens=max(llm.n_batch, MAX_SEQS), embd=0, n_seq_max=1,
                                            verbose=False)

    def step(self, items: Sequence[tuple[int, int, int]]) -> np.ndarray:
        """Decode one (token, position, sequence) per item; return their logits, one row each.

        A token of sequence 0 is appended to `Llama.input_ids`, which mirrors sequence 0 for the prefix reuse."""
        self._fill(items, all_logits=True)
        self._llm._ctx.decode(self._batch)
        llm = self._llm
        for token, pos, seq in items:
            if seq == 0:
                llm.input_ids[pos] = token
                llm.n_tokens = pos + 1
        flat = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(items) * self._n_vocab,))
        return flat.reshape(len(items), self._n_vocab).copy()

    def prefill(self, seq: int, tokens: Sequence[int], start: int) -> np.ndarray:
        """Decode `tokens` at positions from `start` in sequence `seq` (not 0); return the last token's logits."""
        size = self._llm.n_batch
        for first in range(0, len(tokens), size):
            chunk = tokens[first:first + size]
            self._fill([(t, start + first + i, seq) for i, t in enumerate(chunk)], all_logits=False)
            self._llm._ctx.decode(self._batch)
        return np.ctypeslib.as_array(self._llm._ctx.get_logits_ith(-1), shape=(self._n_vocab,)).copy()

    def _fill(self, items: Sequence[tuple[int, int, int]], all_logits: bool) -> None:
        batch = self._batch.batch
        batch.n_tokens = len(items)
        for i, (token, pos, seq) in enumerate(items):
            batch.token[i], batch.pos[i], batch.seq_id[i][0], batch.n_seq_id[i] = token, pos, seq, 1
            batch.logits[i] = all_logits
        batch.logits[len(items) - 1] = True

    def copy(self, src: int, dst: int, end: int) -> None:
        """Make sequence `dst` share `src`'s cells at positions [0, end)."""
        self._llm._ctx.kv_cache_seq_cp(src, dst, 0, end)

    def drop(self, seq: int, start: int = 0) -> None:
        """Remove sequence `seq`'s cells from position `start` on."""
        self._llm._ctx.kv_cache_seq_rm(seq, start, -1)

    def close(self) -> None:
        """Free the batch buffer."""
        self._batch.close()


@dataclass
class Stream:
    """One sample being decoded: its key (prompt, sample), where it sits in the KV cache, and its text so far."""

    key: tuple[int, int]
    seq: int
    pos: int
    rng: np.random.Generator
    logits: np.ndarray
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    logprob: float = 0.0
    reason: str = ""
    heal: bytes = b""  # the text taken off the prompt (token healing): the sample starts with it, returned without
    raw: bytes = b""  # the bytes of `tokens`

    def sample(self) -> Sample:
        """The finished sample (without the healed text)."""
        return Sample(text=after_heal(self.text, self.heal) or "", finish_reason=self.reason,
                      logprob_sum=self.logprob, n_tokens=len(self.tokens))


def after_heal(text: str, heal: bytes) -> str | None:
    """`text` past the healed text it starts with; None while it has not covered it yet."""
    healed = heal.decode("ascii")  # healable texts are ASCII
    return text[len(healed):] if text.startswith(healed) else None


@dataclass(frozen=True)
class StreamRules:
    """How a stream picks its tokens and when it ends: sampling params, picker, end tokens, detokenizer."""

    params: SamplingParams
    pick: PickFn
    end_tokens: frozenset[int]
    detokenize: Callable[[Sequence[int]], bytes]
    allowed: Callable[[bytes], np.ndarray] | None = None  # token healing: the tokens that agree with owed text

    def advance(self, stream: Stream) -> int | None:
        """Pick the stream's next token; return it when it must be decoded, None when the sample is finished."""
        p = self.params
        due = owed(stream.heal, stream.raw)
        if due and self.allowed is not None:  # only tokens that agree with the healed text; log-prob unmasked
            token, _ = self.pick(mask(stream.logits, self.allowed(due)), p.temperature, p.top_p, stream.rng)
            lp = float(log_softmax(stream.logits)[token])
        else:
            token, lp = self.pick(stream.logits, p.temperature, p.top_p, stream.rng)
        if token in self.end_tokens:
            stream.reason = "stop"
            return None
        stream.tokens.append(token)
        stream.logprob += lp
        stream.raw = self.detokenize(stream.tokens)
        # Bytes of a multi-byte character may be split across tokens: decode the whole list, hold a partial end.
        stream.text = decode_complete(stream.raw)
        body = after_heal(stream.text, stream.heal)  # stops apply to what follows the cursor
        cut = -1 if body is None else find_stop(body, p.stop)
        if cut >= 0:
            stream.text, stream.reason = stream.text[:len(stream.text) - len(body) + cut], "stop"
            return None
        if len(stream.tokens) >= p.max_new_tokens:
            stream.reason = "length"
            return None
        return token


@dataclass
class Loaded:
    """A prompt whose KV sits in its home sequence: its tokens, first logits, and how many streams use it."""

    tokens: list[int]
    home: int
    logits: np.ndarray
    live: int = 0


class Scheduler:
    """One generate call: starts samples in free sequences while the KV budget holds, and steps them together."""

    def __init__(self, kv: KvSequences, llm: Any, prefill0: Callable[[list[int]], np.ndarray],
                 prompts: list[list[int]], rules: StreamRules, n_ctx: int, max_seqs: int = MAX_SEQS,
                 drafter: Drafter | None = None, counters: SpecCounters | None = None,
                 heals: Sequence[bytes] = ()) -> None:
        """`drafter`: speculative decoding for a greedy call of one prompt (see `speculative`); `heals`: per prompt,
        the text token healing took off it (its samples must start with it)."""
        self.kv, self.llm, self.prefill0, self.prompts, self.rules = kv, llm, prefill0, prompts, rules
        self.heals = list(heals) or [b""] * len(prompts)
        self.n_ctx, self.max_seqs = n_ctx, max_seqs
        self.drafter, self.counters = drafter, counters or SpecCounters()
        p = rules.params
        self.n_streams = 1 if p.temperature <= 0.0 else p.n  # greedy samples are all the same: decode one
        self.pending = deque((i, j, seed) for i in range(len(prompts))
                             for j, seed in enumerate(sample_seeds(p.seed, self.n_streams)))
        self.free = set(range(max_seqs))
        self.reserved = [0] * max_seqs  # worst-case KV cells of each sequence; seq 0 keeps its cells for reuse
        self.reserved[0] = llm.n_tokens
        self.loaded: dict[int, Loaded] = {}
        self.running: list[Stream] = []
        self.results: dict[tuple[int, int], Sample] = {}

    def run(self, cancel: threading.Event | None) -> list[list[Sample]]:
        """Decode every sample; n samples per prompt, in order. Cancelled between steps when `cancel` is set."""
        if self.drafter is not None and self.rules.params.temperature <= 0.0 and len(self.prompts) == 1:
            return [[self._speculative(cancel)] * self.rules.params.n]
        try:
            while self.pending or self.running:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("generation cancelled")
                self._admit()
                if not self.running and self.pending:
                    raise RuntimeError("batched sampling admitted no sample although nothing runs (a bug)")
                self._step()
        finally:
            self._release()
        n = self.rules.params.n
        if self.n_streams == 1:
            return [[self.results[(i, 0)]] * n for i in range(len(self.prompts))]
        return [[self.results[(i, j)] for j in range(n)] for i in range(len(self.prompts))]

    def _speculative(self, cancel: threading.Event | None) -> Sample:
        """The greedy sample of the one prompt, in seq 0, verifying drafts in batches."""
        tokens = self.prompts[0]
        try:
            stream = Stream((0, 0), 0, len(tokens), np.random.default_rng(0), self.prefill0(tokens),
                            heal=self.heals[0])
            speculate(stream, tokens, self.rules.advance,
                      lambda batch, pos: self.kv.step([(t, pos + i, 0) for i, t in enumerate(batch)]),
                      lambda pos: self._trim(0, pos), self.drafter, self.rules.params.max_new_tokens, self.n_ctx,
                      self.counters, cancel)
        finally:
            self._release()
        return stream.sample()

    def _admit(self) -> None:
        """Start pending samples, in order, while a sequence is free and the KV cells hold their worst case."""
        max_new = self.rules.params.max_new_tokens
        while self.pending:
            prompt_i, sample_i, seed = self.pending[0]
            loaded = self.loaded.get(prompt_i)
            others = [s for s in self.free if s != 0]
            if loaded is None:  # a new prompt goes home to seq 0 when it can (prefix reuse)
                seq = 0 if 0 in self.free else min(others, default=-1)
                need = len(self.prompts[prompt_i]) + max_new
            else:  # another sample of a loaded prompt shares its home's prompt cells
                seq, need = min(others, default=-1), max_new
            if seq < 0:
                return
            if sum(self.reserved) - self.reserved[seq] + need > self.n_ctx:
                if 0 in self.free and self.reserved[0] and seq != 0:
                    self._reclaim_seq0()
                    continue
                return
            self.pending.popleft()
            self.free.discard(seq)
            self.reserved[seq] = need
            if loaded is None:
                loaded = self.loaded[prompt_i] = self._load(prompt_i, seq)
            else:
                self.kv.copy(loaded.home, seq, len(loaded.tokens))
            loaded.live += 1
            self.running.append(Stream((prompt_i, sample_i), seq, len(loaded.tokens), np.random.default_rng(seed),
                                       loaded.logits, heal=self.heals[prompt_i]))

    def _load(self, prompt_i: int, seq: int) -> Loaded:
        """Prefill a prompt into its home `seq`; off seq 0 it shares the prefix it has in common with seq 0."""
        tokens = self.prompts[prompt_i]
        if seq == 0:
            return Loaded(tokens, 0, self.prefill0(tokens))
        common = common_prefix(self.llm.input_ids[:self.llm.n_tokens], tokens[:-1])  # >= 1 token decoded
        if common:
            self.kv.copy(0, seq, common)
        return Loaded(tokens, seq, self.kv.prefill(seq, tokens[common:], common))

    def _step(self) -> None:
        """Each running stream picks a token; those still going decode theirs together in one batch."""
        going: list[tuple[Stream, int]] = []
        for stream in self.running:
            token = self.rules.advance(stream)
            if token is None:
                self._finish(stream)
            else:
                going.append((stream, token))
        self.running = [stream for stream, _ in going]
        if not going:
            return
        rows = self.kv.step([(token, stream.pos, stream.seq) for stream, token in going])
        for row, (stream, _) in zip(rows, going):
            stream.logits = row
            stream.pos += 1

    def _finish(self, stream: Stream) -> None:
        """Record a finished sample and free what it held: its sequence, its prompt's home once unused."""
        self.results[stream.key] = stream.sample()
        prompt_i = stream.key[0]
        loaded = self.loaded[prompt_i]
        loaded.live -= 1
        more = bool(self.pending) and self.pending[0][0] == prompt_i
        if stream.seq != loaded.home:
            self._free(stream.seq)
        elif more:  # the home keeps only the prompt for the samples still to start
            self._trim(loaded.home, len(loaded.tokens))
        if loaded.live == 0 and not more:
            self._free(loaded.home)
            del self.loaded[prompt_i]

    def _trim(self, seq: int, end: int) -> None:
        """Cut sequence `seq` back to positions [0, end)."""
        self.kv.drop(seq, end)
        self.reserved[seq] = end
        if seq == 0:
            self.llm.n_tokens = end

    def _free(self, seq: int) -> None:
        """Return a sequence to the free set; seq 0 keeps its cells for the next call's prefix reuse."""
        if seq == 0:
            self.reserved[0] = self.llm.n_tokens
        else:
            self.kv.drop(seq)
            self.reserved[seq] = 0
        self.free.add(seq)

    def _reclaim_seq0(self) -> None:
        """Drop the cells a free seq 0 keeps for prefix reuse: the running samples need the room."""
        self._trim(0, 0)

    def _release(self) -> None:
        """Leave the context as the engine expects after any outcome: seq 0 as `input_ids` says, no other seqs."""
        self.kv.drop(0, self.llm.n_tokens)
        for seq in range(1, self.max_seqs):
            self.kv.drop(seq)
