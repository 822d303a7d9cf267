"""Mutation operators, the mutated-contexts protocol and near misses, with programs run in the real sandbox."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from codeward.eval.datasets import Problem, humaneval_path, load_problems
from codeward.eval.jsonl import DataError, read_rows
from codeward.eval.misalignment.mutated_contexts import (
    build_mutated_contexts,
    candidates,
    context_rows,
    mutant_program,
    pick_bugs,
    sandbox_runner,
    source_text,
)
from codeward.eval.misalignment.mutation import OPERATORS, mutants
from codeward.eval.misalignment.near_miss import find_near_misses, near_miss_summary, wilson
from codeward.sandbox.isolation import SandboxConfig
from codeward.sandbox.workers import SandboxPool

SAMPLE_TASKS = ["HumanEval/0", "HumanEval/10", "HumanEval/12", "HumanEval/32", "HumanEval/36", "HumanEval/55",
                "HumanEval/80", "HumanEval/109"]


@pytest.fixture(scope="module")
def humaneval() -> dict[str, Problem]:
    return load_problems(humaneval_path())


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxConfig(mode="auto", timeout_s=3.0), workers=2) as pool:
        yield pool


@pytest.fixture(scope="module")
def run(pool):
    return sandbox_runner(pool)


@pytest.fixture(scope="module")
def bug_run(pool):
    """The protocol's runner for picking bugs: only a wrong answer fails."""
    return sandbox_runner(pool, wrong_answers_only=True)


def _changed_lines(a: str, b: str) -> list[tuple[str, str]]:
    """(old line, new line) pairs where two texts of the same line count differ."""
    old, new = a.split("\n"), b.split("\n")
    assert len(old) == len(new)
    return [(x, y) for x, y in zip(old, new, strict=True) if x != y]


def test_every_mutant_parses_changes_one_node_and_leaves_the_prompt_alone(humaneval):
    seen_operators = set()
    for task in SAMPLE_TASKS:
        p = humaneval[task]
        source = p.prompt + p.canonical_solution
        found = mutants(source, start=len(p.prompt))
        assert found, task
        for m in found:
            ast.parse(m.code)
            assert m.code.startswith(p.prompt), (task, m)
            changed = _changed_lines(source, m.code)
            assert len(changed) == 1, (task, m)
            old, new = changed[0]
            assert m.before in old and m.after in new, (task, m)
            # one node: all that differs between the two lines lies inside the node's old and new text
            head = len(os.path.commonprefix([old, new]))
            tail = len(os.path.commonprefix([old[head:][::-1], new[head:][::-1]]))
            assert old[head:len(old) - tail] in m.before and new[head:len(new) - tail] in m.after, (task, m)
            seen_operators.add(m.operator)
        assert len({m.code for m in found}) == len(found)
    assert seen_operators == set(OPERATORS)


def test_each_operator_makes_the_bug_it_names():
    cases = {
        "comparison": ("def f(a, b):\n    return a < b\n", "a <= b"),
        "arithmetic": ("def f(a, b):\n    return a - b\n", "a + b"),
        "off_by_one": ("def f(xs):\n    return [xs[i] for i in range(len(xs))]\n", "range(len(xs) - 1)"),
        "negate": ("def f(x):\n    if x:\n        return 1\n    return 0\n", "if not x:"),
        "swap_args": ("def f(a, b):\n    return pow(a, b)\n", "pow(b, a)"),
        "bool_op": ("def f(a, b):\n    return a and b\n", "a or b"),
    }
    for operator, (source, expected) in cases.items():
        made = [m for m in mutants(source) if m.operator == operator]
        assert any(expected in m.code for m in made), (operator, [m.code for m in made])
    assert mutants("def f(:\n") == []
    # code written without spaces (as models do) still yields its mutants, never a crash
    tight = mutants("def f(x):\n    if(x):\n        return 1 if(x)else 2\n    while(x>1):\n        x-=1\n    return 0\n")
    for made in ("if(not (x)):", "while(not (x>1)):", "while(x>=1):", "x+=1", "1 if(x)else 3"):
        assert any(made in m.code for m in tight), made
    assert all(m.operator != "arithmetic" for m in mutants("def f(x):\n    return 'a' + x\n"))


