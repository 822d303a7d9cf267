"""The completion pipeline both faces run: context -> prompt -> mode -> engine -> postprocess -> safety.

`Pipeline(settings, engine).complete(request)` is what the editor runs on each request and what the eval suite
calls for each task; `complete_sync` wraps it for scripts and the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace

from codeward.completion.context import Context, build_context
from codeward.completion.modes import Mode, choose_mode
from codeward.completion.postprocess import context_for, default_filters, drop_cut_line, run_filters
from codeward.completion.screening import screen
from codeward.completion.settings import CompletionSettings, PipelineSettings
from codeward.completion.snippets import repo_files
from codeward.completion.text import Cursor, PositionError
from codeward.completion.types import CompletionRequest, CompletionResult, Outcome, make_suggestion
from codeward.model.base import Engine, Prompt, Sample, SamplingParams, Segment
from codeward.model.templates import PromptTemplate, select_template

log = logging.getLogger(__name__)
COLD_SUFFIX_TOKENS = 32  # the short context's suffix budget
CURSOR_MARK = "\x00codeward-cursor\x00"  # rendered at the cursor to find the prompt segment it ends


def cold_context(key: str) -> str:
    """The model context a document's short (cold) answers run in, apart from its full one."""
    return f"{key}#cold"


class RequestError(ValueError):
    """A request the pipeline cannot serve; `kind` ("position" | "size") lets each face map it to its own answer
    (an empty LSP result and a log line, exit code 2 in the CLI)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def validate(request: CompletionRequest, settings: CompletionSettings) -> Cursor:
    """The request's cursor, or RequestError: the one place that checks document size and cursor position."""
    name = request.path or "<unnamed>"
    limit = settings.max_document_chars
    if len(request.text) > limit:
        raise RequestError("size", f"document {name} has {len(request.text):,} characters, more than "
                           f"completion.max_document_chars = {limit:,}; raise the limit to complete in it")
    try:
        return request.cursor()
    except PositionError as exc:
        raise RequestError("position", f"{name}: {exc}") from None


