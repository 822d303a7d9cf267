"""Per-document model contexts of the llamacpp engine: switching documents keeps each one's KV prefix, the saved
states stay under their memory bound, and a background prefill fills the cache a request then extends."""

from __future__ import annotations

import threading

import pytest

from codeward.model.base import SamplingParams
from codeward.model.llamacpp.engine import LlamaCppEngine
from codeward.model.settings import EngineSettings

DOC_A = "def mean(values):\n    total = sum(values)\n    return total / len(values)\n\n\ndef median(values):\n"
DOC_B = "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n"
PARAMS = SamplingParams(max_new_tokens=6)


@pytest.fixture(scope="module")
def engine():
    made = LlamaCppEngine(EngineSettings(model="smollm2-135m", n_ctx=1024, kv_cache_mb=64))
    yield made
    made.close()


def test_switching_documents_restores_each_ones_cached_prefix(engine):
    engine.use_context("a")
    first_a = engine.generate([DOC_A], PARAMS)[0][0]
    engine.use_context("b")
    engine.generate([DOC_B], PARAMS)
    cached_a, total_a = engine.cached_tokens(DOC_A)
    assert cached_a < total_a // 2  # B's prompt is in the cache now, not A's
    # what A's saved context holds, asked without switching to it
    switches = engine.counters()["kv_switches"]
    assert engine.cached_tokens(DOC_A, "a") == (total_a, total_a)
    assert engine.cached_tokens(DOC_A, "never-used") == (0, total_a)
    assert engine.counters()["kv_switches"] == switches
    restores = engine.counters()["kv_restores"]
    engine.use_context("a")
    cached_a, total_a = engine.cached_tokens(DOC_A)
    assert cached_a == total_a and engine.counters()["kv_restores"] == restores + 1
    again = engine.generate([DOC_A], PARAMS)[0][0]
    assert again.text == first_a.text  # the restored cells give the same greedy answer
    engine.use_context("b")
    assert engine.cached_tokens(DOC_B)[0] == engine.cached_tokens(DOC_B)[1]


def test_forgotten_and_over_budget_states_are_not_kept():
    small = LlamaCppEngine(EngineSettings(model="smollm2-135m", n_ctx=1024, kv_cache_mb=0))
    try:
        small.use_context("a")
        small.generate([DOC_A], PARAMS)
        small.use_context("b")
        small.generate([DOC_B], PARAMS)
        small.use_context("a")
        assert small.counters()["kv_restores"] == 0 and small.counters()["kv_saved_bytes"] == 0
    finally:
        small.close()


def test_forget_context_drops_a_saved_state(engine):
    engine.use_context("gone")
    engine.generate([DOC_A], PARAMS)
    engine.use_context("other")
    engine.forget_context("gone")
    restores = engine.counters()["kv_restores"]
    engine.use_context("gone")
    assert engine.counters()["kv_restores"] == restores


def test_prefill_fills_the_cache_and_a_cancelled_one_keeps_what_it_did(engine):
    engine.use_context("prefill")
    text = DOC_A * 3
    done = engine.prefill(text)
    cached, total = engine.cached_tokens(text)
    assert done > 0 and cached == total
    assert engine.prefill(text) == 0  # already cached: nothing to evaluate
    stop = threading.Event()
    stop.set()
    assert engine.prefill(DOC_B * 3, stop) == 0  # cancelled before its first chunk
    longer = text + "    return sorted(values)[len(values) // 2]\n"
    cached, total = engine.cached_tokens(longer)
    assert total - cached < 20  # a request that extends the prefilled text pays only for its end


def test_a_generation_cancelled_while_its_prompt_is_evaluated_stops_within_a_chunk(engine):
    from codeward.model.base import Cancelled
    from codeward.model.llamacpp.engine import PROMPT_CHUNK

    engine.use_context("cancel-in-prompt")
    text = DOC_B * 12  # several chunks of prompt
    total = engine.cached_tokens(text)[1]
    assert total > 3 * PROMPT_CHUNK
    stop, calls = threading.Event(), []
    decode = engine._decode

    def first_chunk_then_cancel(tokens, all_logits=False):  # the editor's newer keystroke, after one chunk
        calls.append(len(tokens))
        stop.set()
        return decode(tokens, all_logits)

    engine._decode = first_chunk_then_cancel
    try:
        with pytest.raises(Cancelled):
            engine.generate([text], PARAMS, stop)
    finally:
        del engine._decode
    assert calls == [PROMPT_CHUNK]  # one chunk evaluated, not the whole prompt
    assert engine.cached_tokens(text) == (PROMPT_CHUNK, total)  # and kept: the next request extends it
    sample = engine.generate([text], PARAMS)[0][0]  # the engine serves the next call normally
    assert sample.n_tokens > 0