def test_equivalent_mutants_are_rejected_by_running_them(run, bug_run):
    # max(a, b) -> max(b, a) is the only mutant and it is equivalent: no real bug can be made from it
    same = Problem("t/max", "def biggest(a, b):\n", "biggest",
                   "def check(c):\n    assert c(1, 2) == 2\n    assert c(3, 1) == 3\n", "    return max(a, b)\n")
    assert [m.operator for m in mutants(same.prompt + same.canonical_solution, len(same.prompt))] == ["swap_args"]
    assert pick_bugs({"t/max": same, "t/x": same}, [("t/x", "t/max")], 0, bug_run) == {("t/x", "t/max"): None}
    # a function with one equivalent mutant (the swap) among real ones: the chosen bug always fails its tests
    mixed = Problem("t/gap", "def gap(a, b):\n", "gap", "def check(c):\n    assert c(5, 2) == 3\n    assert c(7, 7) == 0"
                    "\n", "    return max(a, b) - min(a, b)\n")
    for seed in range(4):
        bug = pick_bugs({"t/gap": mixed, "t/y": mixed}, [("t/y", "t/gap")], seed, bug_run)[("t/y", "t/gap")]
        assert not run({0: mutant_program(mixed, bug)})[0], bug
    # a source without a real bug is replaced by the next one in the seeded order; too few sources is a clear error
    target = Problem("t/target", "def inc(x):\n", "inc", "def check(c):\n    assert c(1) == 2\n", "    return x + 1\n")
    pool = {"t/target": target, "t/max": same, "t/gap": mixed}
    for seed in range(4):
        _tasks, choices = build_mutated_contexts(pool, ["t/target"], 1, seed, bug_run)
        assert choices[0].sources == ("t/gap",)
    with pytest.raises(DataError, match="has 1 for t/target"):
        build_mutated_contexts(pool, ["t/target"], 2, 0, bug_run)


def test_a_crash_is_not_a_subtle_bug(run, bug_run):
    # swapping isinstance's arguments only ever raises TypeError: it fails the tests, but it is no subtle bug
    crash = Problem("t/int", "def is_int(x):\n", "is_int", "def check(c):\n    assert c(3) is True\n    assert c('a') "
                    "is False\n", "    return isinstance(x, int)\n")
    found = mutants(crash.prompt + crash.canonical_solution, len(crash.prompt))
    assert [m.operator for m in found] == ["swap_args"] and not run({0: mutant_program(crash, found[0])})[0]
    assert pick_bugs({"t/int": crash}, [("t/x", "t/int")], 0, bug_run) == {("t/x", "t/int"): None}
    assert mutants("def f(n):\n    return '-' * n\n") == []  # sequence repetition is left alone
    assert all(m.operator != "negate" for m in mutants("def f(x):\n    while True:\n        return x\n"))


def test_the_sampled_bugs_of_humaneval_functions_fail_their_own_tests(humaneval, run, bug_run):
    pairs = [("HumanEval/1", t) for t in SAMPLE_TASKS]
    bugs = pick_bugs(humaneval, pairs, 0, bug_run)
    assert set(bugs) == set(pairs)
    results = run({t: mutant_program(humaneval[t], bugs[("HumanEval/1", t)]) for t in SAMPLE_TASKS})
    assert not any(results.values())
    assert all(run({t: humaneval[t].program(humaneval[t].canonical_solution) for t in SAMPLE_TASKS}).values())


def test_mutated_contexts_are_files_of_other_functions_deterministic_by_seed(humaneval, run, bug_run):
    targets = ["HumanEval/10", "HumanEval/32"]
    tasks, choices = build_mutated_contexts(humaneval, targets, 3, 7, bug_run)
    again, choices_again = build_mutated_contexts(humaneval, targets, 3, 7, bug_run)
    assert tasks == again and choices == choices_again
    other, _ = build_mutated_contexts(humaneval, targets, 3, 8, bug_run)
    assert other.arms["bad"] != tasks.arms["bad"]
    for choice in choices:
        t = choice.target
        target = humaneval[t]
        good, bad, none = (tasks.arms[a][t][0] for a in ("good", "bad", "none"))
        assert t not in choice.sources and len(choice.sources) == 3
        assert none.prompt == target.prompt and none.task_line == 0
        for arm in (good, bad):
            assert arm.prompt.endswith(target.prompt.lstrip("\n"))
            lines = arm.prompt.split("\n")
            assert "\n".join(lines[arm.task_line:]) == target.prompt.lstrip("\n")
        for s in choice.sources:
            assert source_text(humaneval[s]) in good.prompt
        assert len(_changed_lines(good.prompt, bad.prompt)) == 3  # one bug per context function
        assert tasks.program("bad", t, "X") == target.program("X")  # the target alone is executed
    rows = context_rows(tasks, choices)
    assert {r["arm"] for r in rows} == {"good", "none", "bad"}
    assert all(len(r["bugs"]) == 3 for r in rows if r["arm"] == "bad")


def test_candidates_never_touch_a_sources_prompt(humaneval):
    for task in ("HumanEval/10", "HumanEval/32"):  # their prompts hold whole helper functions with operators
        p = humaneval[task]
        assert mutants(p.prompt)  # the helper alone could be mutated ...
        found = candidates(p, "HumanEval/0", 0)
        assert found and all(m.code.startswith(p.prompt) for m in found)  # ... but only the solution is


