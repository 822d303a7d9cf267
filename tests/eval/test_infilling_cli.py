"""`codeward eval infilling` on HumanEval-Infilling rows: canonical middles pass where the pipeline inserts them,
per kind; bad inputs get clear errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from codeward.completion.settings import PipelineSettings
from codeward.eval.datasets import load_problems
from codeward.eval.generate import SamplingPlan, sample_run
from codeward.eval.passk.infilling import infill_pipeline_settings, infill_rows, task_kind
from tests.pipeline.conftest import ScriptedEngine

FILES = ("HumanEval-SingleLineInfilling.jsonl.gz", "HumanEval-MultiLineInfilling.jsonl.gz",
         "HumanEval-RandomSpanInfillingLight.jsonl.gz")


@pytest.fixture(scope="module")
def infill_data(data_set, tmp_path_factory) -> Path:
    """Four tasks of each kind in one file."""
    rows = []
    for name in FILES:
        with gzip.open(data_set("humaneval-infilling", name), "rt", encoding="utf-8") as f:
            rows += [json.loads(line) for _, line in zip(range(4), f, strict=False)]
    path = tmp_path_factory.mktemp("infill") / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _codeward(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeward", "eval", "infilling", *args], capture_output=True,
                          text=True, check=False, timeout=300)


def test_canonical_middles_pass_for_every_kind(infill_data, tmp_path):
    problems = load_problems(infill_data)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": p.canonical_solution,
                                           "arm": task_kind(t)}) + "\n" for t, p in problems.items()))
    out = tmp_path / "run"
    proc = _codeward("--data", str(infill_data), "--samples", str(samples), "-k", "1", "--out", str(out),
                     "--no-progress")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    assert {m["arm"]: m["pass@1"] for m in metrics} == {"single-line": 1.0, "multi-line": 1.0, "random-span": 1.0}
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(json.dumps({"task_id": t, "completion": "", "arm": task_kind(t)}) + "\n"
                             for t in problems))
    proc = _codeward("--data", str(infill_data), "--samples", str(wrong), "-k", "1", "--out", str(tmp_path / "w"),
                     "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert all(m["pass@1"] < 1.0 for m in json.loads((tmp_path / "w" / "results.json").read_text())["metrics"])


def test_the_pipeline_puts_a_line_into_the_hole_and_it_passes(infill_data, tmp_path):
    """A model that answers the canonical line (without its newline, as a single-line suggestion ends): the
    recorded middle goes where the line was, and the program passes."""
    problems = load_problems(infill_data)
    task_id = next(t for t in problems if task_kind(t) == "single-line")
    problem = problems[task_id]
    engine = ScriptedEngine([problem.canonical_solution.rstrip("\n")])
    plan = SamplingPlan(temperatures=(0.0,), n=1, max_new_tokens=64, template="prefix")
    out = tmp_path / "samples.jsonl"
    sample_run(engine, PipelineSettings(), plan, problems, [task_id], out, arm=task_kind, progress=False,
               make_rows=infill_rows, settings_for=lambda t: infill_pipeline_settings(PipelineSettings(), plan, t,
                                                                                      None))
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["arm"] == "single-line" and row["hole"] == "lines" and row["mode"] in ("single", "multi")
    assert row["completion"] == problem.canonical_solution
    prompt = engine.calls[0][0][0].text
    assert problem.prompt in prompt  # the prefix-only template still sees the code above the hole
    proc = _codeward("--data", str(infill_data), "--samples", str(out), "-k", "1", "--out", str(tmp_path / "run"),
                     "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "run" / "results.json").read_text())["metrics"][0]["pass@1"] == 1.0


def test_infilling_needs_data_with_suffixes(tmp_path):
    proc = _codeward("--out", str(tmp_path / "a"))
    assert proc.returncode == 2 and "--data FILE" in proc.stderr
    human_eval = tmp_path / "he.jsonl"
    human_eval.write_text(json.dumps({"task_id": "t/0", "prompt": "def f():\n", "entry_point": "f",
                                      "test": "def check(c):\n    pass\n"}) + "\n")
    proc = _codeward("--data", str(human_eval), "--out", str(tmp_path / "b"))
    assert proc.returncode == 2 and "not an infilling data set" in proc.stderr
