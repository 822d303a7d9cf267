"""Ranking, temperature sweep, pass@k curves, plots and `eval report`, on synthetic runs with known answers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codeward.eval.passk.analyses import curves, ranking, sweep
from codeward.eval.plots import PASSK_PLOT, RANKING_PLOT, write_plots


def _run_rows(spec: dict[str, list[tuple[float, int, bool]]], temperature: float = 0.8):
    """samples and exec rows from task -> [(logprob_sum, n_tokens, passed), ...]."""
    samples, execs = [], []
    for task, rows in spec.items():
        for i, (lp, n, ok) in enumerate(rows):
            key = {"task_id": task, "model": "m", "temperature": temperature, "arm": "all", "sample_idx": i}
            samples.append({**key, "logprob_sum": lp, "n_tokens": n})
            execs.append({**key, "passed": ok, "result": "passed" if ok else "failed: AssertionError"})
    return samples, execs


SPEC = {
    # mean log-prob picks sample 1 (-2/2 = -1.0 beats -1.5/1), the sum picks sample 0 (-1.5 > -2): they disagree.
    "a": [(-1.5, 1, False), (-2.0, 2, True), (-8.0, 4, False)],
    # both pick sample 0; it fails; one of three passes.
    "b": [(-1.0, 10, False), (-5.0, 10, True), (-9.0, 10, False)],
}


def test_each_ranker_picks_what_it_should():
    samples, execs = _run_rows(SPEC)
    got = {r["method"]: r["pass@1"] for r in ranking(samples, execs, 200, 0)}
    assert got["mean_logprob"] == pytest.approx(0.5)  # a passes, b fails
    assert got["sum_logprob"] == pytest.approx(0.0)  # a: sample 0 fails, b: sample 0 fails
    assert got["random"] == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert got["oracle"] == pytest.approx(1.0)
    assert "back_translation" not in got  # nothing scored it


def test_back_translation_ranks_when_every_sample_is_scored():
    samples, execs = _run_rows(SPEC)
    scores = {("a", 0): -1.0, ("a", 1): -2.0, ("a", 2): -3.0, ("b", 0): -9.0, ("b", 1): -1.0, ("b", 2): -5.0}
    for s in samples:
        s["bt_logprob"] = scores[(s["task_id"], s["sample_idx"])]
    got = {r["method"]: r for r in ranking(samples, execs, 200, 0)}
    assert got["back_translation"]["pass@1"] == pytest.approx(0.5)  # a: sample 0 fails, b: sample 1 passes
    lo, hi = got["back_translation"]["pass@1_ci95"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_no_ranking_with_one_sample_per_task():
    samples, execs = _run_rows({"a": [(-1.0, 1, True)], "b": [(-1.0, 1, False)]})
    assert ranking(samples, execs, 100, 0) == []


def test_sweep_finds_the_best_temperature_per_k():
    metrics = [{"model": "m", "temperature": 0.2, "arm": "all", "pass@1": 0.40, "pass@10": 0.55},
               {"model": "m", "temperature": 0.8, "arm": "all", "pass@1": 0.30, "pass@10": 0.70}]
    best = {r["k"]: r["best_temperature"] for r in sweep(metrics, [1, 10])}
    assert best == {1: 0.2, 10: 0.8}
    assert sweep(metrics[:1], [1, 10]) == []  # one temperature is no sweep


def test_curves_go_up_to_the_smallest_n():
    _, execs = _run_rows(SPEC)
    (curve,) = curves(execs)
    assert curve["k"] == [1, 2, 3]
    assert curve["pass@k"][0] == pytest.approx(1 / 3) and curve["pass@k"][-1] == pytest.approx(1.0)
    assert curve["pass@k"] == sorted(curve["pass@k"])


def test_plots_and_eval_report_rerender_a_run_folder(tmp_path):
    samples, execs = _run_rows(SPEC)
    results = {"command": "eval passk", "dataset": "synthetic", "engine": "llamacpp", "config": {},
               "metrics": [{"model": "m", "temperature": 0.8, "arm": "all", "pass@1": 1 / 3,
                            "pass@1_ci95": [0.0, 0.67], "tasks": 2, "samples": 6}],
               "comparisons": [], "curves": curves(execs), "sweep": [],
               "ranking": ranking(samples, execs, 200, 0), "notes": ["a note"], "failures": [["failed: X", 4]]}
    assert write_plots(tmp_path, results) == [PASSK_PLOT, RANKING_PLOT]
    for name in (PASSK_PLOT, RANKING_PLOT):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        (tmp_path / name).unlink()
    (tmp_path / "results.json").write_text(json.dumps(results))
    proc = subprocess.run([sys.executable, "-m", "codeward", "eval", "report", str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "report.md").read_text()
    assert "## Ranking" in report and "mean_logprob" in report and "a note" in report
    assert f"![{PASSK_PLOT}]({PASSK_PLOT})" in report and (tmp_path / PASSK_PLOT).is_file()


def test_eval_report_refuses_a_folder_without_results(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "codeward", "eval", "report", str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2 and "results.json" in proc.stderr


def test_back_translation_prompt_drops_the_docstring_and_scores_it_after_the_code():
    from codeward.eval.datasets import humaneval_path, load_problems
    from codeward.eval.passk.backtranslation import bt_prompt, split_docstring

    problems = load_problems(humaneval_path())
    unparsed = 0
    for problem in problems.values():
        split = split_docstring(problem.prompt, problem.entry_point)
        if split is None:
            unparsed += 1
            continue
        code, literal = split
        assert literal[:3] in ('"""', "'''") and literal in problem.prompt and literal not in code
        assert f"def {problem.entry_point}(" in code
    assert unparsed == 0
    prompt, continuation = bt_prompt(problems["HumanEval/0"], "    return True\n")
    assert prompt.endswith("    return True\n\n\nhas_close_elements.__doc__ = ")
    assert "Check if in given list" not in prompt and "Check if in given list" in continuation


def test_report_headers_show_results_isolation_and_older_runs_keep_config_sandbox():
    from codeward.eval.report import render
    from codeward.eval.security.report import render_security

    sandbox = {"isolation": "bwrap", "detail": "namespaces", "timeout_s": 3.0}
    unsafe = {"level": "rlimits", "reason": "no bwrap found", "unsafe_no_sandbox": True}
    report = render("t", {"config": {"sandbox": sandbox}, "isolation": unsafe, "metrics": []})
    assert "- Isolation: **rlimits** (no bwrap found) — allowed by `--unsafe-no-sandbox`" in report
    assert "WARNING: no sandbox" in report
    assert "- Isolation: **bwrap** (namespaces)\n" in render("t", {"config": {"sandbox": sandbox}, "metrics": []})
    nothing = {"level": None, "reason": "nothing executed by this command", "unsafe_no_sandbox": False}
    likelihood = render("t", {"config": {"measures": ["likelihood"]}, "isolation": nothing})
    assert "- Isolation: none needed (nothing executed by this command)" in likelihood
    security = render_security("s", {"config": {}, "isolation": nothing}, [])
    assert "- Isolation: none needed (nothing executed by this command)" in security
