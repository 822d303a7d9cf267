"""The ceiling of batched sampling on this CPU: how long llama.cpp takes to decode one row against r rows at once
(one token for each of r sequences that share a prompt), with no sampling and no Python per-token work.

    .venv/bin/python bench/decode_rows.py --model qwen2.5-coder-0.5b --rows 1,4,8,15

Prints a table: median ms per decode step for r rows, and r x (one-row time) / (r-row time), the most that decoding
r samples together can gain over decoding them one by one. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--rows", default="1,4,8,15")
    parser.add_argument("--prompt-chars", type=int, default=1800)
    parser.add_argument("--steps", type=int, default=24, help="timed decode steps per row count (median)")
    args = parser.parse_args()

    from codeward.model.llamacpp.batch import MAX_SEQS
    from codeward.model.llamacpp.engine import LlamaCppEngine
    from codeward.model.settings import EngineSettings

    engine = LlamaCppEngine(EngineSettings(model=args.model))
    try:
        kv, llm = engine._kv, engine._llm  # the engine's own batch machinery, timed without its sampling loop
        tokens = llm.tokenize(Path(shlex.__file__).read_text()[: args.prompt_chars].encode(), add_bos=True)
        rows = [int(r) for r in args.rows.split(",")]
        if max(rows) > MAX_SEQS - 1:
            parser.error(f"--rows: at most {MAX_SEQS - 1} (sequence 0 is the engine's prefix cache)")
        seqs = range(1, max(rows) + 1)
        kv.prefill(1, tokens, 0)
        for seq in seqs:
            if seq != 1:
                kv.copy(1, seq, len(tokens))
        times: dict[int, float] = {}
        for r in rows:
            pos = len(tokens)
            samples = []
            for _ in range(args.steps):
                start = time.perf_counter()
                kv.step([(tokens[-1], pos, seq) for seq in list(seqs)[:r]])
                samples.append((time.perf_counter() - start) * 1e3)
                pos += 1
            for seq in seqs:
                kv.drop(seq, len(tokens))
            times[r] = statistics.median(samples)
    finally:
        engine.close()
    print(f"{args.model}, prompt {len(tokens)} tokens, median of {args.steps} decode steps")
    print("| rows | ms per step | ceiling vs one row at a time |")
    print("|---|---|---|")
    for r, ms in times.items():
        print(f"| {r} | {ms:.1f} | {r * times[rows[0]] / ms / rows[0]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
