"""HumanEval through codeward's own completion pipeline and sandbox: greedy pass@1 with its 95% CI, wall time, tok/s.

    .venv/bin/python bench/humaneval.py --model qwen2.5-coder-0.5b --template qwen --out runs/he-05b-qwen
    .venv/bin/python bench/humaneval.py --model qwen2.5-coder-0.5b --template chat --limit 40 --out runs/he-05b-chat

Each task's prompt is a document with the cursor at its end; the pipeline renders it with `--template` (`qwen`: the
FIM template with an empty suffix, `prefix`: the raw prompt, `chat`: the model's chat template asking for the code
at the cursor), samples greedily, postprocesses and checks it as in the editor. The completions go to
OUT/samples.jsonl (resumable: rerun the same command to continue) and are executed by `codeward eval passk` in the
sandbox (OUT/exec-N/, N the number of samples). Prints one Markdown table row. Figures, not pass/fail.
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
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0 = all cores)")
    parser.add_argument("--out", required=True, help="folder for samples.jsonl and the exec run")
    args = parser.parse_args()

    from codeward.completion.pipeline import Pipeline
    from codeward.config import load_settings
    from codeward.eval.datasets import humaneval_path, load_problems
    from codeward.eval.generate import SamplingPlan, sample_run
    from codeward.eval.jsonl import read_rows
    from codeward.model.factory import make_engine

    problems = load_problems(humaneval_path())
    ids = list(problems)
    if args.tasks:
        ids = [f"HumanEval/{int(t)}" for t in args.tasks.split(",")]
    elif args.limit:
        ids = ids[:args.limit]
    out = Path(args.out)
    settings = load_settings({"engine": {"model": args.model, "n_threads": args.threads}})
    plan = SamplingPlan(temperatures=(0.0,), n=1, top_p=1.0, max_new_tokens=512, template=args.template)
    start = time.perf_counter()
    engine = make_engine(settings.engine)
    load_s = time.perf_counter() - start
    template = Pipeline(settings.pipeline(), engine).template.name if args.template == "auto" else args.template
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    sample_run(engine, settings.pipeline(), plan, problems, ids, out / "samples.jsonl", arm=args.template)
    engine.close()
    rows = [r for r in read_rows(out / "samples.jsonl") if r["task_id"] in set(ids)]
    gen_s = sum(r["seconds"] for r in rows)
    tokens = sum(r["n_tokens"] for r in rows)
    # One exec folder per sample count: a rerun that added samples executes them into a new folder (a resumed
    # `eval passk` refuses a samples file that changed under it); a rerun with nothing new resumes the old one.
    exec_dir = out / f"exec-{len(rows)}"
    cmd = [sys.executable, "-m", "codeward", "eval", "passk", "--samples", str(out / "samples.jsonl"),
           "-k", "1", "--out", str(exec_dir), "--no-progress"]
    if exec_dir.exists():
        cmd.append("--resume")
    subprocess.run(cmd, check=True, env=os.environ.copy())
    metric = json.loads((exec_dir / "results.json").read_text())["metrics"][0]
    lo, hi = metric["pass@1_ci95"]
    print(f"\nengine load {load_s:.1f} s; this run's wall time {time.perf_counter() - start:.0f} s; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("| model | template | tasks | pass@1 | 95% CI | generation time | tokens/s |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.model} | {template} | {len(rows)} | {metric['pass@1']:.1%} | "
          f"[{lo:.1%}, {hi:.1%}] | {gen_s / 60:.1f} min | {tokens / max(gen_s, 1e-9):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
