"""The request scheduler: when each document's model run starts, and which requests its answer serves.

An automatic request waits the adaptive debounce (`debounce.TypingRhythm`) before its run asks the model; a newer
request for the document cancels the older run (supersede) unless it types forward from a run already in the
engine: then it waits for that run and is answered from its result (adoption). An edit at a move, or one that types
off the shown suggestion, starts a run before any request asks (prefetch); after a pause the prompt head is
prefilled (`prefill.BackgroundPrefill`). Results land in the suggestion cache; what happened is reported to the
stats observer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from codeward.completion.modes import choose_mode
from codeward.completion.pipeline import RequestError, validate
from codeward.completion.text import Cursor
from codeward.completion.types import CompletionRequest, CompletionResult
from codeward.config import Settings
from codeward.lsp_server.cache import SuggestionCache, along_line, typed_since
from codeward.lsp_server.debounce import TypingRhythm
from codeward.lsp_server.engines import EngineHolder
from codeward.lsp_server.prefill import BackgroundPrefill
from codeward.lsp_server.telemetry import StatsObserver

log = logging.getLogger("codeward.lsp")


class Flight:
    """A request's model run for one document: where it asked (text before and after its cursor), and whether it
    is past its debounce (the model is, or is about to be, working for it)."""

    def __init__(self, request: CompletionRequest, cursor: Cursor) -> None:
        self.before, self.after = request.text[: cursor.offset], request.text[cursor.offset:]
        self.in_engine = False
        self.prefetch = False  # started at a move by the server itself, before any request asked
        self.task: asyncio.Task[CompletionResult] | None = None

    def extended_by(self, request: CompletionRequest, cursor: Cursor) -> bool:
        """Whether `request` is this one's document with a few characters typed at its cursor (typing forward): its
        answer, advanced by what was typed, may still hold."""
        return along_line(typed_since(self.before, self.after, request, cursor))

    def ahead_of(self, request: CompletionRequest, cursor: Cursor) -> bool:
        """Whether this run was started for a later keystroke than `request` (its document is `request`'s with
        more typed at the cursor): `request` is stale."""
        before, after = request.text[: cursor.offset], request.text[cursor.offset:]
        return after == self.after and len(self.before) > len(before) and self.before.startswith(before)


class RequestScheduler:
    """At most one model run per document (its `Flight`), started by a request or a prefetch."""

    def __init__(self, settings: Settings, engines: EngineHolder, cache: SuggestionCache,
                 observer: StatsObserver) -> None:
        self.settings = settings
        self._engines = engines
        self._cache = cache
        self._observer = observer
        self._inflight: dict[str, Flight] = {}
        self._in_engine = 0  # requests past their debounce: in the pipeline, waiting for or using the model
        self.rhythm = TypingRhythm()
        self.prefill = BackgroundPrefill(observer, engines.pipeline)

    def busy(self) -> bool:
        """Whether a completion request is past its debounce (the model is, or is about to be, working for it)."""
        return self._in_engine > 0

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

    def schedule_prefill(self, uri: str, request: CompletionRequest | None, delay_ms: float | None = None) -> None:
        """Background prefill of `request`'s prompt head into `uri`'s context (completion.prefill_delay_ms)."""
        c = self.settings.completion
        if request is None or not c.enabled or c.prefill_delay_ms <= 0:
            return
        self.prefill.schedule(uri, request, (c.prefill_delay_ms if delay_ms is None else delay_ms) / 1000)

    def forget(self, uri: str) -> None:
        """The document was closed: stop its model run and prefill, drop its rhythm."""
        flight = self._inflight.pop(uri, None)
        if flight is not None and flight.task is not None:
            flight.task.cancel()  # a run the editor gave up on would otherwise land in the cache after this
        self.rhythm.forget(uri)
        if self.prefill.target == uri:
            self.prefill.cancel()

    def cancel_all(self) -> None:
        """Stop the prefill and every model run (shutdown)."""
        self.prefill.cancel()
        for flight in self._inflight.values():
            if flight.task is not None:
                flight.task.cancel()

    async def complete(self, uri: str, request: CompletionRequest, invoked: bool = True) -> CompletionResult | None:
        """The result for `request`, or None (superseded, cancelled, timed out, failed: reported to the observer).
        An automatic request (`invoked` False) waits the adaptive debounce first; an explicit one not."""
        self._observer.requested()
        started = time.perf_counter()
        try:
            cursor = validate(request, self.settings.completion)
        except RequestError as exc:
            self._observer.rejected(uri, exc)
            return None
        cached = self._cache.lookup(uri, request, cursor)
        if cached is not None:
            self._observer.cache_hit(cached, started)
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
            self._observer.cancelled()
            raise
        return self._outcome(uri, task, done, started, delay_ms, waited_ms)

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
        if not moved and (not self.rhythm.forward(uri) or not self._cache.typed_off(uri, request, cursor) or (
                previous is not None and previous.in_engine and previous.extended_by(request, cursor))):
            return False  # deleting, still on the shown suggestion, or typing along a run that is under way
        if choose_mode(request.text, cursor, c.mode, c.stop_preset).kind != "single":
            return False
        if previous is not None and previous.task is not None:
            previous.task.cancel()
        self._start(uri, request, cursor, 0.0, prefetch=True)
        log.debug("prefetch at %s:%d:%d (%s)", uri, request.line, request.column, "move" if moved else "miss")
        self._observer.prefetched(moved)
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

    async def _run(self, uri: str, request: CompletionRequest, delay: float, flight: Flight) -> CompletionResult:
        if delay > 0:
            await asyncio.sleep(delay)  # a newer keystroke cancels this task while it sleeps
        flight.in_engine = True
        if not flight.prefetch:
            self._observer.debounced(delay)
        self.prefill.cancel()  # the engine is this request's now (a request still in its debounce leaves it be)
        for key, other in list(self._inflight.items()):
            if key != uri and other.prefetch and other.task is not None:
                other.task.cancel()  # a prefetch of another document gives way to any run
        self._in_engine += 1
        try:
            pipeline = await self._engines.pipeline()
            return await pipeline.complete(request, context=uri)
        finally:
            self._in_engine -= 1

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
                self._observer.superseded()
                return None, None
            if not (flight.in_engine and flight.extended_by(request, cursor)):
                flight.task.cancel()
                break
            adopted = await self._adopt(uri, flight, request, cursor, started)
            if adopted is not None:
                return adopted, None
            waited_ms = (time.perf_counter() - started) * 1e3
        if waited_ms:
            self._observer.waited(waited_ms)
        return None, waited_ms

    async def _adopt(self, uri: str, flight: Flight, request: CompletionRequest, cursor: Cursor,
                     started: float) -> CompletionResult | None:
        """Wait for the model run of an earlier keystroke that `request` types forward from, and answer with its
        suggestions advanced by what was typed (None when none of them starts with it)."""
        assert flight.task is not None
        try:
            done, _ = await asyncio.wait({flight.task}, timeout=self.settings.completion.timeout_s)
        except asyncio.CancelledError:
            self._observer.cancelled()
            raise
        if not done:
            flight.task.cancel()
            return None
        cached = self._cache.lookup(uri, request, cursor)  # the run stored its result when it landed
        if cached is None:
            return None
        self._observer.adopted(cached, started)
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
        self._cache.store(uri, request, cursor, result)
        for s in result.blocked:
            self._cache.remember(uri, s)
        self._observer.landed(result)
        if result.cold:
            self.schedule_prefill(uri, request)  # the full context, behind the short answer, at the next pause

    def _outcome(self, uri: str, task: asyncio.Task[CompletionResult], done: set, started: float,
                 delay_ms: float, waited_ms: float) -> CompletionResult | None:
        """How a request's own model run ended for it: its result (kept in the cache by `_landed`), or None."""
        if task not in done:
            task.cancel()
            self._observer.timed_out(uri, self.settings.completion.timeout_s)
            return None
        if task.cancelled():
            self._observer.superseded()
            return None
        exc = task.exception()
        if exc is not None:
            self._observer.failed(uri, exc)
            return None
        result = task.result()
        self._observer.answered(result, started, delay_ms, waited_ms)
        return result
