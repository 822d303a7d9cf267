"""What `engine.quant` buys: prompt evaluation and decoding speed of the installed model as shipped and converted
locally (q4_0, q8_0), on the same prompt, in one run.

Run: `.venv/bin/python bench/quant_speed.py [--model qwen2.5-coder-0.5b] [--quants shipped,q4_0,q8_0]`. Prints
medians of 3; the first run of a quant converts the file once (a few seconds, not timed). Quality is not measured
here: README "Local conversion" has the `eval infilling` and HumanEval figures of each.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from kv_switch import TEXT, median_ms

from codeward.model.llamacpp import PROMPT_CHUNK, LlamaCppEngine
from codeward.model.settings import EngineSettings


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--quants", default="shipped,q4_0,q8_0")
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--decode-tokens", type=int, default=48)
    args = p.parse_args()
    print(f"{args.model}: {args.prompt_tokens}-token prompt in chunks of {PROMPT_CHUNK}, then "
          f"{args.decode_tokens} one-token decodes (load average {os.getloadavg()[0]:.1f})")
    print("| quant | file MB | prompt tokens/s | decode tokens/s |\n|---|---|---|---|")
    for quant in args.quants.split(","):
        engine = LlamaCppEngine(EngineSettings(model=args.model, quant=quant, n_ctx=2048))
        tokens = engine.tokenize(TEXT[:8000], bos=True)[: args.prompt_tokens]
        follow = engine.tokenize(TEXT[9000:12000], bos=False)[: args.decode_tokens]

        def prompt(engine: LlamaCppEngine = engine, tokens: list[int] = tokens) -> None:
            engine._llm.n_tokens = 0
            for start in range(0, len(tokens), PROMPT_CHUNK):
                engine._decode(tokens[start:start + PROMPT_CHUNK])

        def decode(engine: LlamaCppEngine = engine, tokens: list[int] = tokens, follow: list[int] = follow) -> None:
            engine._llm.n_tokens = len(tokens)
            for token in follow:
                engine._decode([token])

        prompt_ms = median_ms(prompt, 3)
        decode_ms = median_ms(decode, 3)
        size = os.path.getsize(engine.info.extra["path"]) / 1e6
        print(f"| {quant} | {size:.0f} | {len(tokens) / prompt_ms * 1e3:.0f} | {len(follow) / decode_ms * 1e3:.1f} |",
              flush=True)
        engine.close()


if __name__ == "__main__":
    main()
