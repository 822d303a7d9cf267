"""Prefetch: the service asks the model at an edit before any request does (at a move, and when typing leaves the
shown suggestion), and the keystrokes that type forward from that run are answered by it."""

from __future__ import annotations

import asyncio

from codeward.completion.types import CompletionRequest
from codeward.config import Settings
from codeward.lsp_server.completions import CompletionService
from codeward.lsp_server.telemetry import ClientLog, Stats
from codeward.testing.gated_engines import GatedEngine, until_running


def _prefetching(answer: str, prefetch: bool = True) -> tuple[CompletionService, GatedEngine, Stats]:
    engine = GatedEngine(answer)
    settings = Settings()
    settings.completion.debounce_ms = 0
    settings.completion.prefetch = prefetch
    settings.safety.enabled = False
    stats = Stats()
    return CompletionService(settings, lambda _: engine, ClientLog(lambda level, msg: None), stats), engine, stats


def test_a_move_asks_the_model_at_the_edit_and_typing_forward_is_answered_by_that_run():
    service, engine, stats = _prefetching("x + 1")
    moved_to = CompletionRequest("a = 1\ny = ", 1, 4)

    async def scenario() -> object:
        service.changed("file:///a.py", moved_to)  # an edit on another line: no request has asked yet
        await until_running(engine)
        typed = CompletionRequest("a = 1\ny = x", 1, 5)
        service.changed("file:///a.py", typed)  # the next keystroke, same line: no new run
        second = asyncio.ensure_future(service.complete("file:///a.py", typed))
        await asyncio.sleep(0.05)
        assert not second.done()  # it waits for the run the move started
        engine.gate.set()
        result = await second
        await service.aclose()
        return result

    result = asyncio.run(scenario())
    assert [s.text for s in result.suggestions] == [" + 1"]
    assert engine.calls == 1 and stats.prefetches == 1 and stats.adopted == 1
    assert stats.requests == 1 and stats.prefills == 0  # the prefetch is not a request; it replaced the prefill


def test_a_request_elsewhere_cancels_the_prefetch_and_the_model_is_asked_for_it():
    service, engine, stats = _prefetching("x + 1")

    async def scenario() -> object:
        service.changed("file:///a.py", CompletionRequest("a = \ny = ", 1, 4))
        await until_running(engine)
        other = asyncio.ensure_future(service.complete("file:///a.py", CompletionRequest("a = \ny = ", 0, 4)))
        while engine.cancelled == 0:
            await asyncio.sleep(0.005)
        engine.gate.set()
        result = await other
        await service.aclose()
        return result

    result = asyncio.run(scenario())
    assert engine.cancelled == 1 and engine.calls == 2 and stats.adopted == 0
    assert [s.text for s in result.suggestions] == ["x + 1"]


def test_no_prefetch_where_a_multi_line_answer_is_wanted_or_when_it_is_off():
    for text, line, col, prefetch in (("def f(x):\n    ", 1, 4, True), ("a = 1\ny = ", 1, 4, False)):
        service, engine, stats = _prefetching("x + 1", prefetch)

        async def scenario(service: CompletionService, request: CompletionRequest) -> None:
            service.changed("file:///a.py", request)
            await asyncio.sleep(0.05)
            await service.aclose()

        asyncio.run(scenario(service, CompletionRequest(text, line, col)))
        assert stats.prefetches == 0 and engine.calls == 0, text


def test_typing_off_the_shown_suggestion_asks_the_model_at_once_and_the_keystroke_is_answered_by_that_run():
    service, engine, stats = _prefetching("x + 1")
    service.settings.completion.debounce_ms = 10_000  # a request of its own would wait this long: the test would
    uri = "file:///a.py"                              # time out if the model were not asked at the edit

    async def scenario() -> tuple[object, object, int, int]:
        engine.gate.set()
        service.changed(uri, CompletionRequest("y = ", 0, 4))  # the user moved here: the first run
        shown = await service.complete(uri, CompletionRequest("y = ", 0, 4))
        service.changed(uri, CompletionRequest("y = x", 0, 5))  # along the shown suggestion: no new run
        await asyncio.sleep(0.02)
        along = engine.calls
        engine.gate.clear()
        off = CompletionRequest("y = xz", 0, 6)
        service.changed(uri, off)  # another character than the suggestion's next one
        await asyncio.wait_for(until_running(engine), 2)  # the model was asked before any request
        adopted = stats.adopted
        answer = asyncio.ensure_future(service.complete(uri, off, invoked=False))
        await asyncio.sleep(0.05)
        assert not answer.done()  # it waits for the run the edit started, not for its debounce
        engine.gate.set()
        result = await asyncio.wait_for(answer, 5)
        await service.aclose()
        return shown, result, along, stats.adopted - adopted

    shown, result, along, adopted = asyncio.run(scenario())
    assert [s.text for s in shown.suggestions] == ["x + 1"] and along == 1
    assert [s.text for s in result.suggestions] == ["x + 1"] and adopted == 1
    assert engine.calls == 2 and stats.prefetches == 2 and stats.prefetches_on_miss == 1  # the move's, the miss's


def test_no_model_run_at_an_edit_that_types_off_the_suggestion_when_prefetch_on_miss_is_off():
    service, engine, stats = _prefetching("x + 1")
    service.settings.completion.prefetch_on_miss = False

    async def scenario() -> None:
        engine.gate.set()
        service.changed("file:///a.py", CompletionRequest("y = ", 0, 4))
        await service.complete("file:///a.py", CompletionRequest("y = ", 0, 4))
        service.changed("file:///a.py", CompletionRequest("y = z", 0, 5))
        await asyncio.sleep(0.05)
        await service.aclose()

    asyncio.run(scenario())
    assert engine.calls == 1 and stats.prefetches == 1 and stats.prefetches_on_miss == 0  # the move's only


def test_deleting_or_typing_past_the_suggestion_asks_the_model_only_when_typing_forward():
    service, engine, stats = _prefetching("x + 1")
    uri = "file:///a.py"

    async def scenario() -> list[int]:
        engine.gate.set()
        service.changed(uri, CompletionRequest("y = ", 0, 4))
        await service.complete(uri, CompletionRequest("y = ", 0, 4))
        calls = []
        for text in ("y = x", "y = x + 1", "y = x + 12", "y = x + 1", "y = x + "):
            service.changed(uri, CompletionRequest(text, 0, len(text)))
            await asyncio.sleep(0.05)
            calls.append(engine.calls)
        await service.aclose()
        return calls

    calls = asyncio.run(scenario())
    # along the suggestion: no run; to its end (used up): a run; off that run's answer: a run; deleting: none
    assert calls == [1, 2, 3, 3, 3] and stats.prefetches_on_miss == 2
