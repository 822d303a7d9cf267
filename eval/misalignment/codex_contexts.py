"""The Codex paper's misalignment prompts (appendix E; the code-align-evals-data release): for each HumanEval task,
three prompts of three [docstring + solution] examples of other tasks — correct ones (`good`) or ones with a subtle
bug (`bad`) — followed by the target task's prompt. The arm `none` is the plain HumanEval prompt.

The released text doubles many newlines; `normalise` undoes it (every run of k newlines becomes ceil(k / 2)), which
changes only whitespace (tested). Rows are matched to HumanEval tasks by the target prompt's text (from its `def`
on, whitespace ignored; the most similar where a released docstring predates HumanEval's fixes) among the tasks of
its entry point: six entry points belong to two HumanEval tasks each. The program
executed is always the target task alone — never the examples, one of which does not even parse.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from codeward.eval.datasets import Problem
from codeward.eval.jsonl import DataError, iter_jsonl
from codeward.eval.misalignment.runs import ArmTasks

FILES = {"good": "new_good_contexts.jsonl.gz", "bad": "new_bad_contexts.jsonl.gz"}
CODEX_ARMS = ("good", "none", "bad")
NORMALISATION = "every run of k newlines in the released prompts becomes ceil(k/2) newlines"


def normalise(text: str) -> str:
    """The released prompt with its doubled newlines halved (a run of k newlines -> ceil(k/2))."""
    return re.sub(r"\n+", lambda m: "\n" * ((len(m.group()) + 1) // 2), text)


def squash(text: str) -> str:
    """`text` without any whitespace (to compare prompts whatever their line breaks)."""
    return re.sub(r"\s+", "", text)


def target_section(prompt: str, entry_point: str) -> str:
    """The prompt from the last line that starts the entry point's `def` on; empty if there is none."""
    starts = [m.start() for m in re.finditer(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", prompt, re.MULTILINE)]
    return prompt[starts[-1]:] if starts else ""


def task_start_line(prompt: str, target_prompt: str) -> int | None:
    """The 0-based line of `prompt` where the target task's own prompt starts: the last line that equals (stripped)
    the first non-blank line of `target_prompt`; None when there is none."""
    first = next((line.strip() for line in target_prompt.split("\n") if line.strip()), "")
    lines = prompt.split("\n")
    found = [i for i, line in enumerate(lines) if first and line.strip() == first]
    return found[-1] if found else None


def match_task(prompt: str, entry_point: str, humaneval: Mapping[str, Problem]) -> str | None:
    """The HumanEval task whose target function `prompt` ends with: among the tasks with this entry point, the
    one whose prompt from its `def` on is the same text (whitespace ignored) or, failing that (some released
    docstrings predate HumanEval's fixes), the most similar one."""
    target = squash(target_section(prompt, entry_point))
    candidates = {t: squash(target_section(p.prompt, entry_point)) for t, p in humaneval.items()
                  if p.entry_point == entry_point}
    if not target or not candidates:
        return None
    exact = [t for t, text in candidates.items() if text == target]
    if exact:
        return exact[0]
    return max(candidates, key=lambda t: difflib.SequenceMatcher(None, candidates[t], target).ratio())


def load_codex_contexts(folder: str | Path, humaneval: Mapping[str, Problem], prompts_per_task: int = 3) -> ArmTasks:
    """Arms good / none / bad over the HumanEval tasks present in both files, HumanEval's order, the first
    `prompts_per_task` prompts of each task; DataError naming the file and row for what cannot be used."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; --protocol codex-contexts takes --data DIR holding "
                        f"{FILES['good']} and {FILES['bad']} (for a pairs file use --protocol pairs)")
    by_arm: dict[str, dict[str, list[Problem]]] = {}
    for arm, name in FILES.items():
        path = root / name
        if not path.is_file():
            raise DataError(f"{path}: missing; the codex-contexts data folder needs {FILES['good']} and "
                            f"{FILES['bad']} (alignment/bad_contexts/ of the code-align-evals-data repository)")
        found: dict[str, list[Problem]] = {}
        for lineno, row in iter_jsonl(path):
            env = row.get("env_data") if isinstance(row, dict) else None
            if not isinstance(env, dict) or not isinstance(env.get("prompt"), str) \
                    or not isinstance(env.get("entry_point"), str):
                raise DataError(f"{path}:{lineno}: expected env_data.prompt and env_data.entry_point strings")
            prompt = normalise(env["prompt"])
            task_id = match_task(prompt, env["entry_point"], humaneval)
            if task_id is None:
                raise DataError(f"{path}:{lineno}: no HumanEval task has this row's target prompt "
                                f"({env['entry_point']}); is this the code-align-evals-data release?")
            target = humaneval[task_id]
            found.setdefault(task_id, []).append(Problem(task_id=task_id, prompt=prompt,
                                                         entry_point=target.entry_point, test=target.test,
                                                         canonical_solution=target.canonical_solution,
                                                         task_line=task_start_line(prompt, target.prompt)))
        by_arm[arm] = found
    shared = [t for t in humaneval if t in by_arm["good"] and t in by_arm["bad"]]
    if not shared:
        raise DataError(f"{root}: no HumanEval task has prompts in both files")
    k = max(1, prompts_per_task)
    arms = {"good": {t: tuple(by_arm["good"][t][:k]) for t in shared},
            "none": {t: (replace(humaneval[t], task_line=0),) for t in shared},
            "bad": {t: tuple(by_arm["bad"][t][:k]) for t in shared}}
    return ArmTasks(arms, executed={t: humaneval[t] for t in shared})
