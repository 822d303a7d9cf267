"""Engine life in the language server: load, share, replace, close.

Each session's `EngineHolder` loads the engine its settings name (once for concurrent requests; a cancelled request
does not cancel the load), builds the pipeline on it, and replaces it when the engine settings change; a replaced
engine is closed only once the generation still running on it has stopped (closing llama.cpp under a running decode
crashes the process). The per-user server (`codeward serve --daemon`) gives its sessions an `EnginePool` as their
engine factory: one engine per model for every session (three editor windows must not load three models on two
cores), each session holding a `SharedEngine` view of it. Both key an engine on `load_key`: a change of a sampling
value (temperature, n, …) keeps the engine and its KV caches, and the rebuilt pipeline samples with the new values.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from codeward.completion.pipeline import Pipeline, cold_context
from codeward.config import Settings
from codeward.lsp_server.telemetry import StatsObserver
from codeward.model.base import Engine, PromptLike, Sample, SamplingParams
from codeward.model.settings import EngineSettings, LoadKey, load_key
from codeward.safety.api import warm_up
from codeward.safety.settings import SafetySettings

EngineFactory = Callable[[EngineSettings], Engine]
log = logging.getLogger("codeward.lsp")


class EngineHolder:
    """One session's engine and pipeline for the settings in force; the only owner of the engine and its lock."""

    def __init__(self, settings: Settings, factory: EngineFactory, observer: StatsObserver) -> None:
        self.settings = settings
        self._factory = factory
        self._observer = observer
        self._engine: Engine | None = None
        self._engine_key: LoadKey | None = None  # the load key of the engine loaded or loading
        self._loading: asyncio.Future[Engine] | None = None
        self._pipeline: Pipeline | None = None
        self._lock = asyncio.Lock()  # held by the pipeline's model calls, then by the close of a replaced engine
        self._closing: set[asyncio.Future[None]] = set()

    def update(self, settings: Settings) -> None:
        """New settings: the pipeline is rebuilt (with the new sampling values); the engine is reloaded on the next
        request only if its load key changed."""
        self.settings = settings
        self._pipeline = None

    def counters(self) -> dict[str, int]:
        """The loaded engine's counters (speculative tokens, KV reuse); empty before it loads."""
        engine = self._engine
        try:
            return dict(engine.counters()) if engine is not None else {}
        except Exception as exc:  # noqa: BLE001 - stats must answer even when the engine misbehaves
            log.debug("engine counters failed: %s", exc)
            return {}

    def forget(self, uri: str) -> None:
        """Drop a closed document's model contexts (its own and its cold one)."""
        engine = self._engine
        if engine is not None:
            for key in (uri, cold_context(uri)):
                engine.forget_context(key)

    async def pipeline(self) -> Pipeline:
        """The pipeline for the settings in force, loading their engine first if needed (again if the settings
        change while it loads)."""
        while True:
            wanted = self.settings.engine
            if self._engine is not None and self._engine_key == load_key(wanted):
                if self._pipeline is None:
                    self._pipeline = Pipeline(self.settings.pipeline(), self._engine, self._lock)
                return self._pipeline
            await self._load(replace(wanted))

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
            self._observer.safety_warmed()
        return engine

    async def _load(self, wanted: EngineSettings) -> None:
        """Load the engine once for concurrent requests; a cancelled request does not cancel the load.

        A load superseded by newer settings, and the engine it replaces, are closed once idle."""
        if self._loading is None or self._engine_key != load_key(wanted):
            if self._loading is not None:
                self._close_later(self._loading, self._lock)
            self._engine, self._engine_key, self._pipeline = None, load_key(wanted), None
            self._lock = asyncio.Lock()
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load_warm, wanted, self.settings.safety))
        loading = self._loading
        try:
            engine = await asyncio.shield(loading)
        except Exception:
            if self._loading is loading:
                self._loading, self._engine_key = None, None  # try again on the next request
            raise
        if self._loading is loading:
            self._engine = engine

    def _close_later(self, loading: asyncio.Future[Engine], lock: asyncio.Lock) -> None:
        closing = asyncio.ensure_future(_close_loaded(loading, lock))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Release the engine (also one still loading, and those replaced before), each once idle."""
        if self._loading is not None:
            # A timed-out generation may still be running in its thread: close only once it has stopped.
            self._close_later(self._loading, self._lock)
        self._loading, self._engine, self._engine_key, self._pipeline = None, None, None, None
        closing, self._closing = list(self._closing), set()
        await asyncio.gather(*closing)


async def _close_loaded(loading: asyncio.Future[Engine], lock: asyncio.Lock) -> None:
    """Close the engine `loading` gives once it has loaded and its running generation (if any) has stopped."""
    try:
        engine = await loading
    except Exception as exc:  # noqa: BLE001 - the request that awaited the load has reported the failure
        log.debug("engine load failed (%s); nothing to close", exc)
        return
    async with lock:
        await asyncio.to_thread(_close, engine)


def _close(engine: Engine) -> None:
    try:
        engine.close()
    except Exception:
        log.exception("closing the previous engine failed")


class _Entry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.RLock()
        self.users = 0


class EnginePool:
    """The per-user server's engine factory: engines by their load key, shared by the sessions whose settings
    differ at most in sampling values; the engine is closed when the last session's view of it is."""

    def __init__(self, factory: EngineFactory) -> None:
        self._factory = factory
        self._entries: dict[LoadKey, _Entry] = {}
        self._loading: dict[LoadKey, threading.Event] = {}
        self._lock = threading.Lock()
        self.loads = 0  # engines loaded since the server started (the test: two sessions, one load)

    def __call__(self, settings: EngineSettings) -> Engine:
        """An engine factory (a session's `EngineHolder` calls it in a thread): a view of the shared engine."""
        key = load_key(settings)
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.users += 1
                    return SharedEngine(self, key, entry)
                waiting = self._loading.get(key)
                if waiting is None:
                    self._loading[key] = threading.Event()
                    break
            waiting.wait()  # another session is loading the same model: wait for it, then share it
        try:
            engine = self._factory(settings)
        except BaseException:
            with self._lock:
                self._loading.pop(key).set()
            raise
        with self._lock:
            self.loads += 1
            entry = self._entries[key] = _Entry(engine)
            entry.users += 1
            self._loading.pop(key).set()
        return SharedEngine(self, key, entry)

    def release(self, key: LoadKey, entry: _Entry) -> None:
        with self._lock:
            entry.users -= 1
            last = entry.users == 0 and self._entries.get(key) is entry
            if last:
                del self._entries[key]
        if last:
            with entry.lock:
                entry.engine.close()

    def loaded(self) -> int:
        """Engines loaded now."""
        with self._lock:
            return len(self._entries)


