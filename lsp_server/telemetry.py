"""Telemetry, local only: counters and latencies for `codeward/stats` (`Stats`), the observer that turns what the
request scheduler reports into them and logs each fault once (`StatsObserver`), a stats log written at shutdown,
and a client log that does not storm. Nothing here holds the user's code: only `serve --debug-prompts` (stdio and
daemon, for tests and the demo) keeps the last prompt and suggestions (`DebugRecord`), which `codeward/stats` then
answers and the stats log never writes."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeward.completion.pipeline import RequestError
from codeward.model.base import EngineError
from codeward.trust import state_dir

if TYPE_CHECKING:
    from codeward.completion.types import CompletionResult

log = logging.getLogger("codeward.lsp")
WINDOW = 1000  # latencies kept (the last requests)
PRIVATE = ("last_prompt", "last_suggestions")  # what the stats log never writes (the user's code)


def percentiles(values: Iterable[float]) -> dict[str, float | int | None]:
    """p50/p95/p99 (nearest rank) and the count of `values`."""
    data = sorted(values)
    if not data:
        return {"p50": None, "p95": None, "p99": None, "count": 0}

    def rank(q: float) -> float:
        return round(data[min(len(data), max(1, math.ceil(q * len(data)))) - 1], 1)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "count": len(data)}


@dataclass
class DebugRecord:
    """The last prompt and suggestions (the user's code), kept only under `serve --debug-prompts`."""

    last_prompt: str | None = None
    last_suggestions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Stats:
    """What the server did since it started (served by the `codeward/stats` request).

    Each request ends as exactly one of completed (`empty` counts those without a suggestion; `cache_hits` those
    served from the typing-forward cache, `adopted` those answered by the model run of an earlier keystroke that the
    user typed forward from), rejected (refused before the model: unknown document, bad position, over
    the size limit), errors, timeouts, superseded (a newer request for the same document replaced it) or cancelled
    (the client sent `$/cancelRequest`)."""

    requests: int = 0
    completed: int = 0
    empty: int = 0
    rejected: int = 0
    errors: int = 0
    timeouts: int = 0
    superseded: int = 0
    cancelled: int = 0
    cache_hits: int = 0
    adopted: int = 0  # answered by the model run of an earlier keystroke the user typed forward from
    shown: int = 0  # suggestions returned to the client
    shown_reported: int = 0  # suggestions the client said it displayed (textDocument/didShowCompletion)
    warned: int = 0
    blocked: int = 0  # suggestions dropped by the safety policy
    check_errors: int = 0  # suggestions whose safety check failed part-way (`incomplete`), shown or not
    unchecked: int = 0  # suggestions not checked by design (safety off, not Python)
    accepted: int = 0
    partially_accepted: int = 0  # textDocument/didPartiallyAcceptCompletion
    accepted_chars: int = 0  # characters of accepted suggestions (partial accepts: the length accepted)
    prefills: int = 0  # background prefills that ran to the end
    prefills_cancelled: int = 0  # background prefills a request interrupted (what they evaluated is kept)
    cold_short: int = 0  # first requests in a cold document served with the short budget
    prefetches: int = 0  # model runs started at an edit before any request (completion.prefetch*)
    prefetches_on_miss: int = 0  # of which at an edit that left the shown suggestion (prefetch_on_miss)
    context_checks: int = 0  # context diagnostics runs (the code around the cursor checked for likely bugs)
    context_findings: int = 0  # likely bugs the last context check found
    bug_copies: int = 0  # suggestions that repeat a likely bug of their context (safety.on_bug_copy)
    policy_instructed: int = 0  # requests whose prompt got the instruct policy's line
    policy_elided_lines: int = 0  # likely-buggy lines the exclude policy replaced by its marker
    policy_excluded_snippets: int = 0  # snippets of other documents the exclude policy left out
    safety_warmed: bool = False  # the safety checkers ran once while the model loaded
    settings_version: int = 0  # bumped each time the settings are re-resolved
    engine_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    cache_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    adopted_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))  # request to adopted answer
    # a request's wait for an earlier keystroke's run whose answer what was typed since had left (then asked anew)
    waited_run_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    debounce_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    request_ms: dict[str, deque[float]] = field(default_factory=dict)  # answers' latency per mode (single, multi)
    # the pipeline's stages of model-served answers (wait for the engine, context, engine, postprocess, safety),
    # and each answer's overhead: its latency less its engine time
    stage_ms: dict[str, deque[float]] = field(default_factory=dict)
    overhead_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    overhead_share: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))  # each: overhead / latency
    debug: DebugRecord | None = None  # `serve --debug-prompts` only
    started: float = field(default_factory=time.time)

    def as_dict(self, engine_counters: Mapping[str, int] | None = None) -> dict[str, Any]:
        """JSON-ready snapshot: the counts, the engine's counters (speculative tokens, KV reuse), latency
        percentiles of the last requests (whole request, engine, cache hits, debounce waits)."""
        counts = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        return {**counts, "engine": dict(engine_counters or {}),
                "latency_ms": {"request": percentiles(itertools.chain(*self.request_ms.values())),
                               **{f"request_{mode}": percentiles(v) for mode, v in sorted(self.request_ms.items())},
                               "engine": percentiles(self.engine_ms), "cache": percentiles(self.cache_ms),
                               "adopted": percentiles(self.adopted_ms),
                               "waited_run": percentiles(self.waited_run_ms),
                               "debounce": percentiles(self.debounce_ms),
                               "overhead": percentiles(self.overhead_ms),
                               "stages": {k: percentiles(v) for k, v in self.stage_ms.items()}},
                "overhead_share_p50": round(statistics.median(self.overhead_share), 3) if self.overhead_share
                else None,
                **(dataclasses.asdict(self.debug) if self.debug is not None else {})}

    def log_record(self, engine_counters: Mapping[str, int] | None = None) -> dict[str, Any]:
        """What the stats log keeps of a session: counts and timings only, never prompts or suggestions."""
        record = {k: v for k, v in self.as_dict(engine_counters).items() if k not in PRIVATE}
        return {"started": round(self.started, 3), "ended": round(time.time(), 3), **record}


