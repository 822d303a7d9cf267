"""The completion pipeline both faces run: context -> prompt -> mode -> engine -> postprocess -> safety.

`Pipeline(settings, engine).complete(request)` is what the editor runs on each request and what the eval suite
calls for each task; `complete_sync` wraps it for scripts and the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from codeward.completion.context import Context, build_context
from codeward.completion.modes import Mode, choose_mode
from codeward.completion.postprocess import context_for, default_filters, drop_cut_line, run_filters
from codeward.completion.screening import screen
from codeward.completion.settings import PipelineSettings
from codeward.completion.text import Cursor, PositionError
from codeward.completion.types import CompletionRequest, CompletionResult, Suggestion, make_suggestion
from codeward.model.base import Engine, SamplingParams
from codeward.model.templates import PromptTemplate, select_template

log = logging.getLogger(__name__)


class RequestError(ValueError):
    """A request the pipeline cannot serve (position outside the document, document too large)."""


class Pipeline:
    """One engine and one set of settings; `complete` may be awaited from one event loop at a time."""

    def __init__(self, settings: PipelineSettings, engine: Engine, engine_lock: asyncio.Lock | None = None) -> None:
        """`engine_lock`: share one lock among pipelines over the same engine (the server rebuilds its pipeline
        on each settings change); by default each pipeline makes its own."""
        self.settings = settings
        self.engine = engine
        self.template: PromptTemplate = select_template(settings.engine.template, engine.info)
        self._lock = engine_lock
        self._own_lock = engine_lock is None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def _engine_lock(self) -> asyncio.Lock:
        """One engine call at a time: a cancelled call still holds the model until its thread stops."""
        if not self._own_lock and self._lock is not None:
            return self._lock
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def prepare(self, request: CompletionRequest) -> tuple[Cursor, Context, Mode, str]:
        """Cursor, context, mode and the exact prompt for `request` (no model call)."""
        limit = self.settings.completion.max_document_chars
        if len(request.text) > limit:
            raise RequestError(f"document {request.path or '<unnamed>'} has {len(request.text):,} characters, "
                               f"more than completion.max_document_chars = {limit:,}; raise the limit to "
                               "complete in it")
        try:
            cursor = request.cursor()
        except PositionError as exc:
            raise RequestError(f"{request.path or '<unnamed>'}: {exc}") from None
        context = build_context(request.text, cursor, self.settings.context, self.engine.count_tokens,
                                path=request.path, language=request.language, others=request.other_documents,
                                use_suffix=self.template.kind != "prefix")
        c = self.settings.completion
        mode = choose_mode(request.text, cursor, c.mode, c.stop_preset)
        prompt = self.template.render(context.prefix, context.suffix)
        return cursor, context, mode, prompt

    def sampling_params(self, mode: Mode) -> SamplingParams:
        """Sampling params from the engine settings with the mode's and the template's stops."""
        e = self.settings.engine
        stops = tuple(dict.fromkeys(mode.stops + self.template.stop))
        return SamplingParams(n=e.n, temperature=e.temperature, top_p=e.top_p, max_new_tokens=e.max_new_tokens,
                              stop=stops, seed=e.seed)

    def postprocess(self, texts: Sequence[str], request: CompletionRequest, cursor: Cursor, context: Context,
                    mode: Mode, finish_reasons: Sequence[str] | None = None) -> list[Suggestion]:
        """Filtered, de-duplicated suggestions from raw sample texts (sample order kept); `finish_reasons` (one
        per text) lets multi-line mode drop the unfinished last line of a sample cut by the token limit."""
        c = self.settings.completion
        ctx = context_for(request.text, cursor, mode, self.template.kind, context.window_start)
        filters = default_filters(c.max_lines, c.min_chars)
        reasons = list(finish_reasons) if finish_reasons is not None else ["stop"] * len(texts)
        out: list[Suggestion] = []
        seen: set[tuple[str, int]] = set()
        for index, (raw, reason) in enumerate(zip(texts, reasons, strict=True)):
            item = run_filters(drop_cut_line(raw, reason, mode), ctx, filters)
            if item is None or (item.text, item.replace_after) in seen:
                continue
            seen.add((item.text, item.replace_after))
            out.append(make_suggestion(item.text, cursor, request.unit, replace_after=item.replace_after,
                                       sample_index=index))
        return out

    async def complete(self, request: CompletionRequest) -> CompletionResult:
        """Suggestions for `request`; RequestError for a bad request, EngineError when the model fails."""
        t0 = time.perf_counter()
        # Off the event loop: token counting may be a tokenizer call or, for remote engines, an HTTP request.
        cursor, context, mode, prompt = await asyncio.to_thread(self.prepare, request)
        params = self.sampling_params(mode)
        t1 = time.perf_counter()
        async with self._engine_lock():
            samples = (await self.engine.agenerate([prompt], params))[0]
        t2 = time.perf_counter()
        candidates = self.postprocess([s.text for s in samples], request, cursor, context, mode,
                                      [s.finish_reason for s in samples])
        t3 = time.perf_counter()
        shown, blocked = await screen(request.text, candidates, self.settings.safety, request.language)
        t4 = time.perf_counter()
        timings = {"context": (t1 - t0) * 1e3, "engine": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3,
                   "safety": (t4 - t3) * 1e3}
        log.debug("completion %s:%d: %d samples -> %d shown, %d blocked (%s)", request.path, request.line,
                  len(samples), len(shown), len(blocked), ", ".join(f"{k} {v:.0f} ms" for k, v in timings.items()))
        return CompletionResult(suggestions=shown, prompt=prompt, mode=mode.kind, template=self.template.name,
                                blocked=blocked, samples=list(samples), timings_ms=timings)

    def complete_sync(self, request: CompletionRequest) -> CompletionResult:
        """`complete` for code without an event loop (CLI, scripts, eval workers)."""
        return asyncio.run(self.complete(request))
