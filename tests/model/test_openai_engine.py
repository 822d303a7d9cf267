"""The openai engine against llama-cpp-python's real server on loopback (the embedded GGUF), and against a scripted
fake server for retries, errors, headers and echo scoring."""

from __future__ import annotations

import threading
import time

import pytest

from codeward.model.base import Cancelled, EngineError, SamplingParams
from codeward.model.openai import transport as openai_http
from codeward.model.openai.engine import OpenAIEngine
from codeward.model.registry import resolve_model_path
from codeward.model.settings import EngineSettings
from tests.model.helpers_engines import Script, completion, fake_server, free_port, llama_server

PROMPT = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n"
OTHER = "import os\n\n\ndef list_python_files(root):\n"


@pytest.fixture(scope="module")
def server_url():
    """One llama-cpp-python server serving the embedded model for this module."""
    with llama_server(resolve_model_path("smollm2-135m")) as url:
        yield url


@pytest.fixture(scope="module")
def remote(server_url):
    """The openai engine pointed at the loopback server, model name taken from the server's /models."""
    from codeward.model.factory import make_engine

    engine = make_engine(EngineSettings(engine="openai", model="smollm2-135m", base_url=server_url, timeout_s=60))
    yield engine
    engine.close()


@pytest.fixture()
def fast_backoff(monkeypatch):
    monkeypatch.setattr(openai_http, "BACKOFF_BASE_S", 0.01)


def _engine(url: str, **kw) -> OpenAIEngine:
    return OpenAIEngine(EngineSettings(engine="openai", model="m", base_url=url, **kw))


def test_completion_and_model_discovery(remote):
    sample = remote.generate([PROMPT], SamplingParams(max_new_tokens=4))[0][0]
    assert remote.info.model.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert sample.text and sample.finish_reason in ("stop", "length")
    assert 1 <= sample.n_tokens <= 4 and sample.logprob_sum < 0


def test_n_is_topped_up_for_a_server_that_returns_one_choice(remote):
    out = remote.generate([PROMPT, OTHER], SamplingParams(n=3, temperature=1.0, max_new_tokens=3, seed=5))
    assert [len(samples) for samples in out] == [3, 3]
    assert all(1 <= s.n_tokens <= 3 for samples in out for s in samples)


def test_stop_sequences_cut_the_text(remote):
    free = remote.generate([PROMPT], SamplingParams(max_new_tokens=12))[0][0]
    cut = remote.generate([PROMPT], SamplingParams(max_new_tokens=12, stop=("\n",)))[0][0]
    assert "\n" in free.text, "the greedy continuation should reach a newline within 12 tokens"
    assert cut.finish_reason == "stop"
    assert cut.text == free.text.split("\n", 1)[0]


def test_logprobs_match_the_in_process_llamacpp_engine(remote, llama_engine):
    greedy = SamplingParams(max_new_tokens=6)
    served = remote.generate([PROMPT], greedy)[0][0]
    local = llama_engine.generate([PROMPT], greedy)[0][0]
    assert served.text == local.text
    assert served.n_tokens == local.n_tokens
    assert served.logprob_sum == pytest.approx(local.logprob_sum, rel=0.02, abs=0.02)


def test_count_tokens_uses_the_server_tokenizer(remote, llama_engine):
    assert remote.count_tokens(PROMPT) == llama_engine.count_tokens(PROMPT)


def test_score_refuses_llama_cpp_python_echo(remote):
    with pytest.raises(EngineError, match="1983"):
        remote.score(PROMPT, "    return a + b\n")


def test_server_down_is_a_clear_error_within_the_timeout(fast_backoff):
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = _engine(url, timeout_s=5, max_retries=2)
    start = time.monotonic()
    with pytest.raises(EngineError) as info:
        engine.generate([PROMPT], SamplingParams(max_new_tokens=2))
    assert time.monotonic() - start < 5
    assert url in str(info.value) and "is it running" in str(info.value)


def test_500_is_retried_then_a_clear_error(fast_backoff):
    script = Script([(500, {"error": {"message": "CUDA out of memory"}}, {})])
    with fake_server(script) as url, pytest.raises(EngineError) as info:
        _engine(url, max_retries=2).generate([PROMPT], SamplingParams())
    assert len(script.requests) == 3  # the first try and two retries
    assert "HTTP 500" in str(info.value) and "CUDA out of memory" in str(info.value)


