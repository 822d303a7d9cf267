"""`codeward eval passk` / `eval exec` end to end: HumanEval canonical solutions, the run folder, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeward.cli import main
from codeward.eval.datasets import load_problems

from .procs import descendants

EXEC_FIELDS = {"task_id", "model", "temperature", "arm", "sample_idx", "passed", "result", "duration_s"}


def test_humaneval_canonical_pass_and_broken_fail(tmp_path: Path, write_jsonl, bwrap_config) -> None:
    problems = load_problems()
    rows = []
    for tid, p in problems.items():
        rows.append({"task_id": tid, "completion": p.canonical_solution, "arm": "canonical"})
        rows.append({"task_id": tid, "completion": "    pass\n", "arm": "pass"})
        rows.append({"task_id": tid, "completion": "    return -987654321\n", "arm": "constant"})
    samples = write_jsonl(tmp_path / "samples.jsonl", rows)
    out = tmp_path / "run"
    assert (
        main(["eval", "passk", "--samples", str(samples), "--out", str(out), "-k", "1,10", "--no-progress"])
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    # DESIGN.md's keys, then the analyses (the sweep and ranking need several temperatures / samples per task)
    assert set(results) == {"command", "dataset", "engine", "config", "isolation", "metrics", "comparisons",
                            "curves", "sweep", "ranking", "notes", "failures", "throughput"}
    assert results["config"]["sandbox"]["isolation"] == "bwrap"
    assert results["isolation"]["level"] == "bwrap" and results["isolation"]["unsafe_no_sandbox"] is False
    by_arm = {m["arm"]: m for m in results["metrics"]}
    assert by_arm["canonical"]["pass@1"] == 1.0 and by_arm["canonical"]["pass@1_ci95"] == [1.0, 1.0]
    assert by_arm["pass"]["pass@1"] == 0.0 and by_arm["constant"]["pass@1"] == 0.0
    assert all(m["tasks"] == 164 and m["samples"] == 164 and "pass@10" not in m for m in by_arm.values())
    exec_rows = [json.loads(line) for line in (out / "exec.jsonl").read_text().splitlines()]
    assert len(exec_rows) == 3 * 164 and all(set(r) == EXEC_FIELDS for r in exec_rows)
    report = (out / "report.md").read_text()
    assert "Isolation: **bwrap**" in report and "| canonical | 1.000 [1.000, 1.000] |" in report


def test_exec_command_writes_counts(tmp_path: Path, write_jsonl, add_task, bwrap_config) -> None:
    data = write_jsonl(tmp_path / "tasks.jsonl", [add_task])
    rows = [
        {"task_id": "t/add", "completion": c, "model": "m", "temperature": 0.2}
        for c in ("    return a + b\n", "    return a - b\n", "    while True:\n        pass\n")
    ]
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    out = tmp_path / "run"
    code = main(
        [
            "eval",
            "exec",
            "--samples",
            str(samples),
            "--data",
            str(data),
            "--out",
            str(out),
            "--timeout",
            "0.5",
            "--no-progress",
        ]
    )
    assert code == 0
    (metric,) = json.loads((out / "results.json").read_text())["metrics"]
    assert metric == {
        "model": "m",
        "temperature": 0.2,
        "arm": "all",
        "tasks": 1,
        "samples": 3,
        "passed": 1,
        "failed": 1,
        "timed_out": 1,
        "killed": 0,
        "harness_errors": 0,
    }
    config = json.loads((out / "config.json").read_text())
    assert config["eval"]["timeout_s"] == 0.5 and config["sandbox"]["isolation"] == "bwrap"
    exec_rows = [json.loads(line) for line in (out / "exec.jsonl").read_text().splitlines()]
    # rows are appended as programs finish (parallel workers), so compare by sample_idx
    assert sorted((r["sample_idx"], r["result"]) for r in exec_rows) == [
        (0, "passed"),
        (1, "failed: AssertionError"),
        (2, "timed out"),
    ]


def test_bad_samples_and_changed_config_are_refused(tmp_path: Path, write_jsonl, add_task, capsys) -> None:
    data = write_jsonl(tmp_path / "tasks.jsonl", [add_task])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"task_id": "t/add", "completion": 3}])
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "passk", "--samples", str(bad), "--data", str(data), "--out", str(tmp_path / "r0")])
    assert exit_info.value.code == 2
    assert "bad.jsonl:1: field 'completion' is a int, not a string" in capsys.readouterr().err
    good = write_jsonl(tmp_path / "good.jsonl", [{"task_id": "t/add", "completion": "    return a + b\n"}])
    out = str(tmp_path / "r1")
    base = ["eval", "passk", "--samples", str(good), "--data", str(data), "--out", out, "--no-progress",
            "--unsafe-no-sandbox"]  # needs no isolation: runs where bwrap cannot
    assert main(base) == 0
    with pytest.raises(SystemExit):
        main(base + ["--timeout", "9", "--resume"])
    assert "eval.timeout_s: 3.0 -> 9.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base)  # the folder holds a run: refuse to overwrite without --resume
    assert "already exists" in capsys.readouterr().err
    assert main(base + ["--resume"]) == 0  # nothing left to do, same results


def test_without_isolation_a_run_is_refused_unless_unsafe_no_sandbox(
    tmp_path: Path, write_jsonl, add_task, capsys, monkeypatch, no_bwrap
) -> None:
    """Fail closed: no usable bwrap (or eval.sandbox = none) is exit 2 naming why and the flag; with the flag the
    run goes on at rlimits, and results.json and report.md say so."""
    data = write_jsonl(tmp_path / "tasks.jsonl", [add_task])
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "t/add", "completion": "    return a + b\n"}])
    base = ["eval", "passk", "--samples", str(samples), "--data", str(data), "-k", "1", "--no-progress"]
    for command in (base, ["eval", "exec", *base[2:6]]):
        with pytest.raises(SystemExit) as info:
            main([*command, "--out", str(tmp_path / "refused")])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"{command[1]}: refusing to run generated code without isolation: bwrap is unusable here (no bwrap " \
               "found" in err and "--unsafe-no-sandbox" in err
        assert not (tmp_path / "refused").exists()
    out = tmp_path / "run"
    assert main([*base, "--out", str(out), "--unsafe-no-sandbox"]) == 0
    results = json.loads((out / "results.json").read_text())
    reason = results["config"]["sandbox"]["detail"]
    assert results["isolation"] == {"level": "rlimits", "reason": reason, "unsafe_no_sandbox": True}
    assert reason.startswith("no bwrap found")
    report = (out / "report.md").read_text()
    assert f"- Isolation: **rlimits** ({reason}) — allowed by `--unsafe-no-sandbox`" in report
    assert "WARNING: no sandbox" in report
    assert json.loads((out / "config.json").read_text())["run"]["unsafe_no_sandbox"] is True
    monkeypatch.setenv("CODEWARD_EVAL_SANDBOX", "none")
    with pytest.raises(SystemExit) as info:
        main([*base, "--out", str(tmp_path / "none")])
    assert info.value.code == 2 and "eval.sandbox = 'none' asks" in capsys.readouterr().err


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[0]


def _slow_samples(problems_count: int) -> list[dict]:
    rows = []
    for i in range(problems_count):
        for j in range(3):
            body = "    return a + b\n" if (i + j) % 3 else "    return a - b\n"
            rows.append({"task_id": f"t/{i}", "completion": "    import time\n    time.sleep(0.03)\n" + body})
    return rows


def test_sigkill_midway_then_resume(tmp_path: Path, write_jsonl, add_task, bwrap_config) -> None:
    tasks = [{**add_task, "task_id": f"t/{i}"} for i in range(40)]
    data = write_jsonl(tmp_path / "tasks.jsonl", tasks)
    samples = write_jsonl(tmp_path / "s.jsonl", _slow_samples(40))
    out = tmp_path / "killed"
    args = [
        "eval",
        "passk",
        "--samples",
        str(samples),
        "--data",
        str(data),
        "-k",
        "1,3",
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeward", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    exec_file = out / "exec.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if exec_file.exists() and exec_file.read_bytes().count(b"\n") >= 30:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    sandbox = list(descendants(proc.pid))
    assert sandbox, "the run should have a sandbox worker below it"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while (alive := [p for p in sandbox if _state(p) not in (None, "Z")]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive, "sandbox processes outlived the killed run"
    before = exec_file.read_bytes()
    assert 30 <= before.count(b"\n") < 120
    with open(exec_file, "ab") as fh:  # a row torn by the kill, as a write cut short would leave it
        fh.write(b'{"task_id": "t/39", "model": null, "temper')
    assert main([*args, "--out", str(out), "--resume"]) == 0
    rows = [json.loads(line) for line in exec_file.read_text().splitlines()]
    keys = [(r["task_id"], r["sample_idx"]) for r in rows]
    assert len(rows) == 120 and len(set(keys)) == 120
    assert exec_file.read_bytes().startswith(before)
    clean = tmp_path / "clean"
    assert main([*args, "--out", str(clean)]) == 0
    resumed_metrics = json.loads((out / "results.json").read_text())["metrics"]
    clean_metrics = json.loads((clean / "results.json").read_text())["metrics"]
    assert resumed_metrics == clean_metrics
    assert resumed_metrics[0]["pass@1"] == pytest.approx(2 / 3)