def write_stats_log(record: Mapping[str, Any], directory: Path | None = None) -> Path | None:
    """Append `record` as one JSON line to `stats.jsonl` in the state directory; None (logged) if it cannot."""
    folder = directory or state_dir()
    path = folder / "stats.jsonl"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError as exc:
        log.warning("could not write the stats log %s: %s", path, exc)
        return None
    return path


class ClientLog:
    """Sends `window/logMessage` through `send`; the same (kind, message) at most once every `interval_s`, so a
    fault that repeats on every keystroke is logged once (with a count of the repeats when it is logged again)."""

    def __init__(self, send: Callable[[int, str], None], interval_s: float = 60.0) -> None:
        self._send = send
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, kind: str, message: str, level: int = logging.WARNING) -> bool:
        """Log `message` (also to stderr); False when it was suppressed as a repeat."""
        log.log(level, "%s", message)
        key = f"{kind}\0{message}"
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        if len(self._last) > 1000:  # forget the oldest half of the messages seen
            for old in sorted(self._last, key=self._last.__getitem__)[:500]:
                self._last.pop(old)
                self._suppressed.pop(old, None)
        repeats = self._suppressed.pop(key, 0)
        suffix = f" (and {repeats} more like it)" if repeats else ""
        self._last[key] = now
        try:
            self._send(level, f"codeward: {message}{suffix}")
        except Exception:
            log.exception("could not send a log message to the client")
        return True


def _since_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1e3


