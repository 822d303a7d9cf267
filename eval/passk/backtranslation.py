"""Back-translation scores (the Codex paper's Codex-D ranking, section 6): how likely the task's own docstring is
given the code a sample wrote, scored by a model.

The paper trained a docstring model; here the code model itself scores the docstring, with a prompt any
completion model reads: the sample's code (the task prompt without its docstring, then the completion) followed by
`<entry_point>.__doc__ = `, and the continuation is the docstring literal as the prompt wrote it. All samples of a
task are scored against the same docstring, so the sum of its token log-probs ranks them.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from codeward.eval.datasets import Problem
from codeward.eval.jsonl import JsonlAppender, read_rows
from codeward.model.base import Engine

BT_FILE = "backtranslation.jsonl"
PROMPT_FORM = "code without the docstring, then `<entry_point>.__doc__ = `; the continuation is the docstring"


def split_docstring(prompt: str, entry_point: str) -> tuple[str, str] | None:
    """(the prompt without the entry point's docstring, the docstring literal's source), or None when the
    prompt does not parse or the function has no docstring."""
    try:
        tree = ast.parse(prompt + "    pass\n")
    except SyntaxError:
        return None
    func = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name == entry_point), None)
    if func is None or not func.body:
        return None
    # The docstring, or (as in HumanEval/115) the string right after the function's own imports.
    leading = [n for n in func.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    first = leading[0] if leading else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)) or first.end_lineno is None:
        return None
    lines = prompt.splitlines(keepends=True)
    literal = ast.get_source_segment(prompt + "    pass\n", first.value)
    if literal is None:
        return None
    return "".join(lines[: first.lineno - 1] + lines[first.end_lineno:]), literal


def bt_prompt(problem: Problem, completion: str) -> tuple[str, str] | None:
    """(prompt, continuation) that scores `problem`'s docstring given the sample's code; None without one."""
    split = split_docstring(problem.prompt, problem.entry_point)
    if split is None:
        return None
    code, literal = split
    return (code + completion).rstrip() + f"\n\n\n{problem.entry_point}.__doc__ = ", literal


def sample_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """(model, temperature, arm, task_id, sample_idx) of a samples or scores row."""
    temp = row.get("temperature")
    return (row.get("model"), None if temp is None else float(temp), row.get("arm", "all"), row["task_id"],
            int(row["sample_idx"]))


def score_samples(engine: Engine, samples: Iterable[Mapping[str, Any]], problems: Mapping[str, Problem],
                  out: Path, progress: bool = True) -> dict[tuple[Any, ...], float]:
    """Score every sample not yet in `out` (appending one row each, so an interrupted run resumes); return the
    scores of all samples by key. Samples whose task has no docstring get no score."""
    from tqdm import tqdm

    scores = {sample_key(r): float(r["bt_logprob"]) for r in read_rows(out, repair=True)}
    todo = [s for s in samples if sample_key(s) not in scores and s["task_id"] in problems]
    with JsonlAppender(out) as writer:
        for s in tqdm(todo, desc="back-translation", unit="sample", file=sys.stderr, disable=not progress):
            pair = bt_prompt(problems[s["task_id"]], s["completion"])
            if pair is None:
                continue
            value = engine.score(*pair)
            key = sample_key(s)
            writer.write({"model": key[0], "temperature": key[1], "arm": key[2], "task_id": key[3],
                          "sample_idx": key[4], "bt_logprob": value, "scorer": engine.info.model})
            scores[key] = value
    return scores
