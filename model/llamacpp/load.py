"""Loading llama.cpp models without touching the process's standard streams, and llama.cpp's log kept quiet."""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
from pathlib import Path
from typing import Any

from codeward.model.base import EngineError


def load_llama(path: str, n_ctx: int, n_threads: int, what: str = "") -> Any:
    """`llama_cpp.Llama` for a GGUF file on `n_threads` (0: all cores); EngineError naming `what` if it fails."""
    import llama_cpp

    if not Path(path).is_file():
        raise EngineError(f"GGUF model file {path!r} not found{what}; pass a path to a .gguf file or an installed "
                          "model's name (`codeward models` lists them)")
    threads = n_threads or os.cpu_count() or 1
    quiet_llama_log()
    try:
        # verbose=False would point the process's stdout (fd 1) at /dev/null while the model loads: a language
        # server on stdio would lose every message it sends meanwhile. verbose=True leaves the fds alone; its
        # log lines are filtered by `quiet_llama_log` and its own prints (to sys.stderr) are caught here.
        with contextlib.redirect_stderr(io.StringIO()):
            llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                  n_batch=512, logits_all=False, verbose=True)
    except (ValueError, RuntimeError) as exc:
        raise EngineError(f"llama.cpp could not load {path!r}{what}: {exc}; is it a valid GGUF file?") from exc
    llm.verbose = False
    return llm


_LOG_CALLBACK: Any = None


def quiet_llama_log() -> None:
    """Route llama.cpp's own log to stderr at error level only (it reports every tensor otherwise)."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: Any) -> None:
        if level == 3:  # GGML_LOG_LEVEL_ERROR
            sys.stderr.write(text.decode("utf-8", "replace"))

    _LOG_CALLBACK = callback  # kept: llama.cpp holds only the C pointer
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
