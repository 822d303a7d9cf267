"""`codeward eval passk` sampling SmolLM2 through the pipeline end to end: samples, exec, ranking, report, plots;
resume after SIGKILL; `eval rank` back-translation. Machinery only: SmolLM2 cannot code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ARGS = ["--tasks", "0,2,4", "-n", "2", "--temperature", "0.8", "--max-new-tokens", "24", "-k", "1,2"]


def _codeward(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeward", "eval", *args], capture_output=True, text=True,
                          check=False, timeout=timeout)


def _keys(path: Path) -> list[tuple]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["model"], r["temperature"], r["arm"], r["task_id"], r["sample_idx"]) for r in rows]


def test_sampling_run_end_to_end_then_resume_after_sigkill_and_rank(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "codeward", "eval", "passk", *ARGS, "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 300
    while not (samples.is_file() and samples.read_text().count("\n") >= 2) and proc.poll() is None:
        assert time.monotonic() < deadline, "no sample written within 300 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_keys(samples))
    assert 2 <= done_before < 6  # killed mid-run

    again = _codeward("passk", *ARGS, "--out", str(out), "--no-progress")
    assert again.returncode == 2 and "--resume" in again.stderr  # the folder is not silently reused
    resumed = _codeward("passk", *ARGS, "--out", str(out), "--resume", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    keys = _keys(samples)
    assert len(keys) == len(set(keys)) == 6
    assert {k[3] for k in keys} == {"HumanEval/0", "HumanEval/2", "HumanEval/4"}
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert all(r["model"] == "smollm2-135m" and r["temperature"] == 0.8 and r["n_tokens"] > 0 for r in rows)
    assert all(isinstance(r["logprob_sum"], float) and r["verdict"] for r in rows)

    results = json.loads((out / "results.json").read_text())
    (metric,) = results["metrics"]
    assert metric["tasks"] == 3 and metric["samples"] == 6 and "pass@2" in metric
    assert {r["method"] for r in results["ranking"]} == {"mean_logprob", "sum_logprob", "random", "oracle"}
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["name"] == "smollm2-135m" and len(config["model"]["sha256"]) == 64
    assert config["sampling"]["n"] == 2 and config["tasks"] == ["HumanEval/0", "HumanEval/2", "HumanEval/4"]
    assert len((out / "exec.jsonl").read_text().splitlines()) == 6
    report = (out / "report.md").read_text()
    assert "## Sampling" in report and "## Ranking" in report and (out / "ranking.png").is_file()

    ranked = _codeward("rank", "--from-run", str(out), "--no-progress")
    assert ranked.returncode == 0, ranked.stderr
    assert len((out / "backtranslation.jsonl").read_text().splitlines()) == 6
    results = json.loads((out / "results.json").read_text())
    assert "back_translation" in {r["method"] for r in results["ranking"]}
    assert "back_translation" in (out / "report.md").read_text()


def test_raw_run_records_the_models_text(tmp_path):
    out = tmp_path / "raw"
    proc = _codeward("passk", "--tasks", "0", "--temperature", "0", "--max-new-tokens", "16", "--raw", "-k", "1",
                     "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    (row,) = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert row["completion"] == row["raw"] and row["verdict"] == "unchecked" and row["temperature"] == 0.0
