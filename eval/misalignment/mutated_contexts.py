"""The mutated-contexts protocol: the Codex paper's buggy-context design, automated for any data set with
canonical solutions, and the editor's situation (the file around the function being written holds other functions,
some with subtle bugs).

For each target task, k other tasks' prompt + canonical solution stand before the target's prompt as in one file.
Arm `good` shows them as written, arm `bad` each with one subtle bug from the mutation operators (`mutation.py`),
arm `none` shows no context. A bug counts only if its function fails its own task's tests (equivalent mutants are
rejected by running them in the sandbox). Sources and mutants are drawn with `--context-seed`, so a run is
reproducible; the program executed is the target task alone, which stays fully solvable in every arm.
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from codeward.eval.datasets import Problem, build_program
from codeward.eval.jsonl import DataError
from codeward.eval.misalignment.mutation import Mutant, mutants
from codeward.eval.misalignment.runs import ArmTasks

MUTATED_ARMS = ("good", "none", "bad")
CONTEXTS_FILE = "contexts.jsonl"
SEPARATOR = "\n\n\n"  # between functions of the context file, as PEP 8 has it at top level
ROUND = 4  # candidate mutants tried per (target, source) pair in one sandbox round

# Runs programs (key -> program) and returns key -> passed; the sandbox pool in a run, a double in unit tests.
RunPrograms = Callable[[Mapping[Any, str]], Mapping[Any, bool]]


@dataclass(frozen=True)
class ContextChoice:
    """One target's context: its source tasks and, for the bad arm, each source's chosen mutant."""

    target: str
    sources: tuple[str, ...]
    mutants: tuple[Mutant, ...]


def source_text(problem: Problem) -> str:
    """A task as it would stand in a file: its prompt and canonical solution."""
    return (problem.prompt + (problem.canonical_solution or "")).strip("\n")


def source_order(problems: Mapping[str, Problem], target: str, seed: int) -> list[str]:
    """Every possible source task for `target` (another task with a canonical solution that neither is nor holds a
    function named like the target's: HumanEval/10's prompt holds HumanEval/48's `is_palindrome`),
    in the order of the context seed: the same target gets the same order in every run with that seed. The first
    k of them that yield a real bug become the target's context."""
    entry = problems[target].entry_point
    pool = [t for t, p in problems.items() if t != target and p.canonical_solution and p.entry_point != entry
            and not re.search(rf"^\s*def {re.escape(entry)}\(", source_text(p), re.MULTILINE)]
    random.Random(f"{seed}:{target}").shuffle(pool)
    return pool


def candidates(problem: Problem, target: str, seed: int) -> list[Mutant]:
    """The mutants of a source task's solution (never its prompt), in the seeded order of this (target, source)
    pair, so that contexts vary across targets."""
    found = mutants(problem.prompt + (problem.canonical_solution or ""), start=len(problem.prompt))
    random.Random(f"{seed}:{target}:{problem.task_id}").shuffle(found)
    return found


def mutant_program(problem: Problem, mutant: Mutant) -> str:
    """The program that grades a mutated source on its own task's tests."""
    return build_program(mutant.code, "", problem.test, problem.entry_point)


def pick_bugs(problems: Mapping[str, Problem], pairs: Sequence[tuple[str, str]], seed: int, run: RunPrograms,
              progress: bool = False) -> dict[tuple[str, str], Mutant | None]:
    """For each (target, source) pair, the first mutant in its seeded order that fails the source's tests under
    `run` (the protocol passes a wrong-answers-only runner), or None when none does (no mutant at all, or only
    equivalent ones). Mutants are run in rounds of ROUND candidates per
    pair; each distinct mutant is run once."""
    from tqdm import tqdm

    order = {pair: candidates(problems[pair[1]], pair[0], seed) for pair in pairs}
    verdicts: dict[tuple[str, str], bool] = {}  # (source, mutant code) -> fails its tests
    chosen: dict[tuple[str, str], Mutant | None] = {}
    position = dict.fromkeys(pairs, 0)
    bar = tqdm(total=len(pairs), desc="mutants", unit="function", file=sys.stderr, disable=not progress)
    while len(chosen) < len(pairs):
        jobs: dict[tuple[str, str], str] = {}
        for pair in pairs:
            if pair in chosen:
                continue
            for m in order[pair][position[pair]:position[pair] + ROUND]:
                if (pair[1], m.code) not in verdicts:
                    jobs[(pair[1], m.code)] = mutant_program(problems[pair[1]], m)
        for key, passed in run(jobs).items():
            verdicts[key] = not passed
        for pair in pairs:
            if pair in chosen:
                continue
            batch = order[pair][position[pair]:position[pair] + ROUND]
            position[pair] += ROUND
            hit = next((m for m in batch if verdicts[(pair[1], m.code)]), None)
            if hit is not None or position[pair] >= len(order[pair]):
                chosen[pair] = hit
                bar.update(1)
    bar.close()
    return chosen


def compose(head: Iterable[str], target: Problem) -> tuple[str, int]:
    """The file of the context functions followed by the target's prompt, and the 0-based line where the target
    starts (the instruct policy's `task` anchor)."""
    parts = [h for h in head if h]
    if not parts:
        return target.prompt, 0
    before = SEPARATOR.join(parts) + SEPARATOR
    return before + target.prompt.lstrip("\n"), before.count("\n")


def build_mutated_contexts(problems: Mapping[str, Problem], task_ids: Sequence[str], k: int, seed: int,
                           run: RunPrograms, progress: bool = False) -> tuple[ArmTasks, list[ContextChoice]]:
    """Arms good / none / bad for `task_ids`, and each target's choice of sources and bugs."""
    if k < 1:
        raise DataError(f"--context-functions must be at least 1, got {k}")
    orders = {t: source_order(problems, t, seed) for t in task_ids}
    sources: dict[str, list[str]] = {t: [] for t in task_ids}
    bugs: dict[tuple[str, str], Mutant] = {}
    tried = dict.fromkeys(task_ids, 0)
    while True:  # take sources in seeded order; one without a real bug is replaced by the next
        pairs = []
        for t in task_ids:
            want = k - len(sources[t])
            pairs += [(t, s) for s in orders[t][tried[t]:tried[t] + want]]
            tried[t] += want
        if not pairs:
            break
        for pair, bug in pick_bugs(problems, pairs, seed, run, progress).items():
            if bug is not None:
                sources[pair[0]].append(pair[1])
                bugs[pair] = bug
    for t in task_ids:
        if len(sources[t]) < k:
            raise DataError(f"mutated-contexts needs {k} other tasks whose solutions yield a failing mutant per "
                            f"target; the data set has {len(sources[t])} for {t} (lower --context-functions)")
        sources[t].sort(key=orders[t].index)
    arms: dict[str, dict[str, tuple[Problem, ...]]] = {arm: {} for arm in MUTATED_ARMS}
    choices = []
    for t in task_ids:
        target = problems[t]
        good, good_line = compose((source_text(problems[s]) for s in sources[t]), target)
        bad, bad_line = compose((bugs[(t, s)].code.strip("\n") for s in sources[t]), target)
        arms["good"][t] = (replace(target, prompt=good, task_line=good_line),)
        arms["none"][t] = (replace(target, task_line=0),)
        arms["bad"][t] = (replace(target, prompt=bad, task_line=bad_line),)
        choices.append(ContextChoice(t, tuple(sources[t]), tuple(bugs[(t, s)] for s in sources[t])))
    return ArmTasks(arms, executed={t: problems[t] for t in task_ids}), choices


def context_rows(tasks: ArmTasks, choices: Sequence[ContextChoice]) -> list[dict[str, Any]]:
    """contexts.jsonl: per target and arm the prompt, the sources and (bad arm) each injected bug."""
    rows = []
    for c in choices:
        bugs = [{"source": s, "operator": m.operator, "line": m.line, "before": m.before, "after": m.after}
                for s, m in zip(c.sources, c.mutants, strict=True)]
        for arm in MUTATED_ARMS:
            rows.append({"task_id": c.target, "arm": arm, "sources": list(c.sources) if arm != "none" else [],
                         "bugs": bugs if arm == "bad" else [], "prompt": tasks.arms[arm][c.target][0].prompt})
    return rows


WRONG_ANSWER = "failed: AssertionError"  # what a program that runs but answers wrongly gives under assert-tests


def sandbox_runner(pool: Any, *, harness_error_passes: bool = True,
                   wrong_answers_only: bool = False) -> RunPrograms:
    """A RunPrograms over a sandbox pool. A harness error (the sandbox failed, not the program) is retried once; a
    second one counts as passed when `harness_error_passes` (so that a mutant is never taken as a bug without a
    real failing run), as failed otherwise (so that a near miss is never a sandbox failure). With
    `wrong_answers_only`, only a wrong answer fails: a program that raises anything else or times out counts as
    passed, so a bug picked by it is subtle — a wrong result, not a crash (`filter(arr, f)`) or a hang."""
    from codeward.sandbox.workers import is_harness_error

    def verdict(res: Any) -> bool:
        if wrong_answers_only and not res.passed:
            return res.result != WRONG_ANSWER
        return res.passed

    def run(jobs: Mapping[Any, str]) -> dict[Any, bool]:
        out: dict[Any, bool] = {}
        retry = {}
        for key, res in pool.run(jobs.items()):
            if res.harness_error or is_harness_error(res.result):
                retry[key] = jobs[key]
            else:
                out[key] = verdict(res)
        for key, res in pool.run(retry.items()):
            broken = res.harness_error or is_harness_error(res.result)
            out[key] = harness_error_passes if broken else verdict(res)
        return out

    return run
