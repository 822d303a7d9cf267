"""Batched sampling in the llamacpp engine: log-probs against score(), seeds, greedy agreement with unbatched
decoding, n above the sequences of one batch, a tight KV budget, cancellation, and the n=1 prefix reuse."""

from __future__ import annotations

import threading

import pytest

from codeward.model.base import Cancelled, SamplingParams
from codeward.model.llamacpp.batch import MAX_SEQS, logprob_tolerance

PROMPT = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n"
GREEDY_PROMPTS = (
    PROMPT,
    "import os\n\n\ndef list_files(path):\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n",
    "The capital of France is",
    "for i in range(10):\n",
    "# Return the largest element of a list\ndef largest(xs):\n",
    "def fib(n):\n    if n < 2:\n        return n\n",
    "Once upon a time, there was a",
    "import json\n\n\ndef load(path):\n    with open(path) as f:\n",
    "def is_even(n):\n    return",
    "x = [1, 2, 3]\ny = [",
    "# Python program to print Hello World\n",
)


def test_batched_logprob_sum_matches_score(llama_engine):
    samples = llama_engine.generate([PROMPT, "import os\n"], SamplingParams(n=8, temperature=1.0, max_new_tokens=6,
                                                                            seed=5))
    checked = 0
    for prompt, row in zip((PROMPT, "import os\n"), samples):
        for s in row:
            if s.n_tokens == 0 or llama_engine.count_tokens(s.text) != s.n_tokens:
                continue  # the text does not re-tokenise to the sampled tokens: score() would see other tokens
            assert s.logprob_sum == pytest.approx(llama_engine.score(prompt, s.text),
                                                  abs=logprob_tolerance(s.logprob_sum))
            checked += 1
    assert checked >= 8, f"only {checked} of 16 samples round-trip through the tokenizer"


def test_same_seed_reproduces_samples_for_the_same_n(llama_engine):
    params = SamplingParams(n=6, temperature=1.0, max_new_tokens=6, seed=11)
    first = llama_engine.generate([PROMPT], params)[0]
    llama_engine.generate(["something else entirely\n"], SamplingParams(max_new_tokens=2))  # other KV state between
    again = llama_engine.generate([PROMPT], params)[0]
    assert [s.text for s in first] == [s.text for s in again]
    assert [s.logprob_sum for s in first] == pytest.approx([s.logprob_sum for s in again], abs=0.05)
    assert len({s.text for s in first}) > 1, "six samples at temperature 1 should not all be equal"
    other = llama_engine.generate([PROMPT], SamplingParams(n=6, temperature=1.0, max_new_tokens=6, seed=12))[0]
    assert [s.text for s in other] != [s.text for s in first]


def next_token_margin(engine, prompt: str, a: str, b: str) -> float:
    """|log p(a's token) - log p(b's token)| at the first token where the greedy texts a and b part."""
    ta, tb = engine.tokenize(a, bos=False), engine.tokenize(b, bos=False)
    k = next(i for i, (x, y) in enumerate(zip(ta + [-1], tb + [-2])) if x != y)
    head = engine.detokenize(ta[:k]).decode("utf-8", "replace")
    base = engine.score(prompt, head) if head else 0.0
    lp = [engine.score(prompt, engine.detokenize(t[:k + 1]).decode("utf-8", "replace")) - base for t in (ta, tb)
          if len(t) > k]
    return abs(lp[0] - lp[1]) if len(lp) == 2 else 0.0


def test_greedy_batched_agrees_with_unbatched_except_near_ties(llama_engine):
    """llama.cpp's one-token and several-token kernels differ by up to ~0.2 in a logit (SmolLM2; ~0.3 on Qwen):
    enough to flip a near-tie, never a clear choice."""
    greedy = SamplingParams(n=4, temperature=0.0, max_new_tokens=4)
    batched = llama_engine.generate(list(GREEDY_PROMPTS), greedy)  # every prompt in one batch
    assert all(len({s.text for s in row}) == 1 and len(row) == 4 for row in batched)
    alone = [llama_engine.generate([p], SamplingParams(max_new_tokens=4))[0][0] for p in GREEDY_PROMPTS]
    same = [row[0].text == one.text for row, one in zip(batched, alone)]
    agreement = sum(same) / len(same)
    print(f"greedy batched vs unbatched: {sum(same)}/{len(same)} prompts identical ({agreement:.0%})")
    assert agreement >= 0.6
    for prompt, row, one, ok in zip(GREEDY_PROMPTS, batched, alone, same):
        if not ok:
            margin = next_token_margin(llama_engine, prompt, row[0].text, one.text)
            print(f"  {prompt[:24]!r}: {row[0].text!r} vs {one.text!r}, margin {margin:.3f} nats")
            assert margin < 0.5