class StatsObserver:
    """Where the request scheduler, the engine holder and the background prefill report what happened: each event
    becomes its counts and latencies in `stats`, and each fault one line in the client log. `started` is the
    request's `time.perf_counter()`."""

    def __init__(self, stats: Stats, client_log: Callable[[str, str, int], object]) -> None:
        self.stats = stats
        self._log = client_log

    def requested(self) -> None:
        self.stats.requests += 1

    def rejected(self, uri: str, exc: RequestError) -> None:
        """The pipeline refused the request before the model (unknown document, bad position, too large)."""
        self.stats.rejected += 1
        self._fault(exc.kind, f"{uri}: {exc}")

    def cache_hit(self, result: CompletionResult, started: float) -> None:
        """Answered from the typing-forward cache."""
        self.stats.cache_hits += 1
        self._record(result)
        self.stats.cache_ms.append(_since_ms(started))

    def adopted(self, result: CompletionResult, started: float) -> None:
        """Answered by the model run of an earlier keystroke that the request typed forward from."""
        self.stats.adopted += 1
        self._record(result)
        elapsed = _since_ms(started)
        self.stats.adopted_ms.append(elapsed)
        if result.suggestions:  # a model run answered it: counted with the model-served answers too
            self._request_ms(result.mode, elapsed)

    def waited(self, ms: float) -> None:
        """A request waited `ms` for earlier runs whose answers what was typed since had left (then asked anew)."""
        self.stats.waited_run_ms.append(ms)

    def superseded(self) -> None:
        self.stats.superseded += 1

    def cancelled(self) -> None:
        self.stats.cancelled += 1

    def prefetched(self, moved: bool) -> None:
        """A model run started at an edit before any request: at a move, else typed off the shown suggestion."""
        self.stats.prefetches += 1
        self.stats.prefetches_on_miss += not moved

    def debounced(self, delay_s: float) -> None:
        self.stats.debounce_ms.append(delay_s * 1000)

    def landed(self, result: CompletionResult) -> None:
        """A model run ended with a result (whether or not its request still waited for it)."""
        self.stats.engine_ms.append(result.timings_ms.get("engine", 0.0))
        self.stats.cold_short += result.cold

    def timed_out(self, uri: str, timeout_s: float) -> None:
        self.stats.timeouts += 1
        self._fault("timeout", f"the model gave no answer within completion.timeout_s = {timeout_s} s "
                    f"for {uri}; the request returns nothing (raise the timeout or use a smaller model)")

    def failed(self, uri: str, exc: BaseException) -> None:
        """A model run raised: a request the pipeline cannot serve counts as rejected (not a failure of the
        server), anything else as an error; an internal one is logged with its traceback."""
        kind = "engine" if isinstance(exc, EngineError) else "request" if isinstance(exc, RequestError) \
            else "internal"
        if kind == "request":
            self.stats.rejected += 1
        else:
            self.stats.errors += 1
        if kind == "internal":
            log.error("completion failed", exc_info=exc)
        self._fault(kind, f"no completion for {uri}: {type(exc).__name__}: {exc}")

    def answered(self, result: CompletionResult, started: float, delay_ms: float, waited_ms: float) -> None:
        """A request answered by its own model run. An answer's latency runs from the request to it, less the
        debounce wait; the server's own share (overhead) is that less the engine's time for this answer and for
        the earlier run it waited for."""
        self._record(result)
        if not result.suggestions:
            return
        elapsed = _since_ms(started) - delay_ms
        self._request_ms(result.mode, elapsed)
        overhead = elapsed - result.timings_ms.get("engine", 0.0) - waited_ms
        self.stats.overhead_ms.append(overhead)
        self.stats.overhead_share.append(overhead / elapsed if elapsed > 0 else 0.0)
        for stage, ms in result.timings_ms.items():
            self.stats.stage_ms.setdefault(stage, deque(maxlen=WINDOW)).append(ms)

    def prefilled(self) -> None:
        self.stats.prefills += 1

    def prefill_cancelled(self) -> None:
        self.stats.prefills_cancelled += 1

    def safety_warmed(self) -> None:
        self.stats.safety_warmed = True

    def _request_ms(self, mode: str, elapsed: float) -> None:
        self.stats.request_ms.setdefault(mode, deque(maxlen=WINDOW)).append(elapsed)

    def _record(self, result: CompletionResult) -> None:
        """A request completed with `result`: its suggestions, verdicts and context policy counted (and, under
        `--debug-prompts`, kept as the last prompt and suggestions)."""
        s = self.stats
        s.completed += 1
        s.empty += not result.suggestions
        s.shown += len(result.suggestions)
        s.warned += sum(1 for x in result.suggestions if x.verdict == "warn")
        s.blocked += len(result.blocked)
        s.check_errors += sum(1 for o in result.outcomes if o.suggestion and o.suggestion.incomplete)
        s.unchecked += sum(1 for x in result.suggestions if x.verdict == "unchecked")
        s.bug_copies += sum(1 for x in [*result.suggestions, *result.blocked] if x.copies_bug)
        s.policy_instructed += result.policy.get("instructed", 0)
        s.policy_elided_lines += result.policy.get("elided_lines", 0)
        s.policy_excluded_snippets += result.policy.get("excluded_snippets", 0)
        if s.debug is not None:
            s.debug.last_prompt = result.prompt
            s.debug.last_suggestions = [o.as_dict() for o in result.outcomes]

    def _fault(self, kind: str, message: str) -> None:
        self._log(kind, message, logging.WARNING)
