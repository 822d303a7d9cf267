"""The transformers engine on the embedded GGUF (dequantised, fp32, CPU): batching, stops, log-probs, KV reuse,
cancellation, device/dtype choice, offline errors, and agreement with the llamacpp engine on the same weights."""

from __future__ import annotations

import copy
import threading

import pytest
import torch

from codeward.model.base import Cancelled, EngineError, Prompt, SamplingParams
from codeward.model.settings import EngineSettings
from codeward.model.transformers import loading as hf_loading

PROMPT = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n"
OTHER = "import os\n\n\ndef list_python_files(root):\n"
AGREEMENT_PROMPTS = (PROMPT, OTHER, "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(")


@pytest.fixture(scope="module")
def tf_engine():
    """The embedded model through transformers in fp32 on the CPU, loaded once for this module.

    One torch thread: on a shared 2-core machine, two OpenMP threads spin-waiting for a busy core ran ~10x slower."""
    from codeward.model.factory import make_engine

    threads = torch.get_num_threads()
    engine = make_engine(EngineSettings(engine="transformers", model="smollm2-135m", device="cpu", dtype="float32",
                                        n_threads=1))
    yield engine
    engine.close()
    torch.set_num_threads(threads)


def test_info_names_the_embedded_model_and_its_special_tokens(tf_engine):
    assert tf_engine.info.engine == "transformers"
    assert tf_engine.info.model == "smollm2-135m"
    assert "<|im_start|>" in tf_engine.info.special_tokens
    assert tf_engine.info.extra["dtype"] == "float32" and tf_engine.info.extra["device"] == "cpu"


def test_info_carries_the_models_chat_template_and_eos_like_llamacpp(tf_engine, llama_engine):
    """Both engines read the same GGUF: the chat template and the EOS text the chat format needs agree."""
    assert "<|im_start|>" in tf_engine.info.chat_template
    assert tf_engine.info.chat_template == llama_engine.info.chat_template
    assert tf_engine.info.extra["eos_token"] == llama_engine.info.extra["eos_token"]
    assert llama_engine.info.extra["eos_token"] in llama_engine.info.special_tokens


def test_n_samples_per_prompt_and_max_tokens(tf_engine):
    out = tf_engine.generate([PROMPT, OTHER], SamplingParams(n=3, temperature=0.8, max_new_tokens=5, seed=1))
    assert [len(samples) for samples in out] == [3, 3]
    for sample in (s for samples in out for s in samples):
        assert 1 <= sample.n_tokens <= 5
        assert sample.logprob_sum < 0
        assert sample.finish_reason in ("stop", "length")
        if sample.finish_reason == "length":
            assert sample.n_tokens == 5


def test_left_padded_batch_matches_one_prompt_at_a_time(tf_engine):
    greedy = SamplingParams(max_new_tokens=6)
    together = tf_engine.generate([PROMPT, OTHER], greedy)
    alone = [tf_engine.generate([p], greedy)[0] for p in (PROMPT, OTHER)]
    for batched, single in zip(together, alone, strict=True):
        assert batched[0].text == single[0].text
        assert batched[0].logprob_sum == pytest.approx(single[0].logprob_sum, abs=1e-3)


def test_stop_strings_finish_each_row_independently(tf_engine):
    params = SamplingParams(n=1, max_new_tokens=24, stop=("\n",))
    free = tf_engine.generate([PROMPT, OTHER], SamplingParams(max_new_tokens=24))
    stopped = tf_engine.generate([PROMPT, OTHER], params)
    for unstopped, cut in zip(free, stopped, strict=True):
        assert "\n" not in cut[0].text
        assert "\n" in unstopped[0].text, "the greedy continuation should reach a newline within 24 tokens"
        assert cut[0].finish_reason == "stop"
        assert cut[0].text == unstopped[0].text.split("\n", 1)[0]
        assert cut[0].n_tokens < unstopped[0].n_tokens


def test_logprob_sum_is_the_raw_distribution_and_matches_score(tf_engine):
    greedy = tf_engine.generate([PROMPT], SamplingParams(max_new_tokens=8))[0][0]
    hot = tf_engine.generate([PROMPT], SamplingParams(max_new_tokens=8, temperature=0.01, seed=3))[0][0]
    assert greedy.finish_reason == "length" and greedy.n_tokens == 8
    assert tf_engine.count_tokens(greedy.text) == greedy.n_tokens  # re-tokenising gives the same tokens here
    assert tf_engine.score(PROMPT, greedy.text) == pytest.approx(greedy.logprob_sum, abs=1e-3)
    # temperature changes which tokens are picked, never the log-probs reported for them
    assert hot.text == greedy.text
    assert hot.logprob_sum == pytest.approx(greedy.logprob_sum, abs=1e-3)


