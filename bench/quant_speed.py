"""What `engine.quant` buys: prompt evaluation and decoding speed, and peak memory, of the installed model as
shipped and converted locally (q4_0, q8_0), on the same prompt, in one run.

Run: `.venv/bin/python bench/quant_speed.py [--model qwen2.5-coder-0.5b] [--quants shipped,q4_0,q8_0]
[--chunks 16,32,64]`. Each quant runs in a process of its own (its peak RSS is that process's: the engine loaded
with the default n_ctx, the prompt evaluated, the decodes). Prints medians of 3, prompt speed for each chunk size
(tokens per llama.cpp decode call: the background prefill evaluates PREFILL_CHUNK at a time, a request's prompt
PROMPT_CHUNK); the first run of a quant converts the file once (a few seconds, not timed). Quality is not measured
here: docs/benchmarks.md#local-conversion has the `eval infilling` and HumanEval figures of each.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

from kv_switch import TEXT, median_ms

from codeward.model.llamacpp.engine import PREFILL_CHUNK, PROMPT_CHUNK, LlamaCppEngine
from codeward.model.settings import EngineSettings


def measure(args: argparse.Namespace, quant: str, chunks: list[int]) -> str:
    """One table row for `quant`, measured in this process."""
    engine = LlamaCppEngine(EngineSettings(model=args.model, quant=quant))
    tokens = engine.tokenize(TEXT[:8000], bos=True)[: args.prompt_tokens]
    follow = engine.tokenize(TEXT[9000:12000], bos=False)[: args.decode_tokens]

    def prompt(chunk: int) -> None:
        engine._llm.n_tokens = 0
        for start in range(0, len(tokens), chunk):
            engine._decode(tokens[start:start + chunk])

    def decode() -> None:
        engine._llm.n_tokens = len(tokens)
        for token in follow:
            engine._decode([token])

    speeds = [len(tokens) / median_ms(lambda c=c: prompt(c), 3) * 1e3 for c in chunks]
    decode_ms = median_ms(decode, 3)
    size = os.path.getsize(engine.info.extra["path"]) / 1e6
    engine.close()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB on Linux
    return (f"| {quant} | {size:.0f} | {' | '.join(f'{v:.0f}' for v in speeds)} | "
            f"{len(follow) / decode_ms * 1e3:.1f} | {peak_gb:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--quants", default="shipped,q4_0,q8_0")
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--decode-tokens", type=int, default=48)
    p.add_argument("--chunks", default=f"{PROMPT_CHUNK}",
                   help=f"prompt chunk sizes to time (comma list; shipped: prefill {PREFILL_CHUNK}, "
                        f"prompt {PROMPT_CHUNK})")
    p.add_argument("--one", default="", help=argparse.SUPPRESS)  # the child process measuring one quant
    args = p.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    if args.one:
        print(measure(args, args.one, chunks), flush=True)
        return
    print(f"{args.model}: {args.prompt_tokens}-token prompt in chunks of {', '.join(map(str, chunks))}, then "
          f"{args.decode_tokens} one-token decodes (load average {os.getloadavg()[0]:.1f})")
    heads = " | ".join(f"prompt tokens/s, chunks of {c}" for c in chunks)
    print(f"| quant | file MB | {heads} | decode tokens/s | peak RSS GB |\n|---|---|{'---|' * len(chunks)}---|---|",
          flush=True)
    passed = ["--model", args.model, "--prompt-tokens", str(args.prompt_tokens), "--decode-tokens",
              str(args.decode_tokens), "--chunks", args.chunks]
    for quant in args.quants.split(","):
        done = subprocess.run([sys.executable, __file__, *passed, "--one", quant], capture_output=True, text=True,
                              check=False)
        rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
        print(rows[-1] if done.returncode == 0 and rows else f"| {quant} | failed: {done.stderr.strip()[-300:]} |",
              flush=True)


if __name__ == "__main__":
    main()
