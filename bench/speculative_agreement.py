"""Speculative (prompt-lookup) greedy decoding against plain greedy decoding on a fixed corpus: are the tokens the
same, is every divergence at a near-tie, how many drafted tokens are accepted, and how much faster is decoding?

The corpus: code before one-line statements of standard-library files (seeded), continued greedily for up to
`--max-new-tokens` tokens, one line (`--stop-line`) or until a blank line. A divergence is a near-tie when the
plain run's top two log-probs at the first differing position are within `--tie` nats (llama.cpp's batched
verification computes slightly different logits from one-token decoding).

Run: `.venv/bin/python bench/speculative_agreement.py --model qwen2.5-coder-0.5b --prompts 40`
"""

from __future__ import annotations

import argparse
import random
import statistics
import sysconfig
import time
from pathlib import Path

import numpy as np
from lsp_typing import pick_lines

from codeward.model.base import SamplingParams
from codeward.model.llamacpp.engine import LlamaCppEngine
from codeward.model.sampling import log_softmax
from codeward.model.settings import EngineSettings


def corpus(count: int, seed: int, chars: int) -> list[str]:
    """Texts that end where a one-line statement of a stdlib file starts (after its indentation)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    picked = pick_lines(stdlib, max(1, count // 4), 4, random.Random(seed))
    out = []
    for path, lines in picked.items():
        text = path.read_text(encoding="utf-8").split("\n")
        for line in lines:
            indent = len(line.prefix) - len(line.prefix.lstrip())
            out.append(("\n".join(text[:line.number]) + "\n" + line.prefix[:indent])[-chars:])
    return out[:count]


def near_tie_gap(engine: LlamaCppEngine, prompt: str, common: str) -> float:
    """The plain engine's gap between its top two log-probs after `prompt` + `common`."""
    tokens = engine.tokenize(prompt + common, bos=True)
    logits = engine._prefill(tokens)
    top = np.sort(log_softmax(logits))[-2:]
    return float(top[1] - top[0])


def run(args: argparse.Namespace) -> None:
    prompts = corpus(args.prompts, args.seed, args.chars)
    stop = ("\n",) if args.stop_line else ("\n\n",)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, stop=stop)
    results: dict[str, list] = {}
    times: dict[str, list[float]] = {}
    engines = {mode: LlamaCppEngine(EngineSettings(model=args.model, n_ctx=2048, speculative=mode))
               for mode in ("off", "lookup")}
    for mode, engine in engines.items():
        results[mode], times[mode] = [], []
        for prompt in prompts:
            engine.generate([prompt], SamplingParams(max_new_tokens=1))  # the prompt's prefill, not timed
            started = time.perf_counter()
            sample = engine.generate([prompt], params)[0][0]
            times[mode].append(time.perf_counter() - started)
            results[mode].append(sample)
    equal = ties = 0
    gaps = []
    for prompt, plain, spec in zip(prompts, results["off"], results["lookup"]):
        if plain.text == spec.text:
            equal += 1
            continue
        common = next((i for i, (a, b) in enumerate(zip(plain.text, spec.text)) if a != b),
                      min(len(plain.text), len(spec.text)))
        gap = near_tie_gap(engines["off"], prompt, plain.text[:common])
        gaps.append(gap)
        ties += gap <= args.tie
    counters = engines["lookup"].counters()
    tokens = sum(s.n_tokens for s in results["off"])
    rate = {mode: tokens / sum(times[mode]) for mode in times}
    print(f"model {args.model}: {len(prompts)} prompts, {tokens} tokens, stop {stop!r}")
    print(f"identical outputs: {equal}/{len(prompts)}; divergences at a near-tie (<= {args.tie} nats): "
          f"{ties}/{len(prompts) - equal}" + (f"; their top-2 gaps {[round(g, 3) for g in gaps]}" if gaps else ""))
    print(f"drafted {counters['spec_proposed']} tokens, accepted {counters['spec_accepted']} "
          f"({counters['spec_accepted'] / max(1, counters['spec_proposed']):.0%}) in {counters['spec_steps']} steps")
    print(f"decoding (prefill excluded): plain {rate['off']:.1f} tok/s, speculative {rate['lookup']:.1f} tok/s "
          f"({rate['lookup'] / rate['off']:.2f}x); median per prompt {statistics.median(times['off']) * 1e3:.0f} ms "
          f"vs {statistics.median(times['lookup']) * 1e3:.0f} ms")
    for engine in engines.values():
        engine.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--prompts", type=int, default=40)
    p.add_argument("--chars", type=int, default=3000, help="characters of code before each cursor")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--stop-line", action="store_true", help="stop at the end of the line (default: blank line)")
    p.add_argument("--tie", type=float, default=0.1, help="near-tie threshold in nats")
    p.add_argument("--seed", type=int, default=0)
    run(p.parse_args())


if __name__ == "__main__":
    main()
