"""Background prefill: evaluate a document's context into its model context while the user is not waiting.

After a pause in typing (and when a document is opened), the stable head of the prompt at the edit, everything up
to the start of the cursor's line, is evaluated into that document's KV cache, so that the next request pays only
for its line, suffix and answer. One prefill runs at a time; any request cancels it (what it evaluated stays
cached: the next prompt extends it), and a cold request, answered from the short context, schedules the full one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from codeward.completion.pipeline import Pipeline
from codeward.completion.types import CompletionRequest
from codeward.lsp_server.telemetry import StatsObserver

log = logging.getLogger("codeward.lsp")


class BackgroundPrefill:
    """At most one scheduled or running prefill; `schedule` replaces it, `cancel` stops it."""

    def __init__(self, observer: StatsObserver, pipeline: Callable[[], Awaitable[Pipeline]]) -> None:
        self._observer = observer
        self._pipeline = pipeline
        self._task: asyncio.Task[None] | None = None
        self._running = False  # the current task is past its delay (evaluating)
        self._queued: CompletionRequest | None = None  # a newer edit of the running prefill's document
        self.target: str | None = None  # the document being prefilled

    def schedule(self, uri: str, request: CompletionRequest, delay_s: float) -> None:
        """Prefill `request`'s prompt head into `uri`'s context after `delay_s`, replacing a waiting one. A prefill
        of the same document already running goes on (its head is mostly this one's) and this one follows it."""
        if self._running and self.target == uri and self._task is not None and not self._task.done():
            self._queued = request
            return
        self.cancel()
        self.target = uri
        self._task = asyncio.ensure_future(self._run(uri, request, delay_s))

    def cancel(self) -> None:
        """Stop the scheduled or running prefill (a request needs the engine)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task, self._running, self._queued = None, False, None

    async def wait(self) -> None:
        """Until the current prefill (if any) has ended (tests, benchmarks)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, uri: str, request: CompletionRequest | None, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._running = True
        try:
            while request is not None:
                await self._prefill(uri, request)
                request, self._queued = self._queued, None
        finally:
            self._running = False

    async def _prefill(self, uri: str, request: CompletionRequest) -> None:
        try:
            pipeline = await self._pipeline()
            evaluated = await pipeline.prefill(request, context=uri)
        except asyncio.CancelledError:
            self._observer.prefill_cancelled()
            raise
        except Exception as exc:  # noqa: BLE001 - a failed prefill only costs the next request its time
            log.info("background prefill of %s failed: %s: %s", uri, type(exc).__name__, exc)
            return
        self._observer.prefilled()
        log.debug("background prefill of %s: %d tokens evaluated", uri, evaluated)
