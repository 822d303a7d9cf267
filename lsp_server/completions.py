"""The completion service: the one object the LSP handlers call, composed of the engine holder (`engines`), the
request scheduler (`scheduler`: debounce, prefetch, adoption, supersede), the suggestion cache (`cache`) and the
stats observer (`telemetry`). The work itself is the core pipeline's."""

from __future__ import annotations

from dataclasses import asdict

from codeward.completion.types import CompletionRequest, CompletionResult
from codeward.config import Settings
from codeward.lsp_server.cache import SuggestionCache
from codeward.lsp_server.engines import EngineFactory, EngineHolder
from codeward.lsp_server.scheduler import RequestScheduler
from codeward.lsp_server.telemetry import ClientLog, Stats, StatsObserver


class CompletionService:
    """Turns (document, cursor) requests into pipeline results for the LSP handlers; never raises for faults."""

    def __init__(self, settings: Settings, engine_factory: EngineFactory, client_log: ClientLog,
                 stats: Stats) -> None:
        self.stats = stats
        self.cache = SuggestionCache(settings.completion.cache_size)
        observer = StatsObserver(stats, client_log)
        self.engines = EngineHolder(settings, engine_factory, observer)
        self.scheduler = RequestScheduler(settings, self.engines, self.cache, observer)
        self.rhythm = self.scheduler.rhythm
        self.prefill = self.scheduler.prefill

    @property
    def settings(self) -> Settings:
        """The settings in force (`update` replaces them)."""
        return self.scheduler.settings

    async def complete(self, uri: str, request: CompletionRequest, invoked: bool = True) -> CompletionResult | None:
        """The result for `request`, or None (superseded, cancelled, timed out, failed: logged once per kind of
        fault). An automatic request (`invoked` False) waits the adaptive debounce first; an explicit one not."""
        return await self.scheduler.complete(uri, request, invoked)

    def changed(self, uri: str, request: CompletionRequest | None) -> None:
        """The document changed (typing): see `RequestScheduler.changed` (prefill after a pause, prefetch)."""
        self.scheduler.changed(uri, request)

    def schedule_prefill(self, uri: str, request: CompletionRequest | None, delay_ms: float | None = None) -> None:
        """Background prefill of `request`'s prompt head into `uri`'s context (completion.prefill_delay_ms)."""
        self.scheduler.schedule_prefill(uri, request, delay_ms)

    def busy(self) -> bool:
        """Whether a completion request is past its debounce (the model is, or is about to be, working for it)."""
        return self.scheduler.busy()

    def forget(self, uri: str) -> None:
        """The document was closed: stop its model run, drop its cached result, rhythm and model contexts."""
        self.scheduler.forget(uri)
        self.cache.forget(uri)
        self.engines.forget(uri)

    def update(self, settings: Settings) -> None:
        """New settings: the pipeline is rebuilt; the engine is reloaded on the next request if its load key
        changed (not for a sampling value); cached results are dropped (they may break the new policy), ids stay known for accept."""
        self.scheduler.settings = settings
        self.engines.update(settings)
        self.cache.clear_results(settings.completion.cache_size)

    def engine_counters(self) -> dict[str, int]:
        """The loaded engine's counters (speculative tokens, KV reuse); empty before it loads."""
        return self.engines.counters()

    def settings_dict(self) -> dict:
        """The settings in force (for `codeward/stats`)."""
        return asdict(self.settings)

    async def aclose(self) -> None:
        """Stop work in flight and release the engine (also one still loading, and those replaced before)."""
        self.scheduler.cancel_all()
        await self.engines.aclose()
