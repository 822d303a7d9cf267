"""Prompt-style study: which template should the eval (and the editor) use for a model? FIM vs prefix-only vs chat.

    .venv/bin/python bench/prompt_style.py --model qwen2.5-coder-0.5b --infill-limit 100 --he-limit 40 \\
        --out runs/prompt-style

For each template: `codeward eval infilling` on the first N single-line HumanEval-Infilling tasks and `codeward eval
passk` on the first M HumanEval tasks (both greedy, through the pipeline, resumable: rerun the same command to
continue), and the mean per-token log-prob of the canonical middle of each infilling task under that template's
prompt (the model's belief in the right answer, free of sampling noise). Prints one Markdown table. Figures, not
pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DEFAULT_DATA = HERE.parent / "shared" / "data" / "humaneval-infilling" / "HumanEval-SingleLineInfilling.jsonl.gz"


def _eval(command: str, out: Path, args: list[str]) -> dict:
    """Run an eval command into `out` (resuming it if it exists); its first metric row."""
    cmd = [sys.executable, "-m", "codeward", "eval", command, *args, "-k", "1", "--out", str(out), "--no-progress"]
    if (out / "config.json").exists():
        cmd.append("--resume")
    subprocess.run(cmd, check=True, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    return json.loads((out / "results.json").read_text())["metrics"][0]


def mean_logprob(model: str, template: str, data: Path, limit: int) -> tuple[float, int]:
    """Mean over tasks of the canonical middle's log-prob per token under `template`'s prompt."""
    from codeward.completion.pipeline import Pipeline
    from codeward.config import load_settings
    from codeward.eval.datasets import load_problems
    from codeward.eval.passk.infilling import infill_request, whole_lines
    from codeward.model.factory import make_engine

    settings = load_settings({"engine": {"model": model, "template": template}})
    engine = make_engine(settings.engine)
    try:
        pipeline = Pipeline(settings.pipeline(), engine)
        values = []
        for problem in list(load_problems(data).values())[:limit]:
            middle = problem.canonical_solution or ""
            middle = middle[:-1] if whole_lines(problem) and middle.endswith("\n") else middle
            _cursor, _context, _mode, prompt = pipeline.prepare(infill_request(problem))
            values.append(engine.score(prompt, middle) / max(engine.count_tokens(middle), 1))
    finally:
        engine.close()
    return sum(values) / max(len(values), 1), len(values)


def _cell(metric: dict | None) -> str:
    if metric is None:
        return "—"
    lo, hi = metric["pass@1_ci95"]
    return f"{metric['pass@1']:.1%} [{lo:.1%}, {hi:.1%}] ({metric['tasks']} tasks)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--templates", default="qwen,prefix,chat", help="comma list of templates to compare")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="single-line infilling data file")
    parser.add_argument("--infill-limit", type=int, default=100)
    parser.add_argument("--he-limit", type=int, default=40, help="HumanEval tasks per template (0: skip)")
    parser.add_argument("--score-limit", type=int, default=40, help="infilling tasks whose canonical middle is "
                        "scored (a prefill each)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    greedy = ["--model", args.model, "--temperature", "0", "-n", "1"]
    rows = []
    for template in args.templates.split(","):
        infill = _eval("infilling", out / f"infill-{template}",
                       ["--data", args.data, "--limit", str(args.infill_limit), "--template", template, *greedy])
        he = None
        if args.he_limit:
            he = _eval("passk", out / f"humaneval-{template}", ["--limit", str(args.he_limit), "--template",
                                                                template, *greedy])
        lp, n = mean_logprob(args.model, template, Path(args.data), args.score_limit)
        rows.append((template, infill, he, lp, n))
        print(f"{template}: infilling {infill['pass@1']:.3f}, canonical log-prob/token {lp:.3f}", file=sys.stderr)
    print(f"\n{args.model}, greedy, through the completion pipeline")
    print("| template | single-line infilling pass@1 (95% CI) | HumanEval pass@1 (95% CI) | canonical middle "
          "log-prob/token |")
    print("|---|---|---|---|")
    for template, infill, he, lp, n in rows:
        print(f"| {template} | {_cell(infill)} | {_cell(he)} | {lp:.3f} ({n} tasks) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
