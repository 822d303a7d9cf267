"""Sample completions of benchmark tasks through the completion pipeline (the editor's path), one row per sample.

The task's prompt is the document and the cursor sits at its end, so a completion is exactly what the editor would
insert: the same template, context, stops, postprocess filters and safety verdicts. Rows are appended to a JSONL
file as they are made, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from codeward.completion.pipeline import Pipeline
from codeward.completion.settings import PipelineSettings
from codeward.completion.types import CompletionRequest
from codeward.eval.datasets import Problem

# What an eval run changes in the editor's defaults: whole function bodies (the Codex paper's stops), a prompt
# budget that holds any HumanEval prompt, and room for a long body.
EVAL_COMPLETION = {"mode": "multi-line", "stop_preset": "codex", "max_lines": 200, "min_chars": 1}
EVAL_CONTEXT = {"prefix_tokens": 3072, "suffix_tokens": 0}
EVAL_ENGINE = {"max_new_tokens": 512, "n_ctx": 4096}


def eval_pipeline_settings(settings: PipelineSettings) -> PipelineSettings:
    """`settings` with the eval run's completion, context and engine values (template and model unchanged)."""
    return replace(settings, completion=replace(settings.completion, **EVAL_COMPLETION),
                   context=replace(settings.context, **EVAL_CONTEXT),
                   engine=replace(settings.engine, **EVAL_ENGINE))


def task_request(problem: Problem) -> CompletionRequest:
    """The task's prompt as a document with the cursor at its end (code-point columns)."""
    lines = problem.prompt.split("\n")
    return CompletionRequest(text=problem.prompt, line=len(lines) - 1, column=len(lines[-1]), unit="code-point",
                             path=f"{problem.task_id.replace('/', '_')}.py")


def sample_task(pipeline: Pipeline, problem: Problem, arm: str) -> list[dict[str, Any]]:
    """One row per sample of `problem`: the inserted text as `completion`, the raw text, verdict, timing."""
    start = time.perf_counter()
    result = pipeline.complete_sync(task_request(problem))
    seconds = time.perf_counter() - start
    rows = []
    for outcome in result.outcomes:
        s = outcome.suggestion
        rows.append({"task_id": problem.task_id, "completion": s.text if s is not None else "",
                     "model": pipeline.engine.info.model, "temperature": pipeline.settings.engine.temperature,
                     "arm": arm, "sample_idx": outcome.sample_index, "raw": outcome.raw,
                     "verdict": s.verdict if s is not None else None, "dropped_by": outcome.dropped_by,
                     "template": result.template, "seconds": round(seconds / max(len(result.outcomes), 1), 3),
                     "n_tokens": pipeline.engine.count_tokens(outcome.raw) if outcome.raw else 0})
    return rows


def done_tasks(path: Path) -> set[str]:
    """Task ids already in a samples file (a resumed run skips them); a torn last line is ignored."""
    if not path.exists():
        return set()
    return {row["task_id"] for row in read_rows(path) if isinstance(row, dict) and "task_id" in row}


def sample_tasks(pipeline: Pipeline, problems: Mapping[str, Problem], task_ids: Sequence[str], out: Path,
                 arm: str = "all", progress: bool = True) -> list[dict[str, Any]]:
    """Sample every task not yet in `out`, appending each task's rows as soon as they exist; return all rows."""
    from tqdm import tqdm

    out.parent.mkdir(parents=True, exist_ok=True)
    todo = [t for t in task_ids if t not in done_tasks(out)]
    with out.open("a", encoding="utf-8") as handle:
        for task_id in tqdm(todo, desc=f"sampling {arm}", unit="task", disable=not progress, file=sys.stderr):
            for row in sample_task(pipeline, problems[task_id], arm):
                handle.write(json.dumps(row) + "\n")
            handle.flush()
    return list(read_rows(out))


def read_rows(path: Path) -> Iterable[dict[str, Any]]:
    """The rows of a samples file, skipping a torn last line."""
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue
