"""The completion service: engine lifetime, debounce and cancel-previous per document, the typing-forward cache,
timeouts, and one clear log line per fault. The work itself is the core pipeline's."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, replace

from codeward.completion.modes import choose_mode
from codeward.completion.pipeline import Pipeline, RequestError, cold_context, validate
from codeward.completion.text import Cursor
from codeward.completion.types import CompletionRequest, CompletionResult
from codeward.config import Settings
from codeward.lsp_server.cache import SuggestionCache
from codeward.lsp_server.debounce import TypingRhythm
from codeward.lsp_server.engine_close import close_loaded
from codeward.lsp_server.flights import Flight
from codeward.lsp_server.prefill import BackgroundPrefill
from codeward.lsp_server.telemetry import WINDOW, ClientLog, Stats
from codeward.model.base import Engine, EngineError
from codeward.model.settings import EngineSettings
from codeward.safety.api import warm_up
from codeward.safety.settings import SafetySettings

EngineFactory = Callable[[EngineSettings], Engine]
log = logging.getLogger("codeward.lsp")


class CompletionService:
    """Turns (document, cursor) requests into pipeline results for the LSP handlers; never raises for faults."""

    def __init__(self, settings: Settings, engine_factory: EngineFactory, client_log: ClientLog,
                 stats: Stats) -> None:
        self.settings = settings
        self._factory = engine_factory
        self._log = client_log
        self.stats = stats
        self.cache = SuggestionCache(settings.completion.cache_size)
        self._engine: Engine | None = None
        self._engine_settings: EngineSettings | None = None
        self._loading: asyncio.Future[Engine] | None = None
        self._pipeline: Pipeline | None = None
        self._engine_lock = asyncio.Lock()
        self._inflight: dict[str, Flight] = {}
        self._in_engine = 0  # requests past their debounce: in the pipeline, waiting for or using the model
        self._closing: set[asyncio.Future[None]] = set()
        self.rhythm = TypingRhythm()
        self.prefill = BackgroundPrefill(stats, self._get_pipeline)

    def engine_counters(self) -> dict[str, int]:
        """The loaded engine's counters (speculative tokens, KV reuse); empty before it loads."""
        engine = self._engine
        try:
            return dict(engine.counters()) if engine is not None else {}
        except Exception as exc:  # noqa: BLE001 - stats must answer even when the engine misbehaves
            log.debug("engine counters failed: %s", exc)
            return {}

    def changed(self, uri: str, request: CompletionRequest | None) -> None:
        """The document changed (typing): note the rhythm; prefill at `request` after a pause. When the edit is on
        another line than the last one (the user moved: the prompt head there is new), ask the model at the edit at
        once (`prefetch`), or prefill there at once where no single-line suggestion is wanted; when it leaves the
        suggestion shown there, ask the model at once too (`prefetch_on_miss`)."""
        moved = self.rhythm.changed(uri, line=None if request is None else request.line,
                                    column=None if request is None else request.column)
        if request is not None and self._prefetch(uri, request, moved):
            return
        self.schedule_prefill(uri, request, 0.0 if moved else None)

    def _prefetch(self, uri: str, request: CompletionRequest, moved: bool) -> bool:
        """Start a model run at the edit, before any request asks, when the user moved (completion.prefetch) or
        typed off the shown suggestion (completion.prefetch_on_miss): the requests of the keystrokes that type
        forward from it wait for it and are answered from it while what was typed matches, the others cancel it.
        Single-line places only (a multi-line answer would hold the model for seconds); False when it did not
        start."""
        c = self.settings.completion
        if not (c.enabled and (c.prefetch if moved else c.prefetch_on_miss)):
            return False
        try:
            cursor = validate(request, c)
        except RequestError:
            return False
        previous = self._inflight.get(uri)
        if not moved and (not self.rhythm.forward(uri) or not self.cache.typed_off(uri, request, cursor) or (
                previous is not None and previous.in_engine and previous.extended_by(request, cursor))):
            return False  # deleting, still on the shown suggestion, or typing along a run that is under way
        if choose_mode(request.text, cursor, c.mode, c.stop_preset).kind != "single":
            return False
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        self._start(uri, request, cursor, 0.0, prefetch=True)
        log.debug("prefetch at %s:%d:%d (%s)", uri, request.line, request.column, "move" if moved else "miss")
        self.stats.prefetches += 1
        self.stats.prefetches_on_miss += not moved
        return True

    def _start(self, uri: str, request: CompletionRequest, cursor: Cursor, delay_s: float,
               prefetch: bool = False) -> Flight:
        """Start `uri`'s model run for `request` after `delay_s` (the debounce); its result lands in the cache.
        A prefetch is in the engine from the start: typing forward from it adopts it at once."""
        flight = Flight(request, cursor)
        flight.in_engine = flight.prefetch = prefetch
        flight.task = asyncio.ensure_future(self._run(uri, request, delay_s, flight))
        self._inflight[uri] = flight
        flight.task.add_done_callback(functools.partial(self._landed, uri, flight, request, cursor))
        return flight

    def schedule_prefill(self, uri: str, request: CompletionRequest | None, delay_ms: float | None = None) -> None:
        """Background prefill of `request`'s prompt head into `uri`'s context (completion.prefill_delay_ms)."""
        c = self.settings.completion
        if request is None or not c.enabled or c.prefill_delay_ms <= 0:
            return
        self.prefill.schedule(uri, request, (c.prefill_delay_ms if delay_ms is None else delay_ms) / 1000)

    def forget(self, uri: str) -> None:
        """The document was closed: stop its model run, drop its cached result, rhythm and model contexts."""
        flight = self._inflight.pop(uri, None)
        if flight is not None and flight.task is not None:
            flight.task.cancel()  # a run the editor gave up on would otherwise land in the cache after this
        self.cache.forget(uri)
        self.rhythm.forget(uri)
        if self.prefill.target == uri:
            self.prefill.cancel()
        engine = self._engine
        if engine is not None:
            for key in (uri, cold_context(uri)):
                engine.forget_context(key)

    def update(self, settings: Settings) -> None:
        """New settings: the pipeline is rebuilt; the engine is reloaded on the next request if its section
        changed; cached results are dropped (they may break the new policy), ids stay known for accept."""
        self.settings = settings
        self._pipeline = None
        self.cache.clear_results(settings.completion.cache_size)

    async def _get_pipeline(self) -> Pipeline:
        """The pipeline for the settings in force, loading their engine first if needed (again if the settings
        change while it loads)."""
        while True:
            wanted = self.settings.engine
            if self._engine is not None and self._engine_settings == wanted:
                if self._pipeline is None:
                    self._pipeline = Pipeline(self.settings.pipeline(), self._engine, self._engine_lock)
                return self._pipeline
            await self._load_engine(replace(wanted))

    def _load_warm(self, wanted: EngineSettings, safety: SafetySettings) -> Engine:
        """The engine for `wanted`, and the safety checkers warmed while the model loads (same thread)."""
        engine = self._factory(wanted)
        if self.settings.completion.token_healing:
            try:
                engine.warm_healing()
            except Exception:  # healing is an aid: requests heal (or fail) on their own later
                log.exception("preparing token healing failed")
        if safety.enabled:
            warm_up(safety)
            self.stats.safety_warmed = True
        return engine

    async def _load_engine(self, wanted: EngineSettings) -> None:
        """Load the engine once for concurrent requests; a cancelled request does not cancel the load.

        A load superseded by newer settings, and the engine it replaces, are closed once idle."""
        if self._loading is None or self._engine_settings != wanted:
            if self._loading is not None:
                self._close_later(self._loading, self._engine_lock)
            self._engine, self._engine_settings, self._pipeline = None, wanted, None
            self._engine_lock = asyncio.Lock()
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load_warm, wanted, self.settings.safety))
        loading = self._loading
        try:
            engine = await asyncio.shield(loading)
        except Exception:
            if self._loading is loading:
                self._loading, self._engine_settings = None, None  # try again on the next request
            raise
        if self._loading is loading:
            self._engine = engine

    async def complete(self, uri: str, request: CompletionRequest, invoked: bool = True) -> CompletionResult | None:
        """The result for `request`, or None (superseded, cancelled, timed out, failed: logged once per kind of
        fault). An automatic request (`invoked` False) waits the adaptive debounce first; an explicit one not."""
        self.stats.requests += 1
        started = time.perf_counter()
        try:
            cursor = validate(request, self.settings.completion)
        except RequestError as exc:
            self.stats.rejected += 1
            self._fault(exc.kind, f"{uri}: {exc}")
            return None
        cached = self.cache.lookup(uri, request, cursor)
        if cached is not None:
            self.stats.cache_hits += 1
            self._record(cached, started)
            self.stats.cache_ms.append((time.perf_counter() - started) * 1e3)
            return cached
        adopted, waited_ms = await self._join(uri, request, cursor, started)
        if adopted is not None or waited_ms is None:
            return adopted  # answered by a run under way, or superseded by one started for a later keystroke
        c = self.settings.completion
        delay_ms = 0.0 if waited_ms else self.rhythm.delay_ms(uri, c.debounce_ms, c.adaptive_debounce, invoked)
        flight = self._start(uri, request, cursor, delay_ms / 1000)
        task = flight.task
        assert task is not None
        try:
            done, _ = await asyncio.wait({task}, timeout=delay_ms / 1000 + c.timeout_s)
        except asyncio.CancelledError:  # the client cancelled the request ($/cancelRequest)
            if not flight.in_engine:
                task.cancel()  # still in its debounce; past it, its answer may serve the typing that follows
            self.stats.cancelled += 1
            raise
        return self._outcome(uri, request, cursor, task, done, started, delay_ms, waited_ms)

    async def _join(self, uri: str, request: CompletionRequest, cursor: Cursor,
                    started: float) -> tuple[CompletionResult | None, float | None]:
        """Settle with the document's model run under way: wait for it while `request` types forward from it and
        answer from it; cancel it when the request went elsewhere. (answer, None) when it answered; (None, None)
        when a run started for a later keystroke supersedes the request; else (None, ms waited for runs that
        what was typed since has left), and the request asks the model itself."""
        waited_ms, seen = 0.0, set[Flight]()
        while (flight := self._inflight.get(uri)) is not None and flight.task is not None \
                and not flight.task.done() and flight not in seen:
            seen.add(flight)  # a run that timed out while waited for is not waited for again
            if flight.ahead_of(request, cursor):
                self.stats.superseded += 1
                return None, None
            if not (flight.in_engine and flight.extended_by(request, cursor)):
                flight.task.cancel()
                break
            adopted = await self._adopt(uri, flight, request, cursor, started)
            if adopted is not None:
                return adopted, None
            waited_ms = (time.perf_counter() - started) * 1e3
        if waited_ms:
            self.stats.waited_run_ms.append(waited_ms)
        return None, waited_ms

    async def _adopt(self, uri: str, flight: Flight, request: CompletionRequest, cursor: Cursor,
                     started: float) -> CompletionResult | None:
        """Wait for the model run of an earlier keystroke that `request` types forward from, and answer with its
        suggestions advanced by what was typed (None when none of them starts with it)."""
        assert flight.task is not None
        try:
            done, _ = await asyncio.wait({flight.task}, timeout=self.settings.completion.timeout_s)
        except asyncio.CancelledError:
            self.stats.cancelled += 1
            raise
        if not done:
            flight.task.cancel()
            return None
        cached = self.cache.lookup(uri, request, cursor)  # the run stored its result when it landed
        if cached is None:
            return None
        self.stats.adopted += 1
        self._record(cached, started)
        elapsed = (time.perf_counter() - started) * 1e3
        self.stats.adopted_ms.append(elapsed)
        if cached.suggestions:  # a model run answered it: counted with the model-served answers too
            self.stats.request_ms.setdefault(cached.mode, deque(maxlen=WINDOW)).append(elapsed)
        return cached

    def _landed(self, uri: str, flight: Flight, request: CompletionRequest, cursor: Cursor,
                task: asyncio.Task[CompletionResult]) -> None:
        """A model run ended (whether or not its request still waits): keep its result for typing forward."""
        if self._inflight.get(uri) is flight:
            del self._inflight[uri]
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        log.debug("run for %s:%d:%d landed: %d suggestion(s)%s, engine %.0f ms", uri, request.line,
                  request.column, len(result.suggestions), " (short context)" if result.cold else "",
                  result.timings_ms.get("engine", 0.0))
        self.cache.store(uri, request, cursor, result)
        for s in result.blocked:
            self.cache.remember(uri, s)
        self.stats.engine_ms.append(result.timings_ms.get("engine", 0.0))
        if result.cold:
            self.stats.cold_short += 1
            self.schedule_prefill(uri, request)  # the full context, behind the short answer, at the next pause

    def _outcome(self, uri: str, request: CompletionRequest, cursor: object, task: asyncio.Task,
                 done: set, started: float, delay_ms: float, waited_ms: float = 0.0) -> CompletionResult | None:
        c = self.settings.completion
        if task not in done:
            task.cancel()
            self.stats.timeouts += 1
            self._fault("timeout", f"the model gave no answer within completion.timeout_s = {c.timeout_s} s "
                        f"for {uri}; the request returns nothing (raise the timeout or use a smaller model)")
            return None
        if task.cancelled():
            self.stats.superseded += 1
            return None
        exc = task.exception()
        if exc is not None:
            kind = "engine" if isinstance(exc, EngineError) else "request" if isinstance(exc, RequestError) \
                else "internal"
            if kind == "request":
                self.stats.rejected += 1  # a request the pipeline cannot serve, not a failure of the server
            else:
                self.stats.errors += 1
            if kind == "internal":
                log.error("completion failed", exc_info=exc)
            self._fault(kind, f"no completion for {uri}: {type(exc).__name__}: {exc}")
            return None
        result = task.result()  # kept in the cache by `_landed`
        self._record(result, started)
        if result.suggestions:  # an answer's latency: from the request to it, less the debounce wait
            elapsed = (time.perf_counter() - started) * 1e3 - delay_ms
            self.stats.request_ms.setdefault(result.mode, deque(maxlen=WINDOW)).append(elapsed)
            # the server's own share: less the engine's time for this answer and for the earlier run it waited for
            overhead = elapsed - result.timings_ms.get("engine", 0.0) - waited_ms
            self.stats.overhead_ms.append(overhead)
            self.stats.overhead_share.append(overhead / elapsed if elapsed > 0 else 0.0)
            for stage, ms in result.timings_ms.items():
                self.stats.stage_ms.setdefault(stage, deque(maxlen=WINDOW)).append(ms)
        return result

    async def _run(self, uri: str, request: CompletionRequest, delay: float, flight: Flight) -> CompletionResult:
        if delay > 0:
            await asyncio.sleep(delay)  # a newer keystroke cancels this task while it sleeps
        flight.in_engine = True
        if not flight.prefetch:
            self.stats.debounce_ms.append(delay * 1000)
        self.prefill.cancel()  # the engine is this request's now (a request still in its debounce leaves it be)
        for key, other in list(self._inflight.items()):
            if key != uri and other.prefetch and other.task is not None:
                other.task.cancel()  # a prefetch of another document gives way to any run
        self._in_engine += 1
        try:
            pipeline = await self._get_pipeline()
            return await pipeline.complete(request, context=uri)
        finally:
            self._in_engine -= 1

    def busy(self) -> bool:
        """Whether a completion request is past its debounce (the model is, or is about to be, working for it)."""
        return self._in_engine > 0

    def _record(self, result: CompletionResult, started: float) -> None:
        s = self.stats
        s.completed += 1
        s.empty += not result.suggestions
        s.shown += len(result.suggestions)
        s.warned += sum(1 for x in result.suggestions if x.verdict == "warn")
        s.blocked += len(result.blocked)
        s.check_errors += sum(1 for o in result.outcomes if o.suggestion and o.suggestion.verdict == "error")
        s.unchecked += sum(1 for x in result.suggestions if x.verdict == "unchecked")
        s.bug_copies += sum(1 for x in [*result.suggestions, *result.blocked] if x.copies_bug)
        s.policy_instructed += result.policy.get("instructed", 0)
        s.policy_elided_lines += result.policy.get("elided_lines", 0)
        s.policy_excluded_snippets += result.policy.get("excluded_snippets", 0)
        s.last_prompt = result.prompt
        s.last_suggestions = [o.as_dict() for o in result.outcomes]

    def _fault(self, kind: str, message: str) -> None:
        self._log(kind, message, logging.WARNING)

    def settings_dict(self) -> dict:
        """The settings in force (for `codeward/stats`)."""
        return asdict(self.settings)

    def _close_later(self, loading: asyncio.Future[Engine], lock: asyncio.Lock) -> None:
        closing = asyncio.ensure_future(close_loaded(loading, lock))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Stop work in flight and release the engine (also one still loading, and those replaced before)."""
        self.prefill.cancel()
        for flight in self._inflight.values():
            if flight.task is not None:
                flight.task.cancel()
        if self._loading is not None:
            # A timed-out generation may still be running in its thread: close only once it has stopped.
            self._close_later(self._loading, self._engine_lock)
        self._loading, self._engine, self._engine_settings, self._pipeline = None, None, None, None
        closing, self._closing = list(self._closing), set()
        await asyncio.gather(*closing)
