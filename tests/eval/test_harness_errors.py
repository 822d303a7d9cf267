"""Harness faults (sandbox set-up failed, runner died) are not model failures: marked, left out of pass@k,
reported, and re-run by --resume. Also: the bwrap requirement fails instead of skipping under CI=true."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from codeward.cli import main
from codeward.eval.exec_rows import result_counts
from codeward.eval.report import render
from codeward.eval.stats import metrics_from_rows
from codeward.sandbox import isolation as sandbox_mod
from codeward.sandbox import workers
from codeward.sandbox.isolation import ISOLATION_RLIMITS, Isolation, SandboxConfig
from codeward.sandbox.workers import ExecResult, SandboxPool

RIGHT, WRONG = "    return a + b\n", "    return a - b\n"
FAULT = "    # HARNESS-FAULT\n    return a + b\n"
NO_BWRAP = Isolation(ISOLATION_RLIMITS, None, "harness error test")


def test_set_up_failure_and_dead_runner_are_harness_errors(tmp_path: Path, make_program, monkeypatch) -> None:
    """A child whose sandbox set-up fails, and a runner that dies mid-program, give harness_error results."""
    bad_limits = SandboxConfig(timeout_s=2.0, open_files=10**9)  # setrlimit refuses it in the child
    with SandboxPool(bad_limits, workers=1, isolation=NO_BWRAP) as pool:
        ((_, res),) = list(pool.run([(0, make_program(RIGHT))]))
    assert res.result.startswith("killed: sandbox set-up failed") and res.harness_error and not res.passed
    source = sandbox_mod.SERVER_SOURCE_PATH.read_text(encoding="utf-8")
    anchor = "        write_message(ctrl_out, run_one(cfg, job, seq))\n"
    assert anchor in source, "the server's main loop changed; update where the crash is inserted"
    dying = tmp_path / "forkserver.py"
    dying.write_text(source.replace(anchor, "        os._exit(9)\n", 1), encoding="utf-8")
    monkeypatch.setattr(sandbox_mod, "SERVER_SOURCE_PATH", dying)
    with SandboxPool(SandboxConfig(timeout_s=2.0), workers=1, isolation=NO_BWRAP) as pool:
        ((_, res),) = list(pool.run([(0, make_program(RIGHT))]))
    assert res == ExecResult(False, "killed: sandbox runner died", res.duration_s, True)


def test_harness_rows_are_left_out_of_pass_at_k_and_flagged() -> None:
    rows = [
        {"task_id": "t", "model": None, "temperature": None, "arm": "all", "sample_idx": 0, "passed": True,
         "result": "passed"},
        {"task_id": "t", "model": None, "temperature": None, "arm": "all", "sample_idx": 1, "passed": False,
         "result": "killed: sandbox runner died", "harness_error": True},
    ]
    (metric,) = metrics_from_rows(rows, [1], n_boot=50, seed=0)
    assert metric["pass@1"] == 1.0 and metric["samples"] == 1
    counts = result_counts(rows)
    assert counts == {"passed": 1, "failed": 0, "timed_out": 0, "killed": 0, "harness_errors": 1}
    report = render("t", {"metrics": [{**metric, **counts}]})
    assert "WARNING: 1 harness error(s)" in report and "harness_errors" in report


def test_lost_samples_report_the_ks_and_tasks_they_cost() -> None:
    """A harness error that leaves a task short drops a k for the whole row: `dropped_ks` and `lost_tasks` say so;
    a k no task had samples for is not a loss, and a task that lost every sample is still named."""
    def row(task: str, idx: int, harness: bool = False, arm: str = "all") -> dict:
        return {"task_id": task, "model": None, "temperature": None, "arm": arm, "sample_idx": idx,
                "passed": not harness, "result": "killed: sandbox runner died" if harness else "passed",
                **({"harness_error": True} if harness else {})}

    rows = [row("a", 0), row("a", 1), row("b", 0), row("b", 1, harness=True), row("c", 0, True), row("c", 1, True)]
    rows.append(row("b", 1))  # a later row of the same sample that was graded (a re-run): not lost
    rows += [row("a", 0, arm="x"), row("a", 1, True, arm="x")]
    clean, short = metrics_from_rows(rows, [1, 2, 5], n_boot=50, seed=0)
    assert clean["arm"] == "all" and clean["pass@2"] == 1.0 and clean["tasks"] == 2  # over a and b: c lost all
    assert clean["dropped_ks"] == [] and clean["lost_tasks"] == {"c": 2}  # pass@5: no task had 5 samples
    assert "pass@2" not in short and short["pass@1"] == 1.0
    assert short["dropped_ks"] == [2] and short["lost_tasks"] == {"a": 1}
    only_lost = metrics_from_rows([row("z", 0, True)], [1], n_boot=50, seed=0)
    assert only_lost == [{"model": None, "temperature": None, "arm": "all", "tasks": 0, "samples": 0, "passed": 0,
                          "dropped_ks": [1], "lost_tasks": {"z": 1}}]


def test_passk_reports_harness_errors_and_resume_reruns_them(
    tmp_path: Path, write_jsonl, add_task, monkeypatch
) -> None:
    """A run whose sandbox fails on one sample counts it as a harness error (not in pass@k, in results.json
    and report.md); --resume re-runs exactly that sample and gives the clean run's metrics."""
    real_run = workers.Worker.run

    def flaky(self: workers.Worker, program: str, timeout: float) -> ExecResult:
        if "HARNESS-FAULT" in program:
            return ExecResult(False, "killed: sandbox runner died", 0.01, True)
        return real_run(self, program, timeout)

    data = write_jsonl(tmp_path / "tasks.jsonl", [add_task])
    comps = [RIGHT, WRONG, FAULT]
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "t/add", "completion": c} for c in comps])
    out = tmp_path / "run"
    args = ["eval", "passk", "--samples", str(samples), "--data", str(data), "-k", "1,3", "--no-progress",
            "--unsafe-no-sandbox"]  # needs no isolation: runs where bwrap cannot
    monkeypatch.setattr(workers.Worker, "run", flaky)
    assert main([*args, "--out", str(out)]) == 0
    (metric,) = json.loads((out / "results.json").read_text())["metrics"]
    assert metric["harness_errors"] == 1 and metric["samples"] == 2 and metric["pass@1"] == 0.5
    assert metric["killed"] == 0 and metric["failed"] == 1
    marked = [json.loads(line) for line in (out / "exec.jsonl").read_text().splitlines()]
    assert [r["sample_idx"] for r in marked if r.get("harness_error") is True] == [2]
    report = (out / "report.md").read_text()
    assert "WARNING: 1 harness error(s)" in report
    # the lost sample costs pass@3 (the task had 3 samples): said in results.json and report.md, never silent
    assert "pass@3" not in metric and metric["dropped_ks"] == [3] and metric["lost_tasks"] == {"t/add": 1}
    assert "1 task(s) lost samples: t/add (1); so pass@3 not reported" in report
    monkeypatch.setattr(workers.Worker, "run", real_run)
    assert main([*args, "--out", str(out), "--resume"]) == 0
    (metric,) = json.loads((out / "results.json").read_text())["metrics"]
    assert metric["harness_errors"] == 0 and metric["samples"] == 3 and metric["pass@1"] == 2 / 3
    assert metric["pass@3"] == 1.0 and metric["dropped_ks"] == [] and metric["lost_tasks"] == {}
    assert "harness error(s)" not in (out / "report.md").read_text()
    assert len((out / "exec.jsonl").read_text().splitlines()) == 4  # appended, never rewritten


def test_bwrap_requirement_fails_under_ci(tmp_path: Path) -> None:
    """With CI=true and no working bwrap, the bwrap fixture fails the test instead of skipping it."""
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_needs_bwrap(bwrap_config):\n    pass\n", encoding="utf-8")
    conftest = Path(__file__).with_name("conftest.py")
    (tmp_path / "conftest.py").write_text(
        conftest.read_text(encoding="utf-8")
        + "\nimport codeward.sandbox.isolation as _sb\n"
        + "_sb.find_bwrap = lambda: None\n",
        encoding="utf-8",
    )
    for ci, outcome in (("true", "1 error"), ("", "1 skipped")):
        env = {"CI": ci, "PATH": "/usr/bin:/bin", "CODEWARD_EVAL_SANDBOX": "auto"}
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120,
        )
        assert outcome in proc.stdout, (ci, proc.stdout[-2000:], proc.stderr[-2000:])


