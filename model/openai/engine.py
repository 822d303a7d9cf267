"""The openai engine: `/v1/completions` on any OpenAI-compatible server (vLLM, TGI, llama.cpp server, Ollama).

Prompts arrive already rendered by the model's template, so FIM works on servers that reject `suffix` (vLLM). Servers
that return fewer than `n` choices (llama-cpp-python's returns one) are topped up with further requests. Prompts are
sent concurrently so that a batching server (vLLM) can batch them. Servers parse special-token strings in prompt
text, so user text has every known one broken by a zero-width space; template sentinels are sent as they are.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codeward.model.base import (
    Cancelled,
    Engine,
    EngineError,
    EngineInfo,
    PromptLike,
    Sample,
    SamplingParams,
    as_prompt,
)
from codeward.model.openai.transport import ServerClient
from codeward.model.registry import canonical_name
from codeward.model.settings import EngineSettings
from codeward.model.stops import find_stop, strip_partial_char
from codeward.model.templates import all_special_strings

log = logging.getLogger(__name__)

TOKEN_CACHE_SIZE = 512
CHARS_PER_TOKEN = 3.5  # rough average for code when the server offers no tokenize endpoint
ZERO_WIDTH_SPACE = "\u200b"
CHATML_LIKE = r"<\|[^|<>\s]{1,64}\|>"  # `<|name|>`: the spelling of most special tokens, known or not


def special_pattern(specials: Iterable[str]) -> re.Pattern[str]:
    """A regex for the given special-token strings (longest first) and any `<|name|>`."""
    known = sorted({s for s in specials if len(s) > 1}, key=len, reverse=True)
    return re.compile("|".join([*(re.escape(s) for s in known), CHATML_LIKE]))


def neutralise(text: str, pattern: re.Pattern[str]) -> str:
    """`text` with a zero-width space after the first character of every special-token string, so no server parses
    it as a control token; repeated until none is left (a match never overlaps the next one otherwise)."""
    while True:
        broken = pattern.sub(lambda m: m.group()[0] + ZERO_WIDTH_SPACE + m.group()[1:], text)
        if broken == text:
            return text
        text = broken


def parse_choice(choice: dict[str, Any], stop: tuple[str, ...]) -> Sample:
    """One completion choice as a Sample: text without the stop string, summed token log-probs.

    A server that gives fewer log-probs than tokens (or none) yields the sum and count of those it gave."""
    text = strip_partial_char(str(choice.get("text") or ""))  # a character cut at max_tokens
    reason = "length" if choice.get("finish_reason") == "length" else "stop"
    cut = find_stop(text, stop)
    if cut >= 0:  # a server that returned the stop string in its text
        text, reason = text[:cut], "stop"
    logprobs = choice.get("logprobs") or {}
    values = [float(v) for v in logprobs.get("token_logprobs") or [] if v is not None]
    tokens = logprobs.get("tokens")
    if (text and not values) or (isinstance(tokens, list) and len(values) < len(tokens)):
        log.debug("the server returned %d log-probs for %s tokens; the sample counts only those",
                  len(values), len(tokens) if isinstance(tokens, list) else "its")
    return Sample(text=text, finish_reason=reason, logprob_sum=sum(values), n_tokens=len(values))


def parse_choices(answer: dict[str, Any], wanted: int, stop: tuple[str, ...], url: str) -> list[Sample]:
    """Up to `wanted` Samples from a completion answer; a malformed answer is an EngineError that quotes it."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices:
        raise EngineError(f"the server at {url} returned no choices for a completion request: {str(answer)[:300]}")
    try:
        ordered = sorted(choices, key=lambda c: int(c.get("index", 0)))
        return [parse_choice(c, stop) for c in ordered[:wanted]]
    except (AttributeError, TypeError, ValueError) as exc:
        raise EngineError(f"the server at {url} answered a completion request with a malformed choice ({exc}): "
                          f"{str(answer)[:300]}; is --base-url an OpenAI-compatible /v1/completions API?") from None


def echoed_logprob(answer: dict[str, Any], start: int, end: int, url: str) -> float:
    """Sum of the echoed log-probs of the tokens that start in text[start:end]; every one of them must have one."""
    try:
        logprobs = answer["choices"][0].get("logprobs") or {}
        offsets, values = logprobs.get("text_offset") or [], logprobs.get("token_logprobs") or []
        if not offsets or len(offsets) != len(values):
            raise ValueError(f"{len(values)} log-probs for {len(offsets)} token offsets")
        inside = [value for offset, value in zip(offsets, values, strict=True) if start <= int(offset) < end]
        if None in inside:
            raise ValueError("a continuation token has no log-prob")
        return float(sum(float(v) for v in inside))
    except (LookupError, AttributeError, TypeError, ValueError) as exc:
        raise EngineError(f"the server at {url} returned no usable prompt log-probs for echo=true ({exc}); it "
                          "cannot score continuations (vLLM can)") from None


def is_greedy(params: SamplingParams) -> bool:
    """Temperature 0, or top_p 0 (only the likeliest token is kept), which servers reject as a top_p value."""
    return params.temperature <= 0.0 or params.top_p <= 0.0


