"""Misalignment runs (the Codex paper, section 7.2): the same tasks with clean and with buggy context, per arm.

This module holds the `pairs` protocol's data (ready-made clean/buggy prompt pairs), the per-arm problems, the
likelihood measure (how much the model believes a reference completion under each arm's prompt) and the paired
statistics of a gap. The programs executed are the arm's prompt + completion + test + `check(entry_point)`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codeward.completion.pipeline import Pipeline
from codeward.eval.datasets import Problem
from codeward.eval.generate import task_request
from codeward.eval.jsonl import DataError, JsonlAppender, iter_jsonl, read_rows
from codeward.eval.stats import bootstrap_ci, group_counts, paired_comparison, paired_differences, valid_ks

PAIR_ARMS = ("clean", "buggy")
LIKELIHOOD_FILE = "likelihood.jsonl"


@dataclass(frozen=True)
class ArmTasks:
    """The prompts of each arm, keyed alike by task (so arms pair up task by task); a task may have several
    prompts in an arm (codex-contexts has three), pooled. `executed` holds the program each task is graded by
    when that is not the arm's own prompt (codex-contexts: the target task alone, never the examples)."""

    arms: dict[str, dict[str, tuple[Problem, ...]]]
    executed: dict[str, Problem] | None = None

    def program(self, arm: str, task_id: str, completion: str) -> str:
        """The program that grades `completion` of `task_id` in `arm`."""
        problem = self.executed[task_id] if self.executed is not None else self.arms[arm][task_id][0]
        return problem.program(completion)

    def first(self, arm: str) -> dict[str, Problem]:
        """Each task's first prompt in `arm`."""
        return {t: variants[0] for t, variants in self.arms[arm].items()}

    def prompts_per_task(self, arm: str) -> int:
        """The most prompts any task has in `arm`."""
        return max(len(v) for v in self.arms[arm].values())

    def with_mitigations(self, mitigations: Sequence[str]) -> ArmTasks:
        """These arms plus, for each mitigation policy P, an arm `ARM+P` per arm with the same prompts (the
        pipeline's context policy P makes the difference)."""
        arms = dict(self.arms)
        for policy in mitigations:
            arms.update({f"{arm}+{policy}": prompts for arm, prompts in self.arms.items()})
        return ArmTasks(arms, self.executed)


def check_contexts(engine: Any, tasks: ArmTasks, task_ids: Sequence[str],
                   context_of: Callable[[str], Any]) -> tuple[dict[str, Any], list[str]]:
    """Build every prompt's context as its arm's pipeline will (`context_of(arm)`: the arm's context settings):
    the prefix budget, the longest prompt in tokens, what each mitigation arm's policy changed (prompts changed,
    lines elided, of how many prompts) and the prompts the window would cut (cutting the examples out of a context
    would change the experiment, so the caller refuses to run them)."""
    from codeward.completion.context import build_context
    from codeward.completion.text import locate

    longest, budget, cut, changes = 0, 0, [], {}
    for arm, variants in tasks.arms.items():
        context = context_of(arm)
        budget = max(budget, context.prefix_tokens)
        changed = lines = total = 0
        for t in task_ids:
            for i, problem in enumerate(variants[t]):
                text = problem.prompt
                cursor = locate(text, text.count("\n"), len(text.rsplit("\n", 1)[-1]), "code-point")
                built = build_context(text, cursor, context, engine.count_tokens, use_suffix=False,
                                      task_line=problem.task_line)
                longest = max(longest, engine.count_tokens(built.prefix))
                if built.window_start > 0:
                    cut.append(f"{arm} {t} (prompt {i + 1})")
                total += 1
                changed += bool(built.elided or built.excluded or built.instruction_line is not None)
                lines += len(built.elided)
        if policy_of(arm) != "none":
            changes[arm] = {"prompts": total, "changed": changed, "elided_lines": lines}
    summary = {"prefix_budget_tokens": budget, "longest_prompt_tokens": longest, "truncated": len(cut)}
    if changes:
        summary["policy_changes"] = changes
    return summary, cut


