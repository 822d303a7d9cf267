"""Closing an engine the language server replaced, once the generation still running on it has stopped (closing
llama.cpp under a running decode crashes the process)."""

from __future__ import annotations

import asyncio
import logging

from codeward.model.base import Engine

log = logging.getLogger("codeward.lsp")


async def close_loaded(loading: asyncio.Future[Engine], lock: asyncio.Lock) -> None:
    """Close the engine `loading` gives once it has loaded and its running generation (if any) has stopped."""
    try:
        engine = await loading
    except Exception as exc:  # noqa: BLE001 - the request that awaited the load has reported the failure
        log.debug("engine load failed (%s); nothing to close", exc)
        return
    await _close_when_idle(engine, lock)


async def _close_when_idle(engine: Engine, lock: asyncio.Lock) -> None:
    """Close a replaced engine once the generation still running on it (if any) has stopped."""
    async with lock:
        await asyncio.to_thread(_close, engine)


def _close(engine: Engine) -> None:
    try:
        engine.close()
    except Exception:
        log.exception("closing the previous engine failed")
