"""HumanEval through codeward's own completion pipeline and sandbox: greedy pass@1 with its 95% CI, wall time, tok/s.

    .venv/bin/python bench/humaneval.py --model qwen2.5-coder-0.5b --template qwen --out runs/he-05b-qwen
    .venv/bin/python bench/humaneval.py --model qwen2.5-coder-0.5b --template chat --limit 40 --out runs/he-05b-chat

A greedy `codeward eval passk` run (one sample per task, `--temperature 0 -n 1 -k 1`) into OUT — the task's prompt
as a document with the cursor at its end, rendered with `--template` (`qwen`: FIM with an empty suffix, `prefix`:
the raw prompt, `chat`: the model's chat template), postprocessed and checked as in the editor, executed in the
sandbox; rerun the same command to continue an interrupted run. Prints one Markdown table row. Figures, not
pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="installed model name or GGUF path")
    parser.add_argument("--template", default="auto", help="prompt template (auto, qwen, prefix, chat, ...)")
    parser.add_argument("--limit", type=int, default=0, help="first N tasks only (0 = all 164)")
    parser.add_argument("--tasks", default="", help="comma list of task numbers instead (e.g. 0,2,4)")
    parser.add_argument("--out", required=True, help="the run folder")
    args = parser.parse_args()

    out = Path(args.out)
    cmd = [sys.executable, "-m", "codeward", "eval", "passk", "--model", args.model, "--template", args.template,
           "--temperature", "0", "-n", "1", "-k", "1", "--out", str(out)]
    if args.tasks:
        cmd += ["--tasks", args.tasks]
    elif args.limit:
        cmd += ["--limit", str(args.limit)]
    if (out / "config.json").exists():
        cmd.append("--resume")
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    results = json.loads((out / "results.json").read_text())
    metric, speed = results["metrics"][0], results["throughput"]
    lo, hi = metric["pass@1_ci95"]
    template = ", ".join(speed["templates"]) or args.template
    print(f"\nthis run's wall time {time.perf_counter() - start:.0f} s; load average {os.getloadavg()[0]:.2f}")
    print("| model | template | tasks | pass@1 | 95% CI | generation time | tokens/s |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.model} | {template} | {metric['tasks']} | {metric['pass@1']:.1%} | [{lo:.1%}, {hi:.1%}] | "
          f"{speed['seconds'] / 60:.1f} min | {speed['tokens_per_s']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
