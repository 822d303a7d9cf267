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
from codeward.lsp_server.telemetry import Stats

log = logging.getLogger("codeward.lsp")


class BackgroundPrefill:
    """At most one scheduled or running prefill; `schedule` replaces it, `cancel` stops it."""

    def __init__(self, stats: Stats, pipeline: Callable[[], Awaitable[Pipeline]]) -> None:
        self._stats = stats
        self._pipeline = pipeline
        self._task: asyncio.Task[None] | None = None
        self.target: str | None = None  # the document being prefilled

    def schedule(self, uri: str, request: CompletionRequest, delay_s: float) -> None:
        """Prefill `request`'s prompt head into `uri`'s context after `delay_s`, replacing any earlier one."""
        self.cancel()
        self.target = uri
        self._task = asyncio.ensure_future(self._run(uri, request, delay_s))

    def cancel(self) -> None:
        """Stop the scheduled or running prefill (a request needs the engine)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def wait(self) -> None:
        """Until the current prefill (if any) has ended (tests, benchmarks)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, uri: str, request: CompletionRequest, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        started = False
        try:
            pipeline = await self._pipeline()
            started = True
            evaluated = await pipeline.prefill(request, context=uri)
        except asyncio.CancelledError:
            if started:
                self._stats.prefills_cancelled += 1
            raise
        except Exception as exc:  # noqa: BLE001 - a failed prefill only costs the next request its time
            log.info("background prefill of %s failed: %s: %s", uri, type(exc).__name__, exc)
            return
        self._stats.prefills += 1
        log.debug("background prefill of %s: %d tokens evaluated", uri, evaluated)
