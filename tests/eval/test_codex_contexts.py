"""The Codex paper's misalignment prompts: normalisation changes only whitespace, every row maps to its HumanEval
task by text, and a codex-contexts run executes the target task alone (SmolLM2, machinery only)."""

from __future__ import annotations

import functools
import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from codeward.completion.context import build_context
from codeward.completion.settings import INSTRUCTION_LINE, ContextSettings
from codeward.completion.text import locate
from codeward.eval.datasets import humaneval_path, load_problems
from codeward.eval.misalignment.codex_contexts import FILES, load_codex_contexts, normalise


@pytest.fixture(scope="module")
def contexts(data_set) -> Path:
    return data_set("code-align-evals", "alignment", "bad_contexts")


@pytest.fixture(scope="module")
def humaneval():
    return load_problems(humaneval_path())


def test_normalisation_changes_only_whitespace_and_halves_doubled_newlines(contexts):
    for name in FILES.values():
        with gzip.open(contexts / name, "rt", encoding="utf-8") as f:
            for line in f:
                prompt = json.loads(line)["env_data"]["prompt"]
                assert re.sub(r"\s", "", normalise(prompt)) == re.sub(r"\s", "", prompt)
    assert normalise("a\n\nb\n\n\n\nc\nd\n\n\ne") == "a\nb\n\nc\nd\n\ne"


def test_every_row_maps_to_its_humaneval_task(contexts, humaneval):
    tasks = load_codex_contexts(contexts, humaneval)
    assert list(tasks.arms["good"]) == list(humaneval)  # all 164, in HumanEval's order
    for arm in ("good", "bad"):
        assert Counter(len(v) for v in tasks.arms[arm].values()) == {3: 164}
        for task_id, prompts in tasks.arms[arm].items():
            assert all(p.task_id == task_id and p.prompt.rstrip()[-3:] in ('"""', "'''") for p in prompts)
    # Entry points shared by two HumanEval tasks land on different tasks.
    shared = [p for p in humaneval.values() if p.entry_point == "add"]
    assert len(shared) == 2
    for problem in shared:
        target = tasks.arms["bad"][problem.task_id][0].prompt
        assert problem.prompt.strip().splitlines()[-2].strip() in target
    assert tasks.arms["none"]["HumanEval/0"][0].prompt == humaneval["HumanEval/0"].prompt
    # The program is the target task alone: the examples (one of which does not parse) are never executed.
    program = tasks.program("bad", "HumanEval/0", "    return True\n")
    assert program == humaneval["HumanEval/0"].program("    return True\n")
    assert len(load_codex_contexts(contexts, humaneval, prompts_per_task=1).arms["bad"]["HumanEval/0"]) == 1


def test_the_task_anchor_is_the_start_of_the_target_prompt_even_with_helpers(contexts, humaneval):
    tasks = load_codex_contexts(contexts, humaneval)
    squash = functools.partial(re.sub, r"\s", "")
    for task_id in ("HumanEval/10", "HumanEval/32", "HumanEval/38", "HumanEval/50", "HumanEval/0"):
        target = humaneval[task_id]
        helper = target.prompt.count("\ndef ") + target.prompt.startswith("def ") > 1
        assert helper == (task_id != "HumanEval/0")
        for arm in ("good", "bad", "none"):
            for p in tasks.arms[arm][task_id]:
                lines = p.prompt.split("\n")
                assert squash("\n".join(lines[p.task_line:])) == squash(target.prompt), (task_id, arm)
                assert arm == "none" or p.task_line > 0
                text = p.prompt
                cursor = locate(text, text.count("\n"), len(lines[-1]), "code-point")
                ctx = {a: build_context(text, cursor, ContextSettings(prefix_tokens=10_000, policy="instruct",
                                                                      instruct_anchor=a),
                                        lambda s: len(s.split()), task_line=p.task_line)
                       for a in ("task", "function")}
                at = {a: ctx[a].prefix.split("\n").index(INSTRUCTION_LINE) for a in ctx}
                assert at["task"] == p.task_line  # the paper's place: before the whole target prompt
                # the editor's place: before the function being written, after the prompt's helpers
                plain = ctx["function"].prefix.split("\n")
                assert plain[at["function"] + 1].startswith(f"def {target.entry_point}(")
                between = plain[at["task"]:at["function"]]
                assert any(line.startswith("def ") for line in between) == helper


@pytest.mark.timeout(900)  # a whole misalignment run on the test model: ~70-105 s alone, 3x that on a busy machine
def test_codex_contexts_run_end_to_end(contexts, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "codeward", "eval", "misalignment", "--protocol",
                           "codex-contexts", "--data", str(contexts), "--limit", "3", "--prompts-per-task", "2",
                           "-n", "1", "--max-new-tokens", "8", "-k", "1", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    per_arm = Counter(r["arm"] for r in rows)
    assert per_arm == {"good": 6, "bad": 6, "none": 3}  # two prompts pooled per task, none has one
    assert sorted({r["sample_idx"] for r in rows if r["arm"] == "bad"}) == [0, 1]
    results = json.loads((out / "results.json").read_text())
    names = {(c["name"], c["metric"]) for c in results["comparisons"]}
    assert {("good-bad", "pass@1"), ("none-bad", "pass@1"), ("good-bad", "mean_logprob")} <= names
    assert "normalisation" in json.loads((out / "config.json").read_text())
    assert results["context"]["truncated"] == 0
    assert results["context"]["longest_prompt_tokens"] <= results["context"]["prefix_budget_tokens"]
    assert "no prompt was cut" in (out / "report.md").read_text()