def test_seed_reproduces_samples(tf_engine):
    # two prompts, so neither run reuses a kept KV cache (whose rounding could flip a near-tie)
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=6, seed=7)
    first = tf_engine.generate([PROMPT, OTHER], params)
    assert first == tf_engine.generate([PROMPT, OTHER], params)
    assert first != tf_engine.generate([PROMPT, OTHER], SamplingParams(n=4, temperature=1.0, max_new_tokens=6,
                                                                      seed=8))


def test_kv_cache_reuse_for_an_extending_prompt_gives_the_same_result(tf_engine):
    greedy = SamplingParams(max_new_tokens=6)
    longer = PROMPT + "    return"
    tf_engine.generate([PROMPT], greedy)
    reused = tf_engine.generate([longer], greedy)[0][0]
    assert tf_engine.last_reused >= tf_engine.count_tokens(PROMPT) - 1
    tf_engine.generate([OTHER, PROMPT], greedy)  # a batch drops the kept cache
    fresh = tf_engine.generate([longer], greedy)[0][0]
    assert tf_engine.last_reused == 0
    assert reused.text == fresh.text
    assert reused.logprob_sum == pytest.approx(fresh.logprob_sum, abs=1e-3)


def test_reuse_after_n_samples_keeps_the_prompt_only(tf_engine):
    tf_engine.generate([PROMPT], SamplingParams(n=3, temperature=1.0, max_new_tokens=4, seed=2))
    after = tf_engine.generate([PROMPT + "    "], SamplingParams(max_new_tokens=4))[0][0]
    assert tf_engine.last_reused >= tf_engine.count_tokens(PROMPT) - 1
    tf_engine.generate([OTHER, OTHER], SamplingParams(max_new_tokens=1))
    assert tf_engine.generate([PROMPT + "    "], SamplingParams(max_new_tokens=4))[0][0].text == after.text


class CancelAfter(threading.Event):
    """An event that reads as set from its `after`-th check on: cancellation in the middle of decoding."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.checks = after, 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks >= self.after or super().is_set()


def test_cancel_between_decoding_steps_and_the_engine_recovers(tf_engine):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        tf_engine.generate([PROMPT], SamplingParams(max_new_tokens=8), cancel)
    midway = CancelAfter(4)
    with pytest.raises(Cancelled):
        tf_engine.generate([PROMPT], SamplingParams(n=2, temperature=1.0, max_new_tokens=2000, seed=1), midway)
    assert midway.checks == 4  # stopped at the 4th step, not after 2000 tokens
    assert tf_engine.generate([PROMPT], SamplingParams(max_new_tokens=2))[0][0].n_tokens == 2


def test_device_and_dtype_choice(monkeypatch):
    assert hf_loading.pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    expected_cpu = torch.bfloat16 if hf_loading.cpu_has_fast_bf16() else torch.float32
    assert hf_loading.pick_dtype("auto", torch.device("cpu")) == expected_cpu
    assert hf_loading.pick_dtype("float16", torch.device("cpu")) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert hf_loading.pick_dtype("auto", torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert hf_loading.pick_dtype("auto", torch.device("cuda")) == torch.float16


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(EngineError, match="CUDA"):
        hf_loading.pick_device("cuda")


@pytest.mark.parametrize(("model", "words"), [
    ("/nonexistent/model.Q4_K_M.gguf", "does not exist"),
    ("nobody-here/no-such-model-7b", "never downloads"),
])
def test_missing_model_is_a_clear_error(monkeypatch, model, words):
    from codeward.model.transformers.engine import TransformersEngine

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EngineError) as info:
        TransformersEngine(EngineSettings(engine="transformers", model=model, device="cpu"))
    assert model in str(info.value) and words in str(info.value)


@pytest.fixture(scope="module")
def llama_logits():
    """llama.cpp on the same GGUF with logits for every position: per-token log-probs of given token ids."""
    import llama_cpp
    import numpy as np

    from codeward.model.registry import resolve_model_path

    llm = llama_cpp.Llama(model_path=resolve_model_path("smollm2-135m"), n_ctx=512, n_threads=1, logits_all=True,
                          verbose=False)

    def token_logprobs(prompt_ids: list[int], ids: list[int]) -> list[float]:
        llm.reset()
        llm.eval(prompt_ids + ids)
        rows = np.asarray(llm.scores[len(prompt_ids) - 1:len(prompt_ids) + len(ids) - 1], dtype=np.float64)
        top = rows.max(axis=1, keepdims=True)
        logz = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
        return [float(rows[i, t] - logz[i]) for i, t in enumerate(ids)]

    yield token_logprobs
    llm.close()


def test_agrees_with_llamacpp_on_the_same_weights(tf_engine, llama_engine, llama_logits):
    """llama.cpp's greedy continuations scored here: Q4_1 in llama.cpp vs dequantised fp32 in transformers."""
    diffs: list[float] = []
    for prompt in AGREEMENT_PROMPTS:
        sample = llama_engine.generate([prompt], SamplingParams(max_new_tokens=10))[0][0]
        prompt_ids = tf_engine.tokenizer(prompt)["input_ids"]
        ids = tf_engine.tokenizer(sample.text, add_special_tokens=False)["input_ids"]
        assert llama_engine.tokenize(prompt, bos=True) == prompt_ids, "both engines must tokenise alike"
        assert llama_engine.tokenize(sample.text, bos=False) == ids, "both engines must tokenise alike"
        ours = tf_engine.token_logprobs(prompt, sample.text)
        # within 5%; near-certain continuations have sums near 0, where 0.1 nats is the floor
        assert sum(ours) == pytest.approx(sample.logprob_sum, rel=0.05, abs=0.1)
        diffs.extend(abs(a - b) for a, b in zip(ours, llama_logits(prompt_ids, ids), strict=True))
    assert len(diffs) >= 15
    assert sum(diffs) / len(diffs) <= 0.1


