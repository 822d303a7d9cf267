"""Context diagnostics: likely bugs in the code around the cursor — the lines the model reads — published as
diagnostics after a pause in typing, because a model conditioned on buggy code writes worse code than it can.

The check is the safety layer's rules of the kinds bug and subtle (`context_findings`, `CONTEXT_KINDS`: no security
or bandit checks) on a window of lines around the last edit (the prompt's prefix budget and a little after), off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from lsprotocol import types

from codeward.config import Settings
from codeward.lsp_server.diagnostics import follow, to_diagnostic
from codeward.lsp_server.documents import Snapshot
from codeward.safety.api import context_findings_around
from codeward.safety.findings import Finding

log = logging.getLogger("codeward.lsp")
BEFORE_LINES, AFTER_LINES = 200, 30  # ~ the 768-token prefix budget at ~3-4 tokens a line, with room to spare
YIELD_STEP_S, YIELD_MAX_S = 0.05, 5.0  # how the check waits for a running completion request to end
NOTE = " (codeward reads this code as the model's context: suggestions may imitate it)"


class ContextDiagnostics:
    """Per document: the last check's findings, and the check waiting for the pause in typing."""

    def __init__(self, publish: Callable[[str], None], on_check: Callable[[int], None] | None = None,
                 busy: Callable[[], bool] | None = None) -> None:
        """`busy`: whether a completion request is running in the model now; the check waits for it to end
        (at most YIELD_MAX_S), because on 2 cores a parse beside the model's threads slows the answer the user
        is waiting for more than it costs the diagnostics to come a moment later."""
        self._publish = publish
        self._on_check = on_check
        self._busy = busy
        self._found: dict[str, list[Finding]] = {}
        self._waiting: dict[str, asyncio.Task[None]] = {}

    def schedule(self, uri: str, text: str, cursor_line: int, settings: Settings) -> None:
        """Check `text` around `cursor_line` once typing pauses (a newer edit replaces a waiting check)."""
        if not settings.context.diagnostics:
            if self._found.pop(uri, None):
                self._publish(uri)
            return
        old = self._waiting.pop(uri, None)
        if old is not None:
            old.cancel()
        self._waiting[uri] = asyncio.ensure_future(self._check(uri, text, cursor_line, settings))

    async def _check(self, uri: str, text: str, cursor_line: int, settings: Settings) -> None:
        try:
            await asyncio.sleep(settings.context.diagnostics_delay_ms / 1000)
            waited = 0.0
            while self._busy is not None and self._busy() and waited < YIELD_MAX_S:
                await asyncio.sleep(YIELD_STEP_S)
                waited += YIELD_STEP_S
            found = await asyncio.to_thread(context_findings_around, text, cursor_line, settings.safety,
                                            BEFORE_LINES, AFTER_LINES)
        except asyncio.CancelledError:
            return
        except Exception as exc:
            log.warning("context diagnostics failed on %s: %s", uri, exc, exc_info=True)
            return
        if self._waiting.get(uri) is asyncio.current_task():
            del self._waiting[uri]
        if self._on_check is not None:
            self._on_check(len(found))
        if found or self._found.get(uri):
            self._found[uri] = found
            self._publish(uri)

    def edited(self, uri: str, changes: Sequence[Any]) -> None:
        """Move the last check's findings along a `didChange` until the next check replaces them (a finding on a
        deleted line goes away), so that a publish in between shows them where they are."""
        found = self._found.get(uri)
        if not found or all(_within_a_line(c) for c in changes):
            return  # typing inside a line moves no finding to another line
        kept = []
        for finding in found:
            line: int | None = finding.line - 1
            for change in changes:
                where = follow(line, change, finding.col) if line is not None else ()
                line = where[0] if where else None
            if line is not None:
                kept.append(finding.shifted(line - (finding.line - 1)))
        self._found[uri] = kept

    def diagnostics(self, snap: Snapshot) -> list[types.Diagnostic]:
        out = []
        for f in self._found.get(snap.uri, []):
            d = to_diagnostic(snap, f)
            if "imitate" not in d.message:
                d.message += NOTE
            out.append(d)
        return out

    def forget(self, uri: str) -> None:
        self._found.pop(uri, None)
        task = self._waiting.pop(uri, None)
        if task is not None:
            task.cancel()


def _within_a_line(change: Any) -> bool:
    """Whether a `didChange` change edits inside one line and adds none (a whole-document change does not)."""
    where = getattr(change, "range", None)
    return where is not None and where.start.line == where.end.line and "\n" not in change.text \
        and "\r" not in change.text
