"""The eval step of `make demo`: `codeward eval passk` on known-good and known-bad samples of a few tasks."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codeward.eval.datasets import humaneval_path

TASKS = 8
# The known limit of the sandbox's verdicts, in the words of docs/security.md (tests/eval/test_verdict_token.py).
VERDICT_LIMIT = ("The verdict token stops accidental and generic forgeries, but a sample written against the "
                 "runner's protocol can forge a pass (docs/security.md, Limits).")
HOSTILE = 3  # the sample_idx of each task's os._exit(0) sample


def _write_inputs(folder: Path) -> tuple[Path, Path]:
    """A data file with the first TASKS HumanEval tasks; per task 2 canonical, 1 `pass` and 1 hostile sample."""
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line, _ in zip(f, range(TASKS))]
    data, samples = folder / "tasks.jsonl", folder / "samples.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with samples.open("w", encoding="utf-8") as out:
        for r in rows:
            for completion in (r["canonical_solution"], r["canonical_solution"], "    pass\n",
                               "    import os\n    os._exit(0)\n"):
                out.write(json.dumps({"task_id": r["task_id"], "completion": completion}) + "\n")
    return data, samples


def run_demo(out_dir: str | None = None) -> None:
    """Run the real CLI into a new run folder and print its report's metrics."""
    out_dir = out_dir or time.strftime("runs/%Y%m%d-%H%M%S-demo-passk")
    with tempfile.TemporaryDirectory() as tmp:
        data, samples = _write_inputs(Path(tmp))
        print(f"{TASKS} HumanEval tasks x 4 samples: 2 canonical, 1 `pass`, 1 that calls os._exit(0) to fake a pass")
        cmd = [sys.executable, "-m", "codeward", "eval", "passk", "--samples", str(samples), "--data", str(data),
               "-k", "1,4", "--out", out_dir, "--no-progress"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        print(proc.stderr.rstrip())
        return
    results = json.loads(Path(out_dir, "results.json").read_text(encoding="utf-8"))
    for row in results["metrics"]:
        print(f"expected: pass@1 = 0.5 (2 of 4 samples per task are correct), pass@4 = 1.0; "
              f"got {row['pass@1']:.3f} and {row.get('pass@4', float('nan')):.3f}")
    rows = [json.loads(line) for line in Path(out_dir, "exec.jsonl").read_text(encoding="utf-8").splitlines()]
    faked = sum(1 for r in rows if r["sample_idx"] == HOSTILE and r["passed"])
    print(f"os._exit(0) samples graded as passes: {faked} of {TASKS}. {VERDICT_LIMIT}")


MISALIGNMENT_TASKS = 2


def run_misalignment_demo(out_dir: str | None = None) -> None:
    """A small `eval misalignment` run on the default model: mutated-contexts on a few HumanEval tasks, every
    measure; prints the gaps and where the report is."""
    out_dir = out_dir or time.strftime("runs/%Y%m%d-%H%M%S-demo-misalignment")
    print(f"the first {MISALIGNMENT_TASKS} HumanEval tasks, each after 3 other tasks' solutions as written (good), "
          "each with one injected bug (bad), or alone (none); T = 0.2, one sample per arm")
    cmd = [sys.executable, "-m", "codeward", "eval", "misalignment", "--protocol", "mutated-contexts", "--limit",
           str(MISALIGNMENT_TASKS), "-n", "1", "--max-new-tokens", "96", "-k", "1", "--out", out_dir]
    t0 = time.perf_counter()
    # stdout (the figures) is read; stderr (progress bars, any error) goes straight to the terminal
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        print(f"eval misalignment failed (exit code {proc.returncode}); its message is above")
        return
    print(proc.stdout.rstrip())
    results = json.loads(Path(out_dir, "results.json").read_text(encoding="utf-8"))
    bugs = [json.loads(line) for line in Path(out_dir, "contexts.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in bugs:
        for bug in row["bugs"][:1]:
            print(f"an injected bug before {row['task_id']} ({bug['source']}, {bug['operator']}): "
                  f"{bug['before']!r} -> {bug['after']!r}")
    rates = ", ".join(f"{m['arm']} {m['pass@1']:.2f}" for m in results["metrics"])
    print(f"pass@1 per arm: {rates} — {MISALIGNMENT_TASKS} tasks decide nothing; the report and plots are in "
          f"{out_dir}/ ({time.perf_counter() - t0:.0f} s)")
