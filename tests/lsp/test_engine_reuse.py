"""Engine reuse keys on what shapes the loaded model: a sampling value changes the next request's sampling, never
the engine (a reload drops the KV caches; the daemon must not load a second copy for another temperature)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from codeward.completion.types import CompletionRequest
from codeward.config import Settings
from codeward.lsp_server.completions import CompletionService
from codeward.lsp_server.engines import EnginePool
from codeward.lsp_server.telemetry import ClientLog, Stats
from codeward.model.base import Sample, SamplingParams
from codeward.model.settings import PER_REQUEST, EngineSettings, load_key
from codeward.testing.gated_engines import StubbornEngine


class ParamsEngine(StubbornEngine):
    """Remembers the sampling params of every call."""

    def __init__(self) -> None:
        super().__init__(busy_s=0.0)
        self.params: list[SamplingParams] = []
        self.closed = 0

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        self.params.append(params)
        return [[Sample(f"x{i}", "stop", 0.0, 1) for i in range(params.n)] for _ in prompts]

    def close(self) -> None:
        self.closed += 1


class Factory:
    def __init__(self) -> None:
        self.made: list[ParamsEngine] = []

    def __call__(self, settings: EngineSettings) -> ParamsEngine:
        self.made.append(ParamsEngine())
        return self.made[-1]


def _settings(**engine: object) -> Settings:
    settings = Settings()
    settings.completion.debounce_ms = 0
    for name, value in engine.items():
        setattr(settings.engine, name, value)
    return settings


def test_the_load_key_leaves_out_exactly_the_sampling_values():
    base = load_key(EngineSettings())
    for name, value in (("temperature", 0.7), ("max_new_tokens", 9), ("n", 3), ("top_p", 0.5), ("seed", 4),
                        ("template", "prefix")):
        assert name in PER_REQUEST and load_key(EngineSettings(**{name: value})) == base, name
    for name, value in (("engine", "openai"), ("model", "other"), ("quant", "q8_0"), ("n_ctx", 2048),
                        ("n_threads", 1), ("kv_cache_mb", 1), ("draft_model", "d"), ("device", "cpu"),
                        ("dtype", "float16"), ("base_url", "http://h/v1"), ("timeout_s", 5.0), ("max_retries", 0),
                        ("parallel_requests", 2), ("model_dir", "/m"), ("speculative", "lookup")):
        assert load_key(EngineSettings(**{name: value})) != base, name


def test_a_sampling_change_keeps_the_engine_and_takes_effect_on_the_next_request():
    factory = Factory()
    service = CompletionService(_settings(), factory, ClientLog(lambda level, msg: None), Stats())

    async def scenario() -> None:
        await service.complete("file:///a.py", CompletionRequest("y = ", 0, 4))
        service.update(_settings(temperature=0.8, n=2, top_p=0.9, max_new_tokens=7, seed=11))
        await service.complete("file:///a.py", CompletionRequest("z = ", 0, 4))
        service.update(_settings(n_ctx=2048))  # a load value: reloaded
        await service.complete("file:///a.py", CompletionRequest("w = ", 0, 4))
        await service.aclose()

    asyncio.run(scenario())
    assert len(factory.made) == 2 and factory.made[0].closed == 1
    first, second = factory.made[0].params
    assert first.temperature == 0.0 and first.n == 1
    assert (second.temperature, second.n, second.top_p, second.max_new_tokens, second.seed) == (0.8, 2, 0.9, 7, 11)


def test_the_pool_shares_one_engine_between_windows_that_differ_only_in_sampling():
    factory = Factory()
    pool = EnginePool(factory)
    cold = pool(EngineSettings(temperature=0.0))
    warm = pool(EngineSettings(temperature=0.8, n=4, seed=1))
    assert pool.loads == 1 and len(factory.made) == 1
    other = pool(EngineSettings(n_ctx=2048))
    assert pool.loads == 2
    for view in (cold, warm, other):
        view.close()
    assert [e.closed for e in factory.made] == [1, 1]