def test_429_then_success_is_retried_and_honours_retry_after(fast_backoff):
    script = Script([(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
                     (200, completion("return a + b"), {})])
    with fake_server(script) as url:
        sample = _engine(url, max_retries=1).generate([PROMPT], SamplingParams())[0][0]
    assert sample.text == "return a + b" and len(script.requests) == 2


def test_4xx_is_not_retried_and_quotes_the_server(fast_backoff):
    script = Script([(400, {"error": {"message": "This model's maximum context length is 2048 tokens"}}, {})])
    with fake_server(script) as url, pytest.raises(EngineError, match="maximum context length is 2048") as info:
        _engine(url, max_retries=3).generate([PROMPT], SamplingParams())
    assert len(script.requests) == 1 and "HTTP 400" in str(info.value)


def test_request_body_api_key_and_client_side_stop(monkeypatch):
    monkeypatch.setenv("MY_TEST_KEY", "sk-secret-123")
    script = Script([(200, completion("x = 1\ndef g():", finish="stop", logprobs=[-0.25, -0.5]), {})])
    with fake_server(script) as url:
        engine = _engine(url, api_key_env="MY_TEST_KEY")
        sample = engine.generate([PROMPT], SamplingParams(temperature=0.2, top_p=0.9, max_new_tokens=7,
                                                          stop=("\ndef",), seed=3))[0][0]
    path, headers, body = script.requests[0]
    assert path == "/v1/completions"
    assert headers["Authorization"] == "Bearer sk-secret-123"
    assert body == {"model": "m", "prompt": PROMPT, "max_tokens": 7, "temperature": 0.2, "top_p": 0.9, "n": 1,
                    "logprobs": 1, "stop": ["\ndef"], "seed": 3}
    assert "sk-secret" not in repr(engine.info)
    # a server that leaves the stop string in its text is cut client-side
    assert sample.text == "x = 1" and sample.finish_reason == "stop"
    assert sample.logprob_sum == -0.75 and sample.n_tokens == 2


def test_top_up_asks_only_for_the_missing_samples_with_fresh_seeds():
    script = Script([(200, completion("a", "b"), {}), (200, completion("c"), {})])
    with fake_server(script) as url:
        samples = _engine(url).generate([PROMPT], SamplingParams(n=3, temperature=1.0, seed=10))[0]
    assert [s.text for s in samples] == ["a", "b", "c"]
    assert [(r[2]["n"], r[2]["seed"]) for r in script.requests] == [(3, 10), (1, 12)]


def test_score_sums_the_echoed_continuation_tokens():
    echo = {"choices": [{"index": 0, "text": "ab cd!", "finish_reason": "length", "logprobs": {
        "tokens": ["ab", " cd", "!"], "token_logprobs": [None, -1.5, -2.0], "text_offset": [0, 2, 5]}}]}
    script = Script([(404, {"detail": "Not Found"}, {}), (404, {"detail": "Not Found"}, {}), (200, echo, {})])
    with fake_server(script) as url:
        assert _engine(url).score("ab", " cd") == -1.5  # "!" is the generated token, not the continuation
    assert script.requests[-1][2]["echo"] is True


def test_cancel_before_a_request_raises_cancelled():
    cancel = threading.Event()
    cancel.set()
    script = Script([(200, completion("a"), {})])
    with fake_server(script) as url, pytest.raises(Cancelled):
        _engine(url).generate([PROMPT], SamplingParams(), cancel)
    assert script.requests == []


@pytest.mark.parametrize("url", ["", "localhost:8000", "ftp://host/v1"])
def test_bad_base_url_is_a_clear_error(url):
    with pytest.raises(EngineError, match="base"):
        _engine(url)


def test_bare_host_gets_the_v1_path():
    assert openai_http.normalise_base_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/v1"
    assert openai_http.normalise_base_url("https://api.example.com/openai/v1") == "https://api.example.com/openai/v1"


@pytest.mark.parametrize(("temperature", "top_p"), [(0.0, 0.9), (0.7, 0.0)])
def test_greedy_with_n_asks_once_and_never_sends_top_p_zero(temperature, top_p):
    # vLLM rejects n > 1 at temperature 0 and top_p = 0; top_p = 0 keeps only the likeliest token: greedy
    script = Script([(200, completion("a"), {})])
    with fake_server(script) as url:
        samples = _engine(url).generate([PROMPT], SamplingParams(n=3, temperature=temperature, top_p=top_p))[0]
    assert [s.text for s in samples] == ["a", "a", "a"]
    assert len(script.requests) == 1
    body = script.requests[0][2]
    assert (body["n"], body["temperature"], body["top_p"]) == (1, 0.0, 1.0)


@pytest.mark.parametrize("answer", [
    {"choices": "none today"},
    {"choices": [["not", "a", "dict"]]},
    {"choices": [{"index": "first", "text": "a"}]},
    {"choices": [{"index": 0, "text": "a", "logprobs": {"token_logprobs": ["high"]}}]},
])
def test_a_malformed_completion_is_a_clear_error(answer):
    with fake_server(Script([(200, answer, {})])) as url, pytest.raises(EngineError) as info:
        _engine(url).generate([PROMPT], SamplingParams())
    assert url in str(info.value) and "choice" in str(info.value)


def test_a_character_cut_at_max_tokens_is_dropped_and_missing_logprobs_count_nothing():
    answer = completion("x = '日", finish="length")
    answer["choices"][0]["text"] = "x = '\ufffd"  # the server decoded half of a character
    answer["choices"][0]["logprobs"] = None  # and gave no log-probs
    with fake_server(Script([(200, answer, {})])) as url:
        sample = _engine(url).generate([PROMPT], SamplingParams())[0][0]
    assert (sample.text, sample.finish_reason, sample.logprob_sum, sample.n_tokens) == ("x = '", "length", 0.0, 0)


def test_the_api_key_never_appears_in_an_error(monkeypatch):
    monkeypatch.setenv("MY_TEST_KEY", "sk-secret-123")
    script = Script([(401, {"error": {"message": "Incorrect API key provided: sk-secret-123"}}, {})])
    with fake_server(script) as url, pytest.raises(EngineError) as info:
        _engine(url, api_key_env="MY_TEST_KEY").generate([PROMPT], SamplingParams())
    assert "HTTP 401" in str(info.value) and "Incorrect API key" in str(info.value)
    assert "sk-secret" not in str(info.value)


def test_score_refuses_echoed_logprobs_that_miss_tokens():
    echo = {"choices": [{"index": 0, "text": "ab cd!", "finish_reason": "length", "logprobs": {
        "tokens": ["ab", " cd", "!"], "token_logprobs": [None, -1.5], "text_offset": [0, 2, 5]}}]}
    script = Script([(404, {"detail": "Not Found"}, {}), (404, {"detail": "Not Found"}, {}), (200, echo, {})])
    with fake_server(script) as url, pytest.raises(EngineError, match="log-probs"):
        _engine(url).score("ab", " cd!")
