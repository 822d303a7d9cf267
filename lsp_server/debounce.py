"""Adaptive debounce: automatic requests wait in proportion to the user's own typing rhythm.

A fast typist's next keystroke comes soon, so a request fired after a short pause is likely to be superseded;
a slow typist pauses longer between keys. The wait is 1.5x the median of the last intervals between changes in
the document (gaps over 2 s are pauses, not rhythm), kept between half and twice `completion.debounce_ms`.
Explicit invocation (the user asked) never waits.
"""

from __future__ import annotations

import statistics
import time
from collections import OrderedDict, deque

KEPT = 16  # intervals remembered per document
PAUSE_S = 2.0  # a longer gap is a pause, not part of the rhythm
FACTOR = 1.5


class TypingRhythm:
    """Times of the last changes per document (an LRU over documents)."""

    def __init__(self, documents: int = 64) -> None:
        self._documents = documents
        self._last: OrderedDict[str, float] = OrderedDict()
        self._gaps: dict[str, deque[float]] = {}
        self._lines: dict[str, int | None] = {}
        self._columns: dict[str, int | None] = {}
        self._forward: dict[str, bool] = {}

    def changed(self, uri: str, now: float | None = None, line: int | None = None, column: int | None = None) -> bool:
        """Record a change of `uri` (a keystroke, a paste) that left the cursor at `line`:`column`; whether that is
        another line than the document's last change (the user moved; always True for the first change)."""
        now = time.monotonic() if now is None else now
        moved = uri not in self._lines or self._lines[uri] != line
        previous = self._columns.get(uri)
        self._forward[uri] = not moved and previous is not None and column is not None and column > previous
        self._lines[uri] = line
        self._columns[uri] = column
        last = self._last.get(uri)
        if last is not None and 0 <= now - last <= PAUSE_S:
            self._gaps.setdefault(uri, deque(maxlen=KEPT)).append(now - last)
        self._last[uri] = now
        self._last.move_to_end(uri)
        while len(self._last) > self._documents:
            old, _ = self._last.popitem(last=False)
            self.forget(old)
        return moved

    def forward(self, uri: str) -> bool:
        """Whether the document's last change left the cursor further right on the line of the one before (typing,
        not deleting or moving)."""
        return self._forward.get(uri, False)

    def forget(self, uri: str) -> None:
        for kept in (self._last, self._lines, self._gaps, self._columns, self._forward):
            kept.pop(uri, None)

    def delay_ms(self, uri: str, base_ms: float, adaptive: bool = True, invoked: bool = False) -> float:
        """How long an automatic request for `uri` waits; 0 for an explicit one, `base_ms` until the rhythm is
        known (3 intervals) or when adaptation is off."""
        if invoked or base_ms <= 0:
            return 0.0
        gaps = self._gaps.get(uri)
        if not adaptive or not gaps or len(gaps) < 3:
            return float(base_ms)
        return min(2.0 * base_ms, max(0.5 * base_ms, FACTOR * 1000 * statistics.median(gaps)))