class OpenAIEngine(Engine):
    """Remote completions; `generate` is safe to call from several threads."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        api_key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        self._client = ServerClient(settings.base_url, api_key, settings.timeout_s, settings.max_retries)
        # A local model's name (the default) does not name a served model: ask the server which one it serves.
        self._model = "" if canonical_name(settings.model) else settings.model
        self._model_lock = threading.Lock()
        self._tokens: OrderedDict[str, int] = OrderedDict()
        self._tokenize_route: str | None = None  # which tokenize endpoint works, once known
        self.info = EngineInfo(engine="openai", model=self._model or "(served model)",
                               extra={"base_url": self._client.base_url})
        self._specials = special_pattern(all_special_strings() | self.info.special_tokens)
        if not self._model:  # learn the served name now, so template detection can use it
            try:
                _ = self.model
            except EngineError as exc:
                log.warning("could not ask %s which model it serves (%s); will ask again on the first request",
                            self._client.base_url, exc)

    @property
    def model(self) -> str:
        """The model name sent with each request; a local model's name or empty means the one the server serves."""
        with self._model_lock:
            if not self._model:
                listed = self._client.request("GET", "/models").get("data") or []
                ids = [str(m.get("id")) for m in listed if isinstance(m, dict) and m.get("id")]
                if not ids:
                    raise EngineError(f"the server at {self._client.base_url} lists no models at /models; "
                                      "name the served model with --model")
                if len(ids) > 1:
                    log.warning("the server serves %d models (%s); using the first; choose one with --model",
                                len(ids), ", ".join(ids))
                self._model = ids[0]
                self.info.model = self._model
            return self._model

    def prompt_text(self, prompt: PromptLike) -> str:
        """The prompt as sent: sentinels as they are, user text (all of a str) with special strings broken."""
        return "".join(seg.text if seg.special else neutralise(seg.text, self._specials)
                       for seg in as_prompt(prompt).segments)

    def _body(self, prompt: str, params: SamplingParams, n: int, seed: int | None) -> dict[str, Any]:
        temperature, top_p = (0.0, 1.0) if is_greedy(params) else (params.temperature, params.top_p)
        body: dict[str, Any] = {"model": self.model, "prompt": prompt, "max_tokens": params.max_new_tokens,
                                "temperature": temperature, "top_p": top_p, "n": n, "logprobs": 1}
        if params.stop:
            body["stop"] = list(params.stop)
        if seed is not None:
            body["seed"] = seed
        return body

    def _complete_one(self, prompt: PromptLike, params: SamplingParams,
                      cancel: threading.Event | None) -> list[Sample]:
        """`params.n` samples for one prompt, asking again for the missing ones while the server returns fewer.

        Greedy decoding is asked for once and repeated: vLLM rejects n > 1 at temperature 0."""
        text = self.prompt_text(prompt)
        greedy = is_greedy(params)
        wanted = 1 if greedy else params.n
        samples: list[Sample] = []
        while len(samples) < wanted:
            if cancel is not None and cancel.is_set():
                raise Cancelled("generation cancelled")
            missing = wanted - len(samples)
            seed = None if params.seed is None else params.seed + len(samples)
            answer = self._client.request("POST", "/completions", self._body(text, params, missing, seed))
            samples.extend(parse_choices(answer, missing, params.stop, self._client.base_url))
        if cancel is not None and cancel.is_set():
            raise Cancelled("generation cancelled")
        return samples * params.n if greedy else samples

    def generate(self, prompts: Sequence[PromptLike], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        """`params.n` samples per prompt; prompts go out concurrently (up to `parallel_requests` at a time)."""
        if len(prompts) <= 1:
            return [self._complete_one(p, params, cancel) for p in prompts]
        workers = min(len(prompts), max(1, self.settings.parallel_requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codeward-openai") as pool:
            futures = [pool.submit(self._complete_one, p, params, cancel) for p in prompts]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def score(self, prompt: PromptLike, continuation: str) -> float:
        """Log-prob of the continuation via `echo`: the prompt tokens' log-probs from one request."""
        head = self.prompt_text(prompt)
        self._count(head)  # learns which server this is, from its tokenize endpoint
        if self._tokenize_route == "llamacpp":
            raise EngineError(f"the server at {self._client.base_url} is llama-cpp-python's, whose echo log-probs "
                              "are shifted by one token (abetlen/llama-cpp-python#1983), so it cannot score "
                              "continuations; use vLLM, or the llamacpp engine in-process")
        text = head + neutralise(continuation, self._specials)
        body = {"model": self.model, "prompt": text, "max_tokens": 1, "temperature": 0.0, "echo": True,
                "logprobs": 1}
        answer = self._client.request("POST", "/completions", body)
        return echoed_logprob(answer, len(head), len(text), self._client.base_url)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` as user text (special strings broken, as it would be sent) per the server's tokenizer
        (vLLM `/tokenize`, llama.cpp `/extras/tokenize`), else an estimate."""
        return self._count(neutralise(text, self._specials))

    def _count(self, text: str) -> int:
        """Tokens of `text` as sent, cached per text."""
        if text in self._tokens:
            self._tokens.move_to_end(text)
            return self._tokens[text]
        count = self._server_count(text)
        self._tokens[text] = count
        if len(self._tokens) > TOKEN_CACHE_SIZE:
            self._tokens.popitem(last=False)
        return count

    def _server_count(self, text: str) -> int:
        if self._tokenize_route == "estimate":
            return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0
        routes = [self._tokenize_route] if self._tokenize_route else ["vllm", "llamacpp"]
        for route in routes:
            try:
                if route == "vllm":
                    body = self._client.request("POST", "/tokenize", {"model": self.model, "prompt": text,
                                                                      "add_special_tokens": False}, root=True)
                else:
                    body = self._client.request("POST", "/extras/tokenize", {"input": text}, root=True)
            except EngineError as exc:
                log.debug("tokenize route %s unavailable: %s", route, exc)
                continue
            tokens = body.get("tokens")
            if isinstance(tokens, list):
                self._tokenize_route = route
                return len(tokens)
        if self._tokenize_route != "estimate":
            log.warning("the server at %s has no tokenize endpoint; estimating tokens as characters / %.1f",
                        self._client.base_url, CHARS_PER_TOKEN)
            self._tokenize_route = "estimate"
        return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
