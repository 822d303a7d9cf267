"""Engine benchmark: single-line completion latency (cold and with KV reuse) and batched sampling throughput.

    .venv/bin/python bench/engines.py [--engines llamacpp,tf-fp32,tf-bf16] [--model qwen2.5-coder-0.5b]
        [--repeats 10] [--ns 1,4,8,16] [--sample-tokens 64] [--no-latency]

One prompt from a real file (the standard library's shlex.py, cut inside a method before a code line). Prints
Markdown tables of medians; figures, not pass/fail. Cold calls get a prompt whose first line differs each time, so
no KV prefix is shared; reuse calls simulate typing: each prompt is the previous one plus one more character of the
next line. Throughput compares n samples in one call (decoded together) with n one-sample calls, both after the
prompt is in the KV cache, at temperature 0.8 with fixed seeds; each row carries the 1-minute load average, since
other work on a 2-core machine skews the figures (the bench's own threads count in it: about the thread count
means nothing else ran; rerun when `uptime` shows under ~1 before starting).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from codeward.model.registry import DEFAULT_MODEL

ENGINES = {"llamacpp": ("llamacpp", "auto"), "tf-fp32": ("transformers", "float32"),
           "tf-bf16": ("transformers", "bfloat16")}


CODE_LINE = re.compile(r"^(return |if |for |while |self\.\w+ = |\w+ = )")


def real_prompt(path: Path, max_chars: int) -> tuple[str, str]:
    """The file cut at a line boundary inside a function (plus the next line's indent), and that next line."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    size, cut = 0, 0
    for i, line in enumerate(lines):
        if size + len(line) > max_chars:
            break
        size += len(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if nxt.startswith("        ") and CODE_LINE.match(nxt.strip()):
            cut = i + 1
    if cut == 0:
        raise SystemExit(f"no code line to complete within the first {max_chars} characters of {path}; "
                         "raise --max-chars or pick another --file")
    head = "".join(lines[:cut])
    following = lines[cut]
    indent = following[:len(following) - len(following.lstrip())]
    return head + indent, following.strip()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def latency(engine, prompt: str, typed: str, repeats: int, max_new: int) -> tuple[float, float]:
    """Median seconds of a single-line completion: cold (no shared prefix) and typing forward (KV reuse)."""
    from codeward.model.base import SamplingParams

    params = SamplingParams(max_new_tokens=max_new, stop=("\n",))
    engine.generate([prompt], params)  # warm-up: first-call allocations
    cold = [timed(lambda i=i: engine.generate([f"# variant {i}\n" + prompt], params)) for i in range(repeats)]
    engine.generate([prompt], params)
    warm = [timed(lambda i=i: engine.generate([prompt + typed[:i + 1]], params)) for i in range(repeats)]
    return statistics.median(cold), statistics.median(warm)


def throughput(engine, prompt: str, n: int, max_new: int, loop: bool) -> tuple[float, float | None]:
    """Aggregate new tokens per second for n samples in one call, and (optionally) as n one-sample calls."""
    from codeward.model.base import SamplingParams

    engine.generate([prompt], SamplingParams(max_new_tokens=1))  # the prompt's KV is cached for both ways
    start = time.perf_counter()
    batch = engine.generate([prompt], SamplingParams(n=n, temperature=0.8, max_new_tokens=max_new, seed=1))[0]
    batch_rate = sum(s.n_tokens for s in batch) / (time.perf_counter() - start)
    if not loop:
        return batch_rate, None
    start, tokens = time.perf_counter(), 0
    for i in range(n):
        one = engine.generate([prompt], SamplingParams(temperature=0.8, max_new_tokens=max_new, seed=100 + i))
        tokens += one[0][0].n_tokens
    return batch_rate, tokens / (time.perf_counter() - start)


def make(name: str, threads: int, model: str):
    from codeward.model.factory import make_engine
    from codeward.model.settings import EngineSettings

    engine, dtype = ENGINES[name]
    settings = EngineSettings(engine=engine, model=model, device="cpu", dtype=dtype, n_threads=threads,
                              n_ctx=4096)
    return make_engine(settings)


def throughput_row(engine, name: str, prompt: str, n: int, args: argparse.Namespace) -> str:
    """One Markdown row of the throughput table, with the load average when it was measured."""
    batch, loop = throughput(engine, prompt, n, args.sample_tokens, loop=not args.no_loop)
    loop_text = f"{loop:.1f}" if loop is not None else "-"
    ratio = f"{batch / loop:.2f}x" if loop else "-"
    row = f"| {name} | {n} | {batch:.1f} | {loop_text} | {ratio} | {os.getloadavg()[0]:.2f} |"
    print(row, file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="llamacpp,tf-fp32,tf-bf16", help=f"comma list of {', '.join(ENGINES)}")
    parser.add_argument("--file", type=Path, default=Path(shlex.__file__), help="source file for the prompt")
    parser.add_argument("--max-chars", type=int, default=1800, help="prompt size in characters")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per latency figure (median)")
    parser.add_argument("--line-tokens", type=int, default=24, help="max new tokens of a single-line completion")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="installed model name or GGUF path")
    parser.add_argument("--ns", default="1,4,8,16", help="batch sizes for the throughput table")
    parser.add_argument("--sample-tokens", type=int, default=64, help="new tokens per sample in the throughput runs")
    parser.add_argument("--no-loop", action="store_true", help="skip the per-sample loop comparison")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency table")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = engine default)")
    args = parser.parse_args(argv)
    names = [n for n in args.engines.split(",") if n]
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    prompt, next_line = real_prompt(args.file, args.max_chars)
    ns = [int(n) for n in args.ns.split(",") if n]
    print(f"prompt: {args.file.name}, {len(prompt)} chars; next line {next_line!r}; model {args.model}; "
          f"threads={args.threads or 'default'}; load average at start {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    lat_rows, tp_rows = [], []
    for name in names:
        start = time.perf_counter()
        engine = make(name, args.threads, args.model)
        load_s = time.perf_counter() - start
        tokens = engine.count_tokens(prompt)
        if not args.no_latency:
            cold, warm = latency(engine, prompt, next_line, args.repeats, args.line_tokens)
            lat_rows.append(f"| {name} | {tokens} | {load_s:.1f} | {cold * 1000:.0f} | {warm * 1000:.0f} | "
                            f"{cold / warm:.1f}x | {os.getloadavg()[0]:.2f} |")
        tp_rows += [throughput_row(engine, name, prompt, n, args) for n in ns]
        engine.close()
        print(f"done: {name}", file=sys.stderr, flush=True)
    if lat_rows:
        print(f"\nSingle-line completion latency, median of {args.repeats} (stop at newline, <= {args.line_tokens} "
              "tokens):\n")
        print("| engine | prompt tokens | load s | cold ms | KV reuse ms | speed-up | load avg |\n"
              "|---|---|---|---|---|---|---|")
        print("\n".join(lat_rows))
    print(f"\nSampling throughput, {args.sample_tokens} new tokens per sample, temperature 0.8, fixed seeds "
          f"(new tokens/s, all samples together), prompt {tokens} tokens:\n")
    print("| engine | n | one batched call | per-sample loop | batch / loop | load avg |\n|---|---|---|---|---|---|")
    print("\n".join(tp_rows))
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
