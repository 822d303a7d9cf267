"""Per-document model contexts for the llamacpp engine: an LRU of saved KV states under a memory bound.

One llama.cpp context holds one live KV prefix (sequence 0, mirrored by `Llama.input_ids`). When the editor
switches documents, the state of the document it leaves is copied out (`llama_state_seq_get_data`: the cells of
sequence 0, about 12 KB per token for Qwen2.5-Coder-0.5B, 28 KB for 1.5B) and the state of the document it comes
back to is copied in, so its next prompt extends its own cached prefix instead of paying a cold prefill. States
are kept most-recently-used first until their bytes exceed the bound; the live one costs nothing extra.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedState:
    """Sequence 0 of one document's context: its tokens and llama.cpp's serialised cells."""

    tokens: np.ndarray
    data: bytes


class ContextCache:
    """Which document's prefix sequence 0 holds (`resident`), and the saved states of the others."""

    def __init__(self, llm: Any, max_bytes: int) -> None:
        self._llm = llm
        self.max_bytes = max_bytes
        self.resident: str | None = None
        self._saved: OrderedDict[str, SavedState] = OrderedDict()
        self.counts = {"kv_switches": 0, "kv_restores": 0, "kv_evictions": 0}

    @property
    def saved_bytes(self) -> int:
        return sum(len(s.data) for s in self._saved.values())

    def switch(self, key: str) -> None:
        """Make sequence 0 hold `key`'s saved prefix (or keep what it holds when `key` has none)."""
        if key == self.resident:
            return
        self.counts["kv_switches"] += 1
        if self.resident is not None:
            self._save(self.resident)
        state = self._saved.pop(key, None)
        if state is not None and self._restore(state):
            self.counts["kv_restores"] += 1
        self.resident = key

    def tokens_of(self, key: str | None) -> np.ndarray | None:
        """The tokens `key`'s context holds (resident or saved; None: the resident one) without switching to it;
        None when it has none."""
        if key is None or key == self.resident:
            return np.asarray(self._llm.input_ids[:self._llm.n_tokens])
        state = self._saved.get(key)
        return None if state is None else state.tokens

    def forget(self, key: str) -> None:
        """Drop a document's saved state (closed in the editor)."""
        self._saved.pop(key, None)

    def _save(self, key: str) -> None:
        import llama_cpp

        llm, n = self._llm, self._llm.n_tokens
        if n <= 0 or self.max_bytes <= 0:
            return
        ctx = llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        if written <= 0:
            log.debug("llama.cpp saved no state for %s", key)
            return
        # string_at copies the bytes at C speed; slicing a c_uint8 array would build a list of ints (56 ms for the
        # 2.3 MB of a 190-token context, on every switch: bench/kv_switch.py)
        self._saved[key] = SavedState(np.array(llm.input_ids[:n], dtype=np.intc), ctypes.string_at(buffer, written))
        while self._saved and self.saved_bytes > self.max_bytes:
            self._saved.popitem(last=False)
            self.counts["kv_evictions"] += 1

    def _restore(self, state: SavedState) -> bool:
        """Load `state` into sequence 0 (its old cells dropped first); False, with seq 0 empty, if it fails."""
        import llama_cpp

        llm = self._llm
        llm._ctx.kv_cache_seq_rm(0, 0, -1)
        llm.n_tokens = 0
        buffer = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
        read = llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(state.data), 0)
        if read <= 0:
            log.warning("llama.cpp could not restore a saved context (%d tokens); it is evaluated again",
                        len(state.tokens))
            llm._ctx.kv_cache_seq_rm(0, 0, -1)
            return False
        n = len(state.tokens)
        llm.input_ids[:n] = state.tokens
        llm.n_tokens = n
        return True