SPLIT_TEXT = "if x:\n" + " " * 40 + "y = '日本'"  # 日 is split across two tokens


def test_text_never_ends_in_a_split_character(tf_engine, monkeypatch):
    ids = tf_engine.tokenizer(SPLIT_TEXT, add_special_tokens=False)["input_ids"]
    split = next(k for k in range(1, len(ids)) if "\ufffd" in tf_engine.tokenizer.decode(ids[:k]))
    step = {"i": 0}

    def choose(logits, params, generator):  # "sample" exactly the tokens of SPLIT_TEXT
        token = ids[step["i"]]
        step["i"] += 1
        return torch.full((logits.shape[0],), token, dtype=torch.long, device=logits.device)

    monkeypatch.setattr(tf_engine._decoder, "choose", choose)
    for k in (split, len(ids)):
        step["i"] = 0
        sample = tf_engine.generate([PROMPT], SamplingParams(max_new_tokens=k))[0][0]
        assert sample.n_tokens == k and sample.finish_reason == "length"
        assert "\ufffd" not in sample.text and SPLIT_TEXT.startswith(sample.text)
    assert sample.text == SPLIT_TEXT


SMOL_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<file_sep>", "<repo_name>")
SMOL_EVIL = "x = '" + "'\ny = '".join(SMOL_SPECIALS) + "'\n"


def test_special_strings_in_user_text_are_plain_tokens_and_sentinels_one(tf_engine, llama_engine):
    from codeward.model.templates import get_template

    control = {tf_engine.sentinel_id(s) for s in SMOL_SPECIALS}
    n = tf_engine.count_tokens(SMOL_EVIL)
    assert n > len(SMOL_SPECIALS) and n == llama_engine.count_tokens(SMOL_EVIL)  # the same plain pieces
    assert not control & set(tf_engine.encode(SMOL_EVIL))
    assert not control & set(tf_engine.encode(Prompt.plain("<|im_end|>")))
    chat = get_template("chat").render_segments(SMOL_EVIL, SMOL_EVIL)
    ids = tf_engine.encode(chat)
    assert ids == llama_engine.tokenize(chat, bos=True)
    assert [t for t in ids if t in control] == [tf_engine.sentinel_id(s) for s in chat.sentinels]
    assert tf_engine.encode(Prompt.of((("<|im_start|>", True),)), bos=False) == [1]
    with pytest.raises(EngineError, match="no special token '<fim_prefix>'"):
        tf_engine.generate([get_template("starcoder").render_segments("a", "b")], SamplingParams(max_new_tokens=1))
    assert tf_engine.generate([chat], SamplingParams(max_new_tokens=2))[0][0].n_tokens >= 1


def test_close_waits_for_the_lock_and_then_refuses_calls(tf_engine):
    engine = copy.copy(tf_engine)  # shares the loaded weights, so closing it leaves the module's engine alone
    engine._decoder, engine._lock = copy.copy(tf_engine._decoder), threading.Lock()
    with engine._lock:  # a generation is running
        closer = threading.Thread(target=engine.close)
        closer.start()
        closer.join(0.3)
        assert closer.is_alive() and engine.model is not None
    closer.join(10)
    assert engine.model is None and engine._decoder.model is None  # nothing keeps the weights alive
    with pytest.raises(EngineError, match="closed"):
        engine.generate([PROMPT], SamplingParams(max_new_tokens=1))
    with pytest.raises(EngineError, match="closed"):
        engine.score(PROMPT, "x")
