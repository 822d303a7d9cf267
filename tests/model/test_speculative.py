"""Speculative greedy decoding: the acceptance logic against a deterministic model and draft, prompt-lookup
drafting, and the real engine giving the plain greedy text with drafts accepted."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from codeward.model.base import Cancelled, SamplingParams
from codeward.model.llamacpp.engine import LlamaCppEngine
from codeward.model.llamacpp.speculative import DraftLength, SpecCounters, lookup_draft, speculate
from codeward.model.settings import EngineSettings

VOCAB = 50


def one_hot(token: int) -> np.ndarray:
    row = np.zeros(VOCAB)
    row[token] = 1.0
    return row


class ToyModel:
    """Greedy next token = a fixed function of the last token; records every batch and every trim."""

    def __init__(self) -> None:
        self.kv: list[int] = []  # tokens whose cells are "in the cache"
        self.batches: list[list[int]] = []
        self.trims: list[int] = []

    @staticmethod
    def next_token(last: int) -> int:
        return (last * 7 + 3) % VOCAB

    def step(self, tokens: list[int], pos: int) -> np.ndarray:
        assert pos == len(self.kv), "a batch must start where the cache ends"
        self.batches.append(list(tokens))
        self.kv += tokens
        return np.stack([one_hot(self.next_token(t)) for t in tokens])

    def trim(self, pos: int) -> None:
        self.trims.append(pos)
        del self.kv[pos:]


class ToyStream:
    def __init__(self, pos: int, logits: np.ndarray) -> None:
        self.tokens: list[int] = []
        self.pos = pos
        self.logits = logits


def advance_until(limit: int):
    def advance(stream: ToyStream) -> int | None:
        token = int(np.argmax(stream.logits))
        stream.tokens.append(token)
        return None if len(stream.tokens) >= limit else token
    return advance


def plain_greedy(prompt: list[int], limit: int) -> list[int]:
    out, last = [], prompt[-1]
    while len(out) < limit:
        last = ToyModel.next_token(last)
        out.append(last)
    return out


def run(prompt: list[int], drafter, limit: int = 12) -> tuple[ToyStream, ToyModel, SpecCounters]:
    model = ToyModel()
    model.kv = list(prompt)
    stream = ToyStream(len(prompt), one_hot(ToyModel.next_token(prompt[-1])))
    counters = SpecCounters()
    speculate(stream, prompt, advance_until(limit), model.step, model.trim, drafter, limit, 10_000, counters, None)
    return stream, model, counters


def test_a_correct_draft_is_accepted_and_a_wrong_token_is_replaced_by_the_models_own():
    prompt = [1, 2, 3]
    truth = plain_greedy(prompt, 12)
    calls = []

    def drafter(history, limit):  # right for two tokens, then wrong; only on the first call
        calls.append(list(history))
        if len(calls) > 1:
            return []
        return [truth[1], truth[2], (truth[3] + 1) % VOCAB, truth[4]][:limit]

    stream, model, counters = run(prompt, drafter)
    assert stream.tokens == truth  # the output is the model's greedy output
    assert model.batches[0] == [truth[0], truth[1], truth[2], (truth[3] + 1) % VOCAB, truth[4]]
    assert counters.proposed == 4 and counters.accepted == 2 and counters.steps == 1
    # the cells of the rejected draft tokens were dropped: the cache ends after the accepted ones
    assert model.trims[0] == len(prompt) + 3
    assert model.batches[1][0] == truth[3]  # the model's own token is decoded next
    assert model.kv[:len(prompt) + len(truth) - 1] == prompt + truth[:-1]


def test_drafting_nothing_decodes_one_token_per_step():
    prompt = [4, 5]
    stream, model, counters = run(prompt, lambda history, limit: [])
    assert stream.tokens == plain_greedy(prompt, 12)
    assert all(len(b) == 1 for b in model.batches) and counters.proposed == 0 and not model.trims


def test_a_perfect_drafter_needs_few_batches():
    prompt = [9]
    truth = plain_greedy(prompt, 12)

    def oracle(history, limit):
        done = len(history) - len(prompt)
        return truth[done:done + limit]

    stream, model, counters = run(prompt, oracle)
    assert stream.tokens == truth
    assert len(model.batches) < 6 and counters.accepted == counters.proposed > 0


def test_cancel_stops_between_steps():
    cancel = threading.Event()
    cancel.set()
    model = ToyModel()
    model.kv = [1]
    stream = ToyStream(1, one_hot(3))
    with pytest.raises(Cancelled):
        speculate(stream, [1], advance_until(10), model.step, model.trim, lambda h, n: [], 10, 100,
                  SpecCounters(), cancel)


def test_lookup_draft_copies_what_followed_the_last_earlier_occurrence():
    history = [1, 2, 3, 4, 5, 9, 1, 2, 3, 7, 8, 1, 2, 3]
    assert lookup_draft(history, 2) == [7, 8]  # the most recent earlier "1 2 3" was followed by 7 8
    assert lookup_draft(history, 0) == []
    assert lookup_draft([1, 2, 3, 4], 4) == []  # nothing repeats
    assert lookup_draft([5, 6, 0, 5, 6], 3) == [0, 5, 6]  # falls back to the 2-gram


def test_the_draft_length_adapts():
    length = DraftLength(start=4, low=1, high=8)
    length.update(4, 4)
    assert length.value == 8
    length.update(8, 1)
    length.update(4, 0)
    assert length.value == 2


REPEAT = ("import math\n\n\ndef compute_total(items, tax_rate, discount):\n"
          "    subtotal = sum(item.price * item.quantity for item in items)\n"
          "    return subtotal * (1 + tax_rate) - discount\n\n\n"
          "first = compute_total(items, tax_rate, discount)\nsecond = compute_total(")


def test_the_real_engine_gives_the_plain_greedy_text_with_drafts_accepted(llama_engine):
    params = SamplingParams(max_new_tokens=24, stop=("\n",))
    lookup = LlamaCppEngine(EngineSettings(model="smollm2-135m", n_ctx=1024, speculative="lookup"))
    try:
        expected = llama_engine.generate([REPEAT], params)[0][0]  # the default: plain greedy decoding
        before = lookup.counters()
        got = lookup.generate([REPEAT], params)[0][0]
        after = lookup.counters()
    finally:
        lookup.close()
    assert got.text == expected.text and got.n_tokens == expected.n_tokens
    assert after["spec_proposed"] > before["spec_proposed"]
    assert after["spec_accepted"] > before["spec_accepted"]


def test_a_draft_model_of_the_same_tokenizer_drafts_and_the_output_stays_greedy():
    params = SamplingParams(max_new_tokens=16, stop=("\n\n",))
    prompt = "def fibonacci(n):\n    if n < 2:\n        return n\n"
    plain = LlamaCppEngine(EngineSettings(model="smollm2-135m", n_ctx=1024, speculative="off"))
    drafted = LlamaCppEngine(EngineSettings(model="smollm2-135m", n_ctx=1024, draft_model="smollm2-135m"))
    try:
        expected = plain.generate([prompt], params)[0][0]
        got = drafted.generate([prompt], params)[0][0]
        counters = drafted.counters()
    finally:
        plain.close()
        drafted.close()
    assert got.text == expected.text
    # the same model drafting for itself: nearly every draft token agrees (batch numerics aside)
    assert counters["spec_proposed"] > 0 and counters["spec_accepted"] >= 0.8 * counters["spec_proposed"]


def test_a_draft_model_with_another_tokenizer_is_refused(tmp_path):
    from codeward.model.base import EngineError
    from codeward.model.llamacpp.draft import DraftModel

    class OtherTokenizer:
        def tokenize(self, text: str, bos: bool) -> list[int]:
            return [1, 2, 3]

    with pytest.raises(EngineError, match="does not share the tokenizer"):
        DraftModel("smollm2-135m", "", 512, 0, OtherTokenizer())