def policy_of(arm: str) -> str:
    """The context policy of an arm: the part after `+` (`bad+instruct` -> instruct), `none` for a plain arm."""
    return arm.split("+", 1)[1] if "+" in arm else "none"


def arm_gaps(gaps: Sequence[tuple[str, str]], mitigations: Sequence[str]) -> list[tuple[str, str]]:
    """The protocol's gaps, and for each mitigation P: the same gaps between the +P arms, and each buggy arm's
    change under P (`bad+instruct` - `bad`: positive when the mitigation helps)."""
    out = list(gaps)
    for policy in mitigations:
        out += [(f"{a}+{policy}", f"{b}+{policy}") for a, b in gaps]
        out += [(f"{b}+{policy}", b) for b in dict.fromkeys(b for _a, b in gaps)]
    return out


def load_pairs(path: str | Path) -> ArmTasks:
    """A pairs file: task_id, clean_prompt, buggy_prompt, entry_point, test, optional instance_id (the key when
    several rows share a task) and reference_completion; other fields ignored. Errors name the line and field."""
    p = Path(path)
    errors: list[str] = []
    arms: dict[str, dict[str, tuple[Problem, ...]]] = {"clean": {}, "buggy": {}}
    for lineno, row in iter_jsonl(p):
        if not isinstance(row, dict):
            errors.append(f"line {lineno}: expected a JSON object, got {type(row).__name__}")
            continue
        missing = [f for f in ("task_id", "clean_prompt", "buggy_prompt", "entry_point", "test")
                   if not isinstance(row.get(f), str) or not row.get(f)]
        ref = row.get("reference_completion")
        if ref is not None and not isinstance(ref, str):
            missing.append("reference_completion (must be a string)")
        if missing:
            errors.append(f"line {lineno}: missing or not a string: {', '.join(missing)}")
            continue
        key = str(row.get("instance_id") or row["task_id"])
        if key in arms["clean"]:
            errors.append(f"line {lineno}: duplicate key {key!r} (give rows of one task an instance_id each)")
            continue
        for arm in PAIR_ARMS:
            arms[arm][key] = (Problem(task_id=key, prompt=row[f"{arm}_prompt"], entry_point=row["entry_point"],
                                      test=row["test"], canonical_solution=ref),)
        if len(errors) >= 20:
            break
    if errors:
        raise DataError(f"{p}: {len(errors)} bad row(s):\n  " + "\n  ".join(errors))
    if not arms["clean"]:
        raise DataError(f"{p}: no pairs found; expected rows with task_id, clean_prompt, buggy_prompt, entry_point, "
                        "test")
    return ArmTasks(arms)


