"""The completion service's speed machinery, in-process, orderings forced by an engine that blocks on events:
$/cancelRequest really stops the engine, background prefill runs after a pause and yields to any request, a
cold cache is answered from the short context while the full one fills in, and the debounce follows the typing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from codeward.completion.types import CompletionRequest
from codeward.config import Settings
from codeward.lsp_server.completions import CompletionService
from codeward.lsp_server.debounce import TypingRhythm
from codeward.lsp_server.telemetry import ClientLog, Stats, percentiles
from codeward.model.base import Cancelled, Engine, EngineInfo, PromptLike, Sample, SamplingParams, as_prompt

URI = "file:///speed/a.py"
BODY = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(60))  # ~480 tokens at 4 chars each
DOC = BODY + "def g(y):\n    return y"


class GatedEngine(Engine):
    """generate and prefill block until released (or cancelled); every call is recorded with its context."""

    def __init__(self) -> None:
        self.info = EngineInfo(engine="gated", model="gated")
        self.release, self.prefill_release = threading.Event(), threading.Event()
        self.generating, self.prefilling = threading.Event(), threading.Event()
        self.calls: list[tuple[str, str | None, str]] = []
        self.context: str | None = None
        self.missing = 0  # tokens cached_tokens reports missing in a context no call has run in yet
        self.filled: set[str | None] = set()  # contexts a generate or prefill ran in
        self.stopped = 0

    def use_context(self, key: str | None) -> None:
        self.context = key

    def cached_tokens(self, prompt: PromptLike, context: str | None = None) -> tuple[int, int]:
        total = self.count_tokens(as_prompt(prompt).text)
        filled = (self.context if context is None else context) in self.filled
        return max(0, total - (0 if filled else self.missing)), total

    def generate(self, prompts: Sequence[PromptLike], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        self.calls.append(("generate", self.context, as_prompt(prompts[0]).text))
        self.filled.add(self.context)
        self.generating.set()
        while not self.release.wait(0.005):
            if cancel is not None and cancel.is_set():
                self.stopped += 1
                raise Cancelled("cancelled")
        return [[Sample("x + 1", "stop", -1.0, 3)] for _ in prompts]

    def prefill(self, prompt: PromptLike, cancel: threading.Event | None = None) -> int:
        self.calls.append(("prefill", self.context, as_prompt(prompt).text))
        self.filled.add(self.context)
        self.prefilling.set()
        while not self.prefill_release.wait(0.005):
            if cancel is not None and cancel.is_set():
                return 0
        return 7

    def score(self, prompt: PromptLike, continuation: str) -> float:
        return 0.0

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1


def service_for(engine: GatedEngine, **completion: object) -> CompletionService:
    settings = Settings()
    settings.engine.template = "prefix"
    settings.completion.debounce_ms = 0
    settings.completion.cold_tokens = 0
    settings.completion.prefill_delay_ms = 1
    settings.completion.prefetch = False  # these tests force the prefill's orderings; prefetch: test_service.py
    for key, value in completion.items():
        setattr(settings.completion, key, value)
    return CompletionService(settings, lambda _: engine, ClientLog(lambda level, msg: None), Stats())


def request(text: str = DOC) -> CompletionRequest:
    line = text.count("\n")
    return CompletionRequest(text, line, len(text.split("\n")[-1]), path="/speed/a.py")


async def until(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 30), "the engine was never called"


def test_cancel_request_stops_the_engine_and_counts_as_cancelled():
    engine = GatedEngine()
    service = service_for(engine)

    async def scenario() -> None:
        task = asyncio.ensure_future(service.complete(URI, request()))
        await until(engine.generating)
        task.cancel()  # what pygls does on $/cancelRequest
        with pytest.raises(asyncio.CancelledError):
            await task
        await service.aclose()

    asyncio.run(scenario())
    assert service.stats.cancelled == 1 and service.stats.superseded == 0 and engine.stopped == 1


def test_a_pause_prefills_the_lines_above_the_cursor_into_the_documents_context():
    engine = GatedEngine()
    engine.prefill_release.set()
    service = service_for(engine)

    async def scenario() -> None:
        service.changed(URI, request())
        await service.prefill.wait()

    asyncio.run(scenario())
    (call,) = engine.calls
    assert call[0] == "prefill" and call[1] == URI
    assert call[2] == DOC[: DOC.rindex("\n") + 1]  # up to the cursor's line, which is the request's to pay
    assert service.stats.prefills == 1


def test_an_edit_on_another_line_prefills_at_once_and_typing_on_the_same_line_waits_the_pause():
    engine = GatedEngine()
    engine.prefill_release.set()
    service = service_for(engine, prefill_delay_ms=60_000)  # a pause that never comes in this test

    async def scenario() -> None:
        service.changed(URI, request())  # the first edit in the document: a move
        await service.prefill.wait()
        assert [c[0] for c in engine.calls] == ["prefill"]
        service.changed(URI, request(DOC + " +"))  # typing on the same line: its prefill waits for the pause
        await asyncio.sleep(0.05)
        assert len(engine.calls) == 1 and service.prefill.target == URI
        moved = BODY[: BODY.rindex("\n", 0, len(BODY) - 1) + 1] + "    return y"  # an edit a few lines up
        service.changed(URI, request(moved))
        await service.prefill.wait()
        service.prefill.cancel()

    asyncio.run(scenario())
    assert [c[0] for c in engine.calls] == ["prefill", "prefill"]


def test_a_request_interrupts_a_running_prefill():
    engine = GatedEngine()
    engine.release.set()
    service = service_for(engine)

    async def scenario() -> object:
        service.schedule_prefill(URI, request())
        await until(engine.prefilling)
        result = await service.complete(URI, request())
        await service.aclose()
        return result

    result = asyncio.run(scenario())
    assert [s.text for s in result.suggestions] == ["x + 1"]
    assert [c[0] for c in engine.calls] == ["prefill", "generate"]
    assert service.stats.prefills_cancelled == 1 and service.stats.prefills == 0


def test_a_cold_cache_is_answered_from_the_short_context_and_the_full_one_prefilled_behind_it():
    engine = GatedEngine()
    engine.release.set()
    engine.prefill_release.set()
    engine.missing = 10_000  # nothing of the full prompt is cached
    service = service_for(engine, cold_tokens=256, cold_prefix_tokens=64)

    async def scenario() -> object:
        result = await service.complete(URI, request())
        await service.prefill.wait()
        return result

    result = asyncio.run(scenario())
    assert result.cold is True and service.stats.cold_short == 1
    (generate, prefill) = engine.calls
    assert generate[0] == "generate" and generate[1] == f"{URI}#cold"  # the document's context stays for the fill
    assert engine.count_tokens(generate[2]) <= 64 + 8
    assert prefill[0] == "prefill" and prefill[1] == URI and len(prefill[2]) > 4 * len(generate[2])
    assert service.stats.prefills == 1


def test_the_short_context_leaves_out_snippets_of_other_documents_and_the_full_one_keeps_them():
    from dataclasses import replace

    from codeward.completion.snippets import OtherDocument

    engine = GatedEngine()
    engine.release.set()
    engine.prefill_release.set()
    engine.missing = 10_000
    service = service_for(engine, cold_tokens=256, cold_prefix_tokens=64)
    other = OtherDocument("/speed/helpers.py", "def scaled_total(y):\n    return y * 2  # marker-from-helpers\n")
    with_other = replace(request(BODY + "def g(y):\n    total = scaled_total(y)\n    return "),
                         other_documents=(other,))

    async def scenario() -> None:
        await service.complete(URI, with_other)
        await service.prefill.wait()

    asyncio.run(scenario())
    (generate, prefill) = engine.calls
    assert generate[1] == f"{URI}#cold" and "marker-from-helpers" not in generate[2]
    assert prefill[1] == URI and "marker-from-helpers" in prefill[2]


def test_a_warm_cache_is_answered_from_the_full_context():
    engine = GatedEngine()
    engine.release.set()
    engine.missing = 20  # only the cursor's line is missing
    service = service_for(engine, cold_tokens=256, cold_prefix_tokens=64)
    result = asyncio.run(service.complete(URI, request()))
    assert result.cold is False and engine.calls[0][1] == URI
    assert engine.calls[0][2] == DOC  # the whole document fits the full budget


def test_the_debounce_follows_the_typing_rhythm_and_explicit_requests_never_wait():
    rhythm = TypingRhythm()
    assert rhythm.delay_ms(URI, 150) == 150  # rhythm unknown yet
    for i in range(6):
        rhythm.changed(URI, now=10.0 + 0.08 * i)  # a fast typist: 80 ms between keys
    assert rhythm.delay_ms(URI, 150) == pytest.approx(120)
    assert rhythm.delay_ms(URI, 150, invoked=True) == 0
    assert rhythm.delay_ms(URI, 150, adaptive=False) == 150
    slow = TypingRhythm()
    for i in range(6):
        slow.changed(URI, now=20.0 + 0.5 * i)
    assert slow.delay_ms(URI, 150) == 300  # capped at twice the setting
    slow.changed(URI, now=60.0)  # a long pause is not part of the rhythm
    assert slow.delay_ms(URI, 150) == 300


def test_an_automatic_request_waits_the_debounce_and_an_invoked_one_does_not():
    engine = GatedEngine()
    engine.release.set()
    service = service_for(engine, debounce_ms=30)

    async def scenario() -> None:
        await service.complete(URI, request(), invoked=False)
        await service.complete(URI, request("x = 1\ny = "), invoked=True)

    asyncio.run(scenario())
    assert list(service.stats.debounce_ms) == [30.0, 0.0]


def test_percentiles_are_nearest_rank():
    assert percentiles(range(1, 101)) == {"p50": 50, "p95": 95, "p99": 99, "count": 100}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None, "count": 0}


def test_an_edit_during_a_running_prefill_of_its_document_lets_it_finish_and_follows_it():
    engine = GatedEngine()
    service = service_for(engine)

    async def scenario() -> None:
        service.changed(URI, request())
        await until(engine.prefilling)
        service.changed(URI, request(DOC + " + 1"))  # the next keystroke: the running prefill goes on
        engine.prefill_release.set()
        await service.prefill.wait()

    asyncio.run(scenario())
    assert [c[0] for c in engine.calls] == ["prefill", "prefill"]
    assert service.stats.prefills == 2 and service.stats.prefills_cancelled == 0


def test_a_pause_at_a_new_place_prefills_the_short_context_first_then_the_full_one():
    engine = GatedEngine()
    engine.prefill_release.set()
    engine.missing = 10_000  # a new place in the file: nothing of either prompt is cached
    service = service_for(engine, cold_tokens=256, cold_prefix_tokens=64)

    async def scenario() -> None:
        service.changed(URI, request())
        await service.prefill.wait()

    asyncio.run(scenario())
    (short, full) = engine.calls
    assert short[:2] == ("prefill", f"{URI}#cold") and full[:2] == ("prefill", URI)
    assert engine.count_tokens(short[2]) <= 64 + 8 and len(full[2]) > 4 * len(short[2])
    assert full[2] == DOC[: DOC.rindex("\n") + 1] and full[2].endswith(short[2])  # both end at the cursor's line
    assert service.stats.prefills == 1


def test_the_context_check_waits_for_a_running_completion_request_to_end():
    from codeward.lsp_server.context_diagnostics import ContextDiagnostics

    engine = GatedEngine()
    service = service_for(engine)
    settings = Settings()
    settings.context.diagnostics_delay_ms = 0
    checked: list[int] = []
    diagnostics = ContextDiagnostics(lambda uri: None, checked.append, service.busy)

    async def scenario() -> None:
        task = asyncio.ensure_future(service.complete(URI, request()))
        await until(engine.generating)  # a request is in the model
        assert service.busy()
        diagnostics.schedule(URI, "xs = [1]\nlast = xs[len(xs)]\n", 1, settings)
        for _ in range(10):  # the check's delay has passed many times over: it is waiting, not running
            await asyncio.sleep(0.01)
        assert checked == []
        engine.release.set()
        await task
        assert not service.busy()
        waiting = diagnostics._waiting[URI]
        await waiting
        await service.aclose()

    asyncio.run(scenario())
    assert checked == [1]  # it ran once the request had ended, and found the planted bug
