"""Telemetry: counters and latencies for `codeward/stats`, and a client log that does not storm."""

from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("codeward.lsp")


@dataclass
class Stats:
    """What the server did since it started (served by the `codeward/stats` request).

    Each request ends as exactly one of completed (`empty` counts those without a suggestion), rejected (refused
    before the model: unknown document, bad position, over the size limit), errors, timeouts or superseded."""

    requests: int = 0
    completed: int = 0
    empty: int = 0
    rejected: int = 0
    errors: int = 0
    timeouts: int = 0
    superseded: int = 0
    cache_hits: int = 0
    shown: int = 0
    warned: int = 0
    blocked: int = 0
    check_errors: int = 0  # suggestions whose safety check failed (verdict error), shown or not
    accepted: int = 0
    settings_version: int = 0  # bumped each time the settings are re-resolved
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    last_prompt: str | None = None
    last_suggestions: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready snapshot; latencies as median and 90th percentile of the last 500 completed requests."""
        lat = sorted(self.latencies_ms)
        p90 = lat[min(len(lat) - 1, int(0.9 * len(lat)))] if lat else None
        counts = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        return {**counts, "latency_ms": {"median": statistics.median(lat) if lat else None, "p90": p90,
                                         "count": len(lat)},
                "last_prompt": self.last_prompt, "last_suggestions": self.last_suggestions}


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