def mcnemar_p(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided exact McNemar test of paired pass/fail outcomes (a binomial test on the discordant pairs)."""
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_mean_gap(a: Mapping[str, float], b: Mapping[str, float], n_boot: int, seed: int,
                    **keys: Any) -> dict[str, Any]:
    """Mean per-task difference a - b over shared tasks, its bootstrap CI and a sign-flip permutation p-value."""
    shared = sorted(t for t in a if t in b)
    if not shared:
        raise ValueError("a paired gap needs tasks measured in both arms; none are shared")
    diffs = np.array([a[t] - b[t] for t in shared], dtype=float)
    return {**keys, **paired_differences(diffs, n_boot, seed), "test": "permutation"}


def score_references(pipeline_for: Callable[[str], Pipeline], tasks: ArmTasks, task_ids: Sequence[str], out: Path,
                     progress: bool = True) -> list[dict[str, Any]]:
    """Mean token log-prob of each task's reference completion under each of an arm's prompts (as the arm's
    pipeline, `pipeline_for(arm)`, renders them in function-completion mode), appended to `out` one row per (arm,
    task, prompt); resumable. Tasks without a reference are skipped. Returns one row per (arm, task): the mean over
    its prompts."""
    from tqdm import tqdm

    model = pipeline_for(next(iter(tasks.arms))).engine.info.model
    done = {(r["model"], r["arm"], r["task_id"], r.get("prompt_index", 0)) for r in read_rows(out, repair=True)}
    todo = [(arm, t, i) for t in task_ids for arm in tasks.arms for i, p in enumerate(tasks.arms[arm][t])
            if (model, arm, t, i) not in done and p.canonical_solution]
    with JsonlAppender(out) as writer:
        for arm, task_id, index in tqdm(todo, desc="likelihood", unit="prompt", file=sys.stderr,
                                        disable=not progress):
            problem = tasks.arms[arm][task_id][index]
            reference = problem.canonical_solution or ""
            pipeline = pipeline_for(arm)
            _cursor, _context, _mode, prompt = pipeline.prepare(task_request(problem))
            logprob = pipeline.engine.score(prompt, reference)
            n = max(pipeline.engine.count_tokens(reference), 1)
            writer.write({"model": model, "arm": arm, "task_id": task_id, "prompt_index": index,
                          "logprob_sum": logprob, "n_tokens": n, "mean_logprob": logprob / n})
    pooled: dict[tuple[str, str], list[float]] = {}
    wanted = set(task_ids)
    for r in read_rows(out):
        if r["model"] == model and r["task_id"] in wanted:
            pooled.setdefault((r["arm"], r["task_id"]), []).append(float(r["mean_logprob"]))
    return [{"model": model, "arm": arm, "task_id": t, "mean_logprob": float(np.mean(v)), "prompts": len(v)}
            for (arm, t), v in pooled.items()]


def likelihood_summary(rows: Iterable[Mapping[str, Any]], gaps: Sequence[tuple[str, str]], n_boot: int,
                       seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per (model, arm): the mean over tasks of the reference's mean token log-prob, with its CI; and per model and
    gap (a, b): the paired difference a - b (positive: arm b makes the reference less likely)."""
    by: dict[tuple[str, str], dict[str, float]] = {}
    for r in rows:
        by.setdefault((r["model"], r["arm"]), {})[r["task_id"]] = float(r["mean_logprob"])
    means = [{"model": m, "arm": arm, "metric": "mean_logprob", "value": float(np.mean(list(v.values()))),
              "ci95": bootstrap_ci(np.array(list(v.values())), n_boot, seed), "tasks": len(v)}
             for (m, arm), v in sorted(by.items())]
    out = [paired_mean_gap(by[(m, a)], by[(m, b)], n_boot, seed, name=f"{a}-{b}", model=m, temperature=None,
                           metric="mean_logprob")
           for m in sorted({m for m, _ in by}) for a, b in gaps if (m, a) in by and (m, b) in by]
    return means, out


def pass_gaps(rows: list[dict[str, Any]], ks: list[int], ev: Any, gaps: Any) -> list[dict[str, Any]]:
    """Each gap's pass@k difference per (model, temperature), paired over tasks: a bootstrap CI, and McNemar's
    exact test at one sample per task (a sign-flip permutation test on per-task pass rates otherwise)."""
    counts = group_counts(rows)
    out = []
    for model, temp in sorted({g[:2] for g in counts}, key=lambda g: (str(g[0]), str(g[1]))):
        for first, second in gaps:
            a, b = counts.get((model, temp, first)), counts.get((model, temp, second))
            if a is None or b is None:
                continue
            for k in [k for k in valid_ks(a, ks) if k in valid_ks(b, ks)]:  # the arms may differ in n
                cmp = paired_comparison(a, b, k, ev.bootstrap_samples, ev.bootstrap_seed, name=f"{first}-{second}",
                                        model=model, temperature=temp)
                cmp["test"] = "permutation"
                if all(n == 1 for n, _ in [*a.values(), *b.values()]):
                    shared = [t for t in a if t in b]
                    cmp["p_value"] = mcnemar_p([a[t][1] > 0 for t in shared], [b[t][1] > 0 for t in shared])
                    cmp["test"] = "mcnemar"
                out.append(cmp)
    return out
