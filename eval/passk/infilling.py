"""HumanEval-Infilling through the completion pipeline: the editor's scenario of a hole between code above and
below the cursor.

The document is prefix + suffix with the cursor between them. Where the hole is whole lines (the prefix ends a
line and the middle ends with a newline: the single- and multi-line sets), the document keeps an empty line for it
and the cursor sits at its start, as in an editor after deleting those lines; otherwise (random spans) the cursor
sits mid-line. The pipeline's suggestion becomes the middle, and the program graded is prefix + middle + suffix +
the tests + `check(entry_point)`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from codeward.completion.pipeline import Pipeline
from codeward.completion.settings import PipelineSettings
from codeward.completion.types import CompletionRequest, Suggestion
from codeward.eval.datasets import Problem
from codeward.eval.generate import SamplingPlan, outcome_rows

log = logging.getLogger(__name__)
KINDS = (("SingleLine", "single-line"), ("MultiLine", "multi-line"), ("RandomSpan", "random-span"))


def task_kind(task_id: str) -> str:
    """single-line, multi-line or random-span from the data set's task id (`SingleLineInfilling/HumanEval/0/L2`);
    `infilling` for ids of another shape."""
    head = task_id.split("/", 1)[0]
    return next((kind for prefix, kind in KINDS if head.startswith(prefix)), "infilling")


def whole_lines(problem: Problem) -> bool:
    """Whether the hole is whole lines: the prefix ends a line and the middle ends with a newline."""
    middle = problem.canonical_solution
    return (problem.prompt == "" or problem.prompt.endswith("\n")) and (middle is None or middle.endswith("\n"))


def infill_request(problem: Problem) -> CompletionRequest:
    """The document and the cursor an editor would have with this task's middle deleted."""
    lines = problem.prompt.split("\n")
    gap = "\n" if whole_lines(problem) else ""
    return CompletionRequest(text=problem.prompt + gap + problem.suffix, line=len(lines) - 1,
                             column=len(lines[-1]), unit="code-point",
                             path=f"{problem.task_id.replace('/', '_')}.py")


def middle_of(suggestion: Suggestion | None, problem: Problem) -> str:
    """The middle a suggestion makes: its text (plus the empty line's newline for a whole-line hole); where it
    replaces characters after the cursor (brackets it closes itself) the suffix's copies of them are dropped."""
    if suggestion is None:
        return ""
    text = suggestion.text
    if whole_lines(problem):
        return text + "\n"
    cut = suggestion.replace_after
    if cut:
        replaced = problem.suffix[:cut]
        if text.endswith(replaced):
            return text[: len(text) - cut]
        log.warning("%s: a suggestion replaces %r after the cursor but does not end with it; graded as inserted",
                    problem.task_id, replaced)
    return text


def infill_rows(pipeline: Pipeline, problem: Problem, seed: int) -> list[dict[str, Any]]:
    """The samples.jsonl rows of one infilling task: `completion` is the middle, `arm` the task's kind."""
    start = time.perf_counter()
    result = pipeline.complete_sync(infill_request(problem), seed)
    rows = outcome_rows(pipeline, result, problem.task_id, task_kind(problem.task_id), time.perf_counter() - start)
    for row, outcome in zip(rows, result.outcomes, strict=True):
        row["suggestion"] = row["completion"]
        row["completion"] = middle_of(outcome.suggestion, problem)
        row["hole"] = "lines" if whole_lines(problem) else "span"
        row["mode"] = result.mode
    return rows


def infill_pipeline_settings(settings: PipelineSettings, plan: SamplingPlan, temperature: float,
                             mode: str | None) -> PipelineSettings:
    """The editor's own settings with the plan's sampling values (and `--mode`, if given)."""
    engine = replace(settings.engine, n=plan.n, temperature=temperature, top_p=plan.top_p,
                     max_new_tokens=plan.max_new_tokens, template=plan.template)
    completion = settings.completion if mode is None else replace(settings.completion, mode=mode)
    return replace(settings, engine=engine, completion=completion)
