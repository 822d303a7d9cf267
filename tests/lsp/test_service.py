"""The completion service in-process: timeouts return at once, and closing waits for a generation that
cannot be interrupted (closing llama.cpp under a running decode crashes the process)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from codeward.completion.types import CompletionRequest
from codeward.config import Settings
from codeward.lsp_server.completions import CompletionService
from codeward.lsp_server.telemetry import ClientLog, Stats
from codeward.model.base import Engine, Sample, SamplingParams
from codeward.testing.gated_engines import GatedEngine, StubbornEngine


def test_a_timed_out_request_returns_at_once_and_close_waits_for_the_engine():
    engine = StubbornEngine(busy_s=1.0)
    settings = Settings()
    settings.completion.debounce_ms = 0
    settings.completion.timeout_s = 0.1
    logged: list[str] = []
    service = CompletionService(settings, lambda _: engine, ClientLog(lambda level, msg: logged.append(msg)),
                                Stats())

    async def scenario() -> tuple[object, float]:
        started = time.monotonic()
        result = await service.complete("file:///a.py", CompletionRequest("y = ", 0, 4))
        elapsed = time.monotonic() - started
        await service.aclose()
        return result, elapsed

    result, elapsed = asyncio.run(scenario())
    assert result is None and elapsed < 0.8
    assert service.stats.timeouts == 1 and any("timeout_s" in m for m in logged)
    assert engine.closed_while_running is False


class SlowEngine(StubbornEngine):
    """Answers after `busy_s` unless cancelled (checked between 'tokens')."""

    def __init__(self, busy_s: float) -> None:
        super().__init__(busy_s)
        self.cancelled = 0

    def generate(self, prompts: Sequence[str], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        deadline = time.monotonic() + self.busy_s
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                self.cancelled += 1
                raise RuntimeError("cancelled")
            time.sleep(0.01)
        return [[Sample("x + 1", "stop", 0.0, 3)] for _ in prompts]


def test_a_newer_request_for_the_same_document_cancels_the_older_one():
    engine = SlowEngine(busy_s=0.5)
    settings = Settings()
    settings.completion.debounce_ms = 0
    service = CompletionService(settings, lambda _: engine, ClientLog(lambda level, msg: None), Stats())

    async def scenario() -> tuple[object, object]:
        first = asyncio.ensure_future(service.complete("file:///a.py", CompletionRequest("y = ", 0, 4)))
        await asyncio.sleep(0.2)  # the first is generating now
        second = await service.complete("file:///a.py", CompletionRequest("z = ", 0, 4))  # not typing forward
        return await first, second

    first, second = asyncio.run(scenario())
    assert first is None and service.stats.superseded == 1 and engine.cancelled == 1
    assert [s.text for s in second.suggestions] == ["x + 1"]


def _typing_forward(answer: str, typed: str, debounce_ms: int = 0) -> tuple[object, object, GatedEngine, Stats]:
    """A request whose model run is under way, the client cancels it ($/cancelRequest), and the user types `typed`
    at its cursor: the newer request is made while the older run still holds the model."""
    engine = GatedEngine(answer)
    settings = Settings()
    settings.completion.debounce_ms = debounce_ms
    settings.safety.enabled = False
    stats = Stats()
    service = CompletionService(settings, lambda _: engine, ClientLog(lambda level, msg: None), stats)

    async def scenario() -> tuple[object, object]:
        first = asyncio.ensure_future(service.complete("file:///a.py", CompletionRequest("y = ", 0, 4),
                                                       invoked=True))
        while not engine.running.is_set():
            await asyncio.sleep(0.005)
        first.cancel()  # the editor gave up on it: its run goes on
        second = asyncio.ensure_future(service.complete("file:///a.py", CompletionRequest("y = " + typed, 0,
                                                                                          4 + len(typed)),
                                                        invoked=False))  # automatic: it has a debounce
        await asyncio.sleep(0.05)
        assert not second.done()  # it waits for the run of the first
        engine.gate.set()
        try:
            await first
        except asyncio.CancelledError:
            pass
        result = await asyncio.wait_for(second, 5)
        await service.aclose()
        return first, result

    first, second = asyncio.run(scenario())
    return first, second, engine, stats


def test_typing_forward_into_a_running_generation_is_answered_by_it():
    _, second, engine, stats = _typing_forward("x + 1", "x ")
    assert [s.text for s in second.suggestions] == ["+ 1"]  # the first run's answer, advanced by what was typed
    assert engine.calls == 1 and engine.cancelled == 0
    assert stats.adopted == 1 and stats.cancelled == 1 and stats.superseded == 0


def test_typing_forward_away_from_the_running_generation_asks_the_model_again_without_a_debounce():
    # the request waited for the first run already; a debounce on top would hold it 10 s (wait_for: 5 s)
    _, second, engine, stats = _typing_forward("x + 1", "2 * ", debounce_ms=10_000)
    assert engine.calls == 2 and stats.adopted == 0  # the first run finished, then the second asked anew
    assert [s.text for s in second.suggestions] == ["x + 1"]


class RecordingFactory:
    """Loads a SlowEngine per model name after `load_s` seconds and remembers each engine it made."""

    def __init__(self, load_s: float) -> None:
        self.load_s = load_s
        self.made: dict[str, SlowEngine] = {}
        self.closed: list[str] = []

    def __call__(self, engine_settings: object) -> Engine:
        time.sleep(self.load_s)
        name = engine_settings.model  # type: ignore[attr-defined]
        engine = SlowEngine(busy_s=0.0)
        engine.close = lambda: self.closed.append(name)  # type: ignore[method-assign]
        self.made[name] = engine
        return engine


def _settings(model: str) -> Settings:
    settings = Settings()
    settings.completion.debounce_ms = 0
    settings.engine.model = model
    return settings


def test_new_settings_while_the_engine_loads_close_the_superseded_engine_without_errors():
    factory = RecordingFactory(load_s=0.3)
    logged: list[str] = []
    service = CompletionService(_settings("first"), factory, ClientLog(lambda level, msg: logged.append(msg)),
                                Stats())

    async def scenario() -> tuple[object, object]:
        early = asyncio.ensure_future(service.complete("file:///a.py", CompletionRequest("y = ", 0, 4)))
        await asyncio.sleep(0.1)  # "first" is loading now
        service.update(_settings("second"))
        late = await service.complete("file:///b.py", CompletionRequest("y = ", 0, 4))
        result = await early, late
        await service.aclose()
        return result

    early, late = asyncio.run(scenario())
    assert service.stats.errors == 0, logged
    assert early is not None and late is not None  # the early request is served by the engine now in force
    assert sorted(factory.made) == ["first", "second"]
    assert sorted(factory.closed) == ["first", "second"]  # the superseded one too, not only the last


def test_closing_while_the_engine_loads_closes_it_once_loaded():
    factory = RecordingFactory(load_s=0.3)
    service = CompletionService(_settings("only"), factory, ClientLog(lambda level, msg: None), Stats())

    async def scenario() -> None:
        request = asyncio.ensure_future(service.complete("file:///a.py", CompletionRequest("y = ", 0, 4)))
        await asyncio.sleep(0.1)
        await service.aclose()
        await asyncio.gather(request, return_exceptions=True)

    asyncio.run(scenario())
    assert factory.closed == ["only"]


class CountingBlocksEngine(StubbornEngine):
    """`count_tokens` waits on an event: a close that does not wait for it frees the model under the call."""

    def __init__(self) -> None:
        super().__init__(busy_s=0.0)
        self.release = threading.Event()
        self.counting = threading.Event()
        self.closed = threading.Event()
        self.closed_while_counting = False

    def count_tokens(self, text: str) -> int:
        self.counting.set()
        self.release.wait(10)
        self.counting.clear()
        return len(text)

    def close(self) -> None:
        self.closed_while_counting = self.counting.is_set()
        self.closed.set()


def test_a_settings_change_never_closes_the_engine_while_a_request_counts_tokens():
    """Deterministic interleaving: request 1 blocks inside count_tokens; the settings change and request 2
    makes the service replace the engine; the old one must stay open until request 1 leaves the engine."""
    first, second = CountingBlocksEngine(), StubbornEngine(busy_s=0.0)
    engines = iter([first, second])
    settings = Settings()
    settings.completion.debounce_ms = 0
    service = CompletionService(settings, lambda _: next(engines), ClientLog(lambda level, msg: None), Stats())

    async def scenario() -> None:
        one = asyncio.ensure_future(service.complete("file:///a.py", CompletionRequest("y = ", 0, 4)))
        await asyncio.to_thread(first.counting.wait, 10)
        changed = Settings()
        changed.completion.debounce_ms = 0
        changed.engine.n_ctx = 2048  # a new load key: the engine is replaced
        service.update(changed)
        two = asyncio.ensure_future(service.complete("file:///b.py", CompletionRequest("z = ", 0, 4)))
        await two  # request 2 ran on the new engine; the old one is now queued for closing
        closed_early = await asyncio.to_thread(first.closed.wait, 1.0)  # a wrong close happens within this wait
        assert not closed_early, "the engine was closed while a request was counting its tokens"
        first.release.set()
        await asyncio.gather(one, two)
        await service.aclose()

    asyncio.run(scenario())
    assert first.closed.is_set() and not first.closed_while_counting
