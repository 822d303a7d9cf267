"""Two costs of the llamacpp engine's per-document contexts, on the installed model.

1. Prompt evaluation throughput by decode chunk size (a request's prompt is evaluated in PROMPT_CHUNK-token chunks
   so that a superseded request frees the model within one chunk; this shows what chunking costs).
2. A context switch between two documents (saving one document's KV state, restoring the other's) for prompts of
   a few sizes, and the byte copy behind a save: `ctypes.string_at` (what the engine does) against slicing the
   c_uint8 buffer (what it did before: a Python list of ints).

Run: `.venv/bin/python bench/kv_switch.py [--model qwen2.5-coder-0.5b]`. Prints medians.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sysconfig
import time
from pathlib import Path

from codeward.model.llamacpp.engine import PROMPT_CHUNK, LlamaCppEngine
from codeward.model.settings import EngineSettings

TEXT = (Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text(encoding="utf-8")


def median_ms(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    args = p.parse_args()
    engine = LlamaCppEngine(EngineSettings(model=args.model, n_ctx=4096))
    llm = engine._llm
    tokens = engine.tokenize(TEXT[:8000], bos=True)[:512]

    def evaluate(chunk: int) -> None:
        llm.n_tokens = 0
        for start in range(0, len(tokens), chunk):
            engine._decode(tokens[start:start + chunk])

    print(f"prompt evaluation, {len(tokens)} tokens (PROMPT_CHUNK = {PROMPT_CHUNK}):")
    for chunk in (512, 256, 128, 64, 32, 16):
        ms = median_ms(lambda chunk=chunk: evaluate(chunk), 3)
        print(f"  chunks of {chunk:>3}: {len(tokens) / ms * 1e3:6.0f} tokens/s")
    print("context switch (save one document's state, restore the other's):")
    for size in (190, 400, 768):
        a, b = TEXT[:6000], TEXT[20000:26000]
        ta, tb = engine.tokenize(a, bos=True)[:size], engine.tokenize(b, bos=True)[:size]
        for key, toks in (("a", ta), ("b", tb)):
            engine.use_context(key)
            engine._prefill(toks)
        keys = iter(["a", "b"] * 10)
        ms = median_ms(lambda keys=keys: engine.use_context(next(keys)), 8)
        saved = max(len(s.data) for s in engine._contexts._saved.values())
        buffer = (ctypes.c_uint8 * saved)()
        fast = median_ms(lambda buffer=buffer, saved=saved: ctypes.string_at(buffer, saved))
        slow = median_ms(lambda buffer=buffer, saved=saved: bytes(buffer[:saved]), 3)
        print(f"  {size} tokens ({saved / 1e6:.1f} MB): switch {ms:.1f} ms; copy by string_at {fast:.2f} ms, "
              f"by slicing {slow:.1f} ms")
    engine.close()


if __name__ == "__main__":
    main()