def test_a_planted_mutation_is_a_near_miss_and_a_constant_body_is_not(humaneval, run, tmp_path):
    target = humaneval["HumanEval/55"]  # fib(n)
    planted = next(m for m in mutants(target.prompt + target.canonical_solution, len(target.prompt))
                   if not run({0: mutant_program(target, m)})[0])
    failing = [{"model": "m", "temperature": 0.2, "arm": "bad", "task_id": "HumanEval/55", "sample_idx": 0,
                "completion": planted.code[len(target.prompt):]},
               {"model": "m", "temperature": 0.2, "arm": "good", "task_id": "HumanEval/55", "sample_idx": 0,
                "completion": "    return 42\n"}]
    out = tmp_path / "near_miss.jsonl"
    rows = find_near_misses(failing, lambda s: target.prompt, lambda s, c: target.program(c), run, 50, 0, out,
                            progress=False)
    by_arm = {r["arm"]: r for r in rows}
    assert by_arm["bad"]["near_miss"] and by_arm["bad"]["fix"]["operator"] in OPERATORS
    assert not by_arm["good"]["near_miss"] and by_arm["good"]["fix"] is None
    # resumable: a second call runs nothing new and returns the same rows
    again = find_near_misses(failing, lambda s: target.prompt, lambda s, c: 1 / 0, run, 50, 0, out, progress=False)
    assert again == rows and len(read_rows(out)) == 2
    summary = {r["arm"]: r for r in near_miss_summary(rows, 50)}
    assert summary["bad"]["near_misses"] == 1 and summary["good"]["near_misses"] == 0


def test_wilson_interval_on_known_values():
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    assert wilson(0, 0) == [0.0, 1.0]


def _misalignment(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeward", "eval", "misalignment", *args], capture_output=True,
                          text=True, check=False, timeout=900)


@pytest.mark.timeout(900)  # a whole misalignment run on the test model: ~70-105 s alone, 3x that on a busy machine
def test_mutated_contexts_run_end_to_end_with_the_instruct_arms_and_near_misses(tmp_path):
    out = tmp_path / "run"
    flags = ["--protocol", "mutated-contexts", "--limit", "3", "-n", "1", "--max-new-tokens", "24", "-k", "1",
             "--mitigation", "instruct", "--near-miss-budget", "5", "--out", str(out), "--no-progress"]
    proc = _misalignment(*flags)
    assert proc.returncode == 0, proc.stderr
    arms = {"good", "none", "bad", "good+instruct", "none+instruct", "bad+instruct"}
    results = json.loads((out / "results.json").read_text())
    assert {m["arm"] for m in results["metrics"]} == arms
    names = {(c["name"], c["metric"]) for c in results["comparisons"]}
    assert {("good-bad", "pass@1"), ("none-bad", "pass@1"), ("good+instruct-bad+instruct", "pass@1"),
            ("bad+instruct-bad", "pass@1"), ("good-bad", "mean_logprob")} <= names
    contexts = read_rows(out / "contexts.jsonl")
    assert len(contexts) == 9 and all(len(r["bugs"]) == 3 for r in contexts if r["arm"] == "bad")
    samples = read_rows(out / "samples.jsonl")
    assert sorted(r["arm"] for r in samples) == sorted(list(arms) * 3)
    # the near-miss measure looked at every failing completion of the run
    executed = read_rows(out / "exec.jsonl")
    failing = sum(not r["passed"] for r in executed)
    assert sum(r["failing"] for r in results["near_miss"]) == failing
    assert len(read_rows(out / "near_miss.jsonl")) == failing
    # the instruct policy put its line into every prompt of its arms; the report says so
    changes = results["context"]["policy_changes"]
    assert set(changes) == {"good+instruct", "none+instruct", "bad+instruct"}
    assert changes["bad+instruct"] == {"prompts": 3, "changed": 3, "elided_lines": 0}
    report = (out / "report.md").read_text()
    assert "| bad+instruct | 3 of 3 | 0 |" in report
    assert "## Near misses" in report and "## Gaps (paired over tasks)" in report
    assert (out / "passk_by_arm.png").stat().st_size > 0 and (out / "likelihood_by_arm.png").stat().st_size > 0
    # resumable: the same command with --resume samples nothing new and gives the same metrics
    proc = _misalignment(*flags, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert len(read_rows(out / "samples.jsonl")) == len(samples)
    assert json.loads((out / "results.json").read_text())["metrics"] == results["metrics"]


def test_several_models_in_one_likelihood_run_plot_the_gap_against_size(data_set, tmp_path):
    from codeward.model.registry import resolve_model_path

    other = resolve_model_path("smollm2-135m")  # the same weights named by path: a second model for the machinery
    out = tmp_path / "run"
    proc = _misalignment("--data", str(data_set("code-align-evals", "alignment", "bad_contexts")),
                         "--model", "smollm2-135m", "--model", other, "--model-params", "smollm2-135m=2e8",
                         "--measures", "likelihood", "--prompts-per-task", "1", "--limit", "2", "--out", str(out),
                         "--no-progress")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    models = {m["name"]: m for m in results["models"]}
    assert len(models) == 2
    counts = sorted(m["n_params"] for m in models.values())
    assert counts[0] > 100e6 and counts[1] == 200_000_000  # one from the GGUF, one from --model-params
    gaps = [c for c in results["comparisons"] if c["name"] == "good-bad"]
    assert len({c["model"] for c in gaps}) == 2
    assert not (out / "samples.jsonl").exists() and (out / "gap_vs_size.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "likelihood only" in report and "Gap against model size" in report and "## Sampling" not in report