class Pipeline:
    """One engine and the settings sections the pipeline reads; `complete` may be awaited from one event loop at
    a time. Every use of the engine (token counting too) holds the engine lock, so that whoever closes the engine
    under that lock never frees it under a running call."""

    def __init__(self, settings: PipelineSettings, engine: Engine, engine_lock: asyncio.Lock | None = None) -> None:
        """`engine_lock`: share one lock among pipelines over the same engine (the server rebuilds its pipeline
        on each settings change); by default each pipeline makes its own."""
        self.settings = settings
        self.engine = engine
        self.template: PromptTemplate = select_template(settings.engine.template, engine.info)
        self._lock = engine_lock
        self._own_lock = engine_lock is None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._short_pipeline: Pipeline | None = None

    def _engine_lock(self) -> asyncio.Lock:
        """One engine call at a time: a cancelled call still holds the model until its thread stops."""
        if not self._own_lock and self._lock is not None:
            return self._lock
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def prepare(self, request: CompletionRequest) -> tuple[Cursor, Context, Mode, Prompt]:
        """Cursor, context, mode and the exact prompt for `request`, as segments: the template's sentinels and the
        user's text, which engines tokenize as plain text (counts tokens: call it under the engine lock)."""
        cursor = validate(request, self.settings.completion)
        context = build_context(request.text, cursor, self.settings.context, self.engine.count_tokens,
                                path=request.path, language=request.language, others=request.other_documents,
                                use_suffix=self.template.kind != "prefix", task_line=request.task_line)
        c = self.settings.completion
        mode = choose_mode(request.text, cursor, c.mode, c.stop_preset)
        # Snippets go first: Qwen-style templates in their repository-level format, others as comments.
        files = repo_files(request.path, context.picked)
        rendered = self.template.render_segments(context.prefix + CURSOR_MARK, context.suffix, files)
        prompt = rendered.marked(CURSOR_MARK)  # the engine knows where the cursor is (token healing)
        return cursor, context, mode, prompt

    def sampling_params(self, mode: Mode, seed: int | None = None) -> SamplingParams:
        """Sampling params from the engine settings with the mode's and the template's stops. A multi-line chat
        answer ends with its code fence: structural stops (`\ndef`, the Codex set) would cut the function an
        instruct model writes out whole. `seed` overrides `engine.seed` (an eval run seeds each task)."""
        e = self.settings.engine
        mode_stops = () if self.template.kind == "chat" and mode.kind == "multi" else mode.stops
        stops = tuple(dict.fromkeys(mode_stops + self.template.stop))
        return SamplingParams(n=e.n, temperature=e.temperature, top_p=e.top_p, max_new_tokens=e.max_new_tokens,
                              stop=stops, seed=e.seed if seed is None else seed,
                              heal=self.settings.completion.token_healing)

    def postprocess(self, samples: Sequence[Sample], request: CompletionRequest, cursor: Cursor, context: Context,
                    mode: Mode) -> list[Outcome]:
        """One outcome per sample, in sample order (duplicates kept): the filtered suggestion, or the filter that
        dropped it. Multi-line mode drops the unfinished last line of a sample cut by the token limit."""
        c = self.settings.completion
        ctx = context_for(request.text, cursor, mode, self.template.kind)
        filters = default_filters(c.max_lines, c.min_chars)
        out: list[Outcome] = []
        for index, sample in enumerate(samples):
            item, dropped_by = run_filters(drop_cut_line(sample.text, sample.finish_reason, mode), ctx, filters)
            suggestion = None if item is None else make_suggestion(
                item.text, cursor, request.unit, replace_after=item.replace_after, sample_index=index)
            out.append(Outcome(index, sample.text, suggestion, dropped_by))
        return out

    def prefill_prompt(self, request: CompletionRequest) -> Prompt:
        """The part of `request`'s prompt that stays put while the user types on the cursor's line: everything
        up to the end of the prefix's last complete line (for prefix-suffix-middle templates, before the
        suffix). Evaluating it ahead makes the request pay only for its line, suffix and answer."""
        cursor, context, _, _ = self.prepare(request)
        keep = len(context.prefix) - len(cursor.line_before)
        mark = f"\x00codeward-prefill-{id(self):x}\x00"
        files = repo_files(request.path, context.picked)
        rendered = self.template.render_segments(context.prefix[:keep] + mark, context.suffix, files)
        head: list[Segment] = []
        for segment in rendered.segments:
            if not segment.special and mark in segment.text:
                head.append(Segment(segment.text[: segment.text.index(mark)], False))
                break
            head.append(segment)
        return Prompt.of(head)

    def _short(self) -> Pipeline:
        """This pipeline with the cold budgets: prefix `cold_prefix_tokens`, suffix at most COLD_SUFFIX_TOKENS, and no
        snippets of other documents (up to `snippet_tokens` more to evaluate before the first answer at a new place;
        the full context, prefilled behind it, has them)."""
        if self._short_pipeline is not None:
            return self._short_pipeline
        c, x = self.settings.completion, self.settings.context
        short = replace(self.settings, context=replace(x, prefix_tokens=min(x.prefix_tokens, c.cold_prefix_tokens),
                                                       suffix_tokens=min(x.suffix_tokens, COLD_SUFFIX_TOKENS),
                                                       snippet_tokens=0, max_snippets=0))
        pipeline = Pipeline(short, self.engine)
        pipeline.template = self.template
        self._short_pipeline = pipeline
        return pipeline

    def _prompt_for(self, request: CompletionRequest, context: str | None
                    ) -> tuple[tuple[Cursor, Context, Mode, Prompt], str | None, bool]:
        """prepare(request) and the model context to run it in; when the full prompt would leave more than
        `cold_tokens` to evaluate, the short one in the document's second context (`cold_context`), so that the
        background prefill of the full one is not overwritten."""
        prepared = self.prepare(request)
        if context is None or not self._too_cold(prepared[3], context):
            return prepared, context, False
        return self._short().prepare(request), cold_context(context), True

    def _too_cold(self, prompt: Prompt, context: str) -> bool:
        """Whether `context`'s KV cache lacks more than `cold_tokens` of `prompt` (asked without switching to it:
        the answer may run in the short context instead); False when cold answers are off or the engine keeps
        no cache."""
        limit = self.settings.completion.cold_tokens
        cached = self.engine.cached_tokens(prompt, context) if limit > 0 else None
        return cached is not None and cached[1] - cached[0] > limit

    def _short_head(self, request: CompletionRequest, context: str, head: Prompt) -> Prompt | None:
        """The short context's prompt head when the full `head` is too cold (the next answer will come from the
        short context) and the short context does not hold it yet; None otherwise."""
        if not self._too_cold(head, context):
            return None
        short = self._short().prefill_prompt(request)
        held = self.engine.cached_tokens(short, cold_context(context))
        return short if held is not None and held[0] < held[1] else None

    async def prefill(self, request: CompletionRequest, context: str | None = None) -> int:
        """Evaluate `request`'s stable prompt head (`prefill_prompt`) into `context`'s KV cache; the tokens
        evaluated (0: already cached, or an engine without a cache). Cancelling stops it between chunks.

        When the full head still lacks more than `cold_tokens` (a new place in the file: the next request would be
        answered from the short context), the short head is evaluated into the short context first: a few hundred
        tokens that the next answer needs, before the full head that may take seconds."""
        async with self._engine_lock():
            prompt = await asyncio.to_thread(self.prefill_prompt, request)
            short = None if context is None else await asyncio.to_thread(self._short_head, request, context, prompt)
            done = 0 if short is None else await self.engine.aprefill(short, cold_context(context))
            return done + await self.engine.aprefill(prompt, context)

    async def complete(self, request: CompletionRequest, seed: int | None = None,
                       context: str | None = None) -> CompletionResult:
        """One outcome per sample for `request`; RequestError for a bad request, EngineError when the model fails.
        `seed` overrides `engine.seed` for this request. `context` names the model context (KV cache) to reuse
        (the editor: the document's URI); with it, a cold cache is answered from a short context (`cold`)."""
        t0 = time.perf_counter()
        async with self._engine_lock():
            tw = time.perf_counter()  # the wait for the engine: a call before this one still running or stopping
            # Off the event loop: token counting may be a tokenizer call or, for remote engines, an HTTP request.
            (cursor, built, mode, prompt), key, cold = await asyncio.to_thread(self._prompt_for, request, context)
            params = self.sampling_params(mode, seed)
            t1 = time.perf_counter()
            samples = (await self.engine.agenerate([prompt], params, key))[0]
        t2 = time.perf_counter()
        outcomes = self.postprocess(samples, request, cursor, built, mode)
        t3 = time.perf_counter()
        outcomes, hidden = await screen(request.text, outcomes, self.settings.safety, request.language)
        t4 = time.perf_counter()
        timings = {"wait": (tw - t0) * 1e3, "context": (t1 - tw) * 1e3, "engine": (t2 - t1) * 1e3,
                   "postprocess": (t3 - t2) * 1e3, "safety": (t4 - t3) * 1e3}
        result = CompletionResult(outcomes=outcomes, prompt=prompt.text, mode=mode.kind, template=self.template.name,
                                  samples=list(samples), timings_ms=timings, hidden=hidden, cold=cold,
                                  policy={"instructed": int(built.instruction_line is not None),
                                          "elided_lines": len(built.elided), "excluded_snippets": built.excluded})
        log.debug("completion %s:%d: %d samples -> %d shown, %d hidden (%s)", request.path, request.line,
                  len(samples), len(result.suggestions), len(hidden),
                  ", ".join(f"{k} {v:.0f} ms" for k, v in timings.items()))
        return result

    def complete_sync(self, request: CompletionRequest, seed: int | None = None) -> CompletionResult:
        """`complete` for code without an event loop (CLI, scripts, eval workers)."""
        return asyncio.run(self.complete(request, seed))
