"""One engine per model for every session of the per-user server (`codeward serve --daemon`): three editor windows
must not load three models on two cores.

The pool hands each session a `SharedEngine`, a view of the one engine loaded for those engine settings: calls that
touch the model hold the engine's lock (sessions run their model calls in threads), and each view keeps its own
current model context (KV cache key), switched to before every call, so sessions never run in each other's context.
The engine is closed when the last view is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from codeward.model.base import Engine, PromptLike, Sample, SamplingParams
from codeward.model.settings import EngineSettings


def _key(settings: EngineSettings) -> str:
    return json.dumps(asdict(settings), sort_keys=True, default=str)


class _Entry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.RLock()
        self.users = 0


class EnginePool:
    """Engines by their settings, shared by the sessions that ask for the same settings."""

    def __init__(self, factory: Callable[[EngineSettings], Engine]) -> None:
        self._factory = factory
        self._entries: dict[str, _Entry] = {}
        self._loading: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.loads = 0  # engines loaded since the server started (the test: two sessions, one load)

    def __call__(self, settings: EngineSettings) -> Engine:
        """An engine factory (the completion service calls it in a thread): a view of the shared engine."""
        key = _key(settings)
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

    def release(self, key: str, entry: _Entry) -> None:
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
    """One session's view of a shared engine."""

    def __init__(self, pool: EnginePool, key: str, entry: _Entry) -> None:
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