def test_n_above_the_sequences_of_one_batch(llama_engine):
    n = MAX_SEQS + 5
    rows = llama_engine.generate([PROMPT, "import os\n"], SamplingParams(n=n, temperature=1.0, max_new_tokens=3,
                                                                         seed=2))
    assert [len(row) for row in rows] == [n, n]
    for row in rows:
        assert all(1 <= s.n_tokens <= 3 and s.logprob_sum <= 0.0 for s in row)
        assert all(s.n_tokens == 3 for s in row if s.finish_reason == "length")
        assert len({s.text for s in row}) > 2


def test_a_tight_kv_budget_runs_fewer_samples_at_once():
    from codeward.model.llamacpp.engine import LlamaCppEngine
    from codeward.model.settings import EngineSettings

    engine = LlamaCppEngine(EngineSettings(engine="llamacpp", model="smollm2-135m", n_ctx=256))
    rows_per_step: list[int] = []
    step = engine._kv.step
    engine._kv.step = lambda items: rows_per_step.append(len(items)) or step(items)
    try:
        # 151 prompt tokens + 6 x 30 worst-case new tokens do not fit in 256 cells: 3 samples at a time
        rows = engine.generate(["a " * 150], SamplingParams(n=6, temperature=1.0, max_new_tokens=30, seed=4))
        assert len(rows[0]) == 6 and all(s.n_tokens >= 1 for s in rows[0])
        assert 2 <= max(rows_per_step) <= 3
        filler = "b " * 240  # 241 tokens: nothing was left behind, the whole window is one sequence's again
        assert engine.generate([filler], SamplingParams(max_new_tokens=8))[0][0].n_tokens >= 1
    finally:
        engine.close()


class CancelAfter(threading.Event):
    """A cancel event that turns set after `checks` looks: cancels in the middle of a batch."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left = checks

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_cancel_in_the_middle_of_a_batch_then_the_engine_still_works(llama_engine):
    greedy = SamplingParams(max_new_tokens=6)
    before = llama_engine.generate([PROMPT], greedy)[0][0].text
    cancel = CancelAfter(3)
    with pytest.raises(Cancelled):
        llama_engine.generate([PROMPT, "import os\n"], SamplingParams(n=8, temperature=1.0, max_new_tokens=40,
                                                                      seed=1), cancel)
    assert cancel.left < 0
    assert llama_engine.generate([PROMPT], greedy)[0][0].text == before
    assert [len(r) for r in llama_engine.generate([PROMPT], SamplingParams(n=3, temperature=1.0,
                                                                           max_new_tokens=2))] == [3]


def decoded_counts(engine, monkeypatch) -> list[int]:
    """Record how many tokens each decode of sequence 0 (prefill or single step) carries."""
    counts: list[int] = []
    original = engine._decode

    def counting(tokens, all_logits=False):
        counts.append(len(tokens))
        return original(tokens, all_logits)

    monkeypatch.setattr(engine, "_decode", counting)
    return counts


def test_n1_prefix_reuse_prefills_only_the_new_tokens_and_gives_the_cold_text(llama_engine, monkeypatch):
    params = SamplingParams(max_new_tokens=6)
    typed = PROMPT + "    return"
    llama_engine.generate(["something else entirely\n"], params)
    cold = llama_engine.generate([typed], params)[0][0].text
    llama_engine.generate([PROMPT], SamplingParams(n=8, temperature=1.0, max_new_tokens=4, seed=3))  # batched
    counts = decoded_counts(llama_engine, monkeypatch)
    assert llama_engine.generate([typed], params)[0][0].text == cold
    prompt_tokens = len(llama_engine.tokenize(typed, bos=True))
    assert counts and counts[0] < prompt_tokens // 2, f"prefill decoded {counts[0]} of {prompt_tokens} tokens"
    counts.clear()
    assert llama_engine.generate([typed + " a"], params)[0][0].n_tokens >= 1  # typing forward: a token or two
    assert counts[0] <= 3