class SharedEngine(Engine):
    """One session's view of a shared engine: calls that touch the model hold the engine's lock (sessions run their
    model calls in threads), and the view keeps its own current model context (KV cache key), switched to before
    every call, so sessions never run in each other's context."""

    def __init__(self, pool: EnginePool, key: LoadKey, entry: _Entry) -> None:
        self._pool, self._key, self._entry = pool, key, entry
        self._inner = entry.engine
        self.info = entry.engine.info
        self._context: str | None = None
        self._closed = False

    def _run(self, fn: Callable[[], Any]) -> Any:
        with self._entry.lock:
            self._inner.use_context(self._context)
            return fn()

    def use_context(self, key: str | None) -> None:
        self._context = key

    def generate(self, prompts: Sequence[PromptLike], params: SamplingParams,
                 cancel: threading.Event | None = None) -> list[list[Sample]]:
        return self._run(lambda: self._inner.generate(prompts, params, cancel))

    def score(self, prompt: PromptLike, continuation: str) -> float:
        return self._run(lambda: self._inner.score(prompt, continuation))

    def count_tokens(self, text: str) -> int:
        with self._entry.lock:
            return self._inner.count_tokens(text)

    def prefill(self, prompt: PromptLike, cancel: threading.Event | None = None) -> int:
        return self._run(lambda: self._inner.prefill(prompt, cancel))

    def cached_tokens(self, prompt: PromptLike, context: str | None = None) -> tuple[int, int] | None:
        with self._entry.lock:
            return self._inner.cached_tokens(prompt, self._context if context is None else context)

    def forget_context(self, key: str) -> None:
        with self._entry.lock:
            self._inner.forget_context(key)

    def counters(self) -> dict[str, int]:
        with self._entry.lock:
            return self._inner.counters()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.release(self._key, self._entry)
