"""The Codex paper's analyses of a sampled run: pass@k curves, the temperature sweep, and ranking (Fig. 7).

Inputs are the run's samples (with their log-probs) and exec rows; outputs are plain JSON-ready rows that
results.json keeps, so `codeward eval report` can re-render a run without recomputing anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from codeward.eval.stats import bootstrap_ci, group_counts, pass_at_k

Group = tuple[Any, Any, str]  # (model, temperature, arm)
RANKERS = ("mean_logprob", "sum_logprob", "back_translation", "random", "oracle")
CURVE_KS = (1, 2, 3, 5, 10, 20, 50, 100)


def _label(temperature: Any) -> float:
    return -1.0 if temperature is None else float(temperature)


def curves(exec_rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """pass@k for k = 1, 2, 3, 5, 10, ... up to the smallest per-task n of each (model, temperature, arm)."""
    out = []
    groups = group_counts(exec_rows)
    for (model, temp, arm), counts in sorted(groups.items(), key=lambda g: (str(g[0][0]), _label(g[0][1]),
                                                                            str(g[0][2]))):
        smallest = min(n for n, _ in counts.values())
        ks = [k for k in CURVE_KS if k <= smallest] or [smallest]
        values = [float(np.mean([pass_at_k(n, c, k) for n, c in counts.values()])) for k in ks]
        out.append({"model": model, "temperature": temp, "arm": arm, "k": ks, "pass@k": values})
    return out


def sweep(metrics: Sequence[Mapping[str, Any]], ks: Sequence[int]) -> list[dict[str, Any]]:
    """Per (model, arm) with two or more temperatures: for each k, the temperature with the best pass@k."""
    by_group: dict[tuple[Any, str], list[Mapping[str, Any]]] = defaultdict(list)
    for m in metrics:
        by_group[(m.get("model"), m.get("arm", "all"))].append(m)
    out = []
    for (model, arm), rows in by_group.items():
        if len({r.get("temperature") for r in rows}) < 2:
            continue
        for k in ks:
            scored = [r for r in rows if f"pass@{k}" in r]
            if len(scored) < 2:
                continue
            best = max(scored, key=lambda r: (r[f"pass@{k}"], -_label(r.get("temperature"))))
            out.append({"model": model, "arm": arm, "k": k, "best_temperature": best.get("temperature"),
                        f"pass@{k}": best[f"pass@{k}"], f"pass@{k}_ci95": best.get(f"pass@{k}_ci95"),
                        "by_temperature": {str(r.get("temperature")): r[f"pass@{k}"] for r in scored}})
    return out


def _mean_logprob(row: Mapping[str, Any]) -> float:
    n = int(row.get("n_tokens") or 0)
    return float(row["logprob_sum"]) / n if n > 0 else float("-inf")


PICKS: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "mean_logprob": _mean_logprob,
    "sum_logprob": lambda row: float(row["logprob_sum"]),
    "back_translation": lambda row: float(row["bt_logprob"]),
}
NEEDS = {"mean_logprob": ("logprob_sum", "n_tokens"), "sum_logprob": ("logprob_sum",),
         "back_translation": ("bt_logprob",)}


def ranking(samples: Iterable[Mapping[str, Any]], exec_rows: Iterable[Mapping[str, Any]], n_boot: int,
            seed: int) -> list[dict[str, Any]]:
    """pass@1 of one sample picked per task, for each (model, temperature, arm) whose tasks all have n >= 2:
    by the highest mean token log-prob, the highest sum, the back-translation score (when scored), at random
    (the expected value: the task's pass rate) and by an oracle (any sample passes). Ties go to the lowest index.
    A ranker is left out of a group where any sample lacks its score."""
    passed: dict[tuple[Any, ...], bool] = {}
    for r in exec_rows:
        if not r.get("harness_error"):
            passed[(r.get("model"), r.get("temperature"), r.get("arm", "all"), r["task_id"], r["sample_idx"])] = \
                bool(r["passed"])
    tasks: dict[Group, dict[str, list[tuple[int, Mapping[str, Any], bool]]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        key = (s.get("model"), s.get("temperature"), s.get("arm", "all"), s["task_id"], s["sample_idx"])
        if key in passed:
            tasks[key[:3]][key[3]].append((int(key[4]), s, passed[key]))
    out = []
    for group in sorted(tasks, key=lambda g: (str(g[0]), _label(g[1]), str(g[2]))):
        per_task = tasks[group]
        if min(len(v) for v in per_task.values()) < 2:
            continue
        ids = sorted(per_task)
        for method in RANKERS:
            values = _picked(method, [sorted(per_task[t], key=lambda x: x[0]) for t in ids])
            if values is None:
                continue
            out.append({"model": group[0], "temperature": group[1], "arm": group[2], "method": method,
                        "pass@1": float(values.mean()), "pass@1_ci95": bootstrap_ci(values, n_boot, seed),
                        "tasks": len(ids)})
    return out


def _picked(method: str, per_task: Sequence[Sequence[tuple[int, Mapping[str, Any], bool]]]) -> np.ndarray | None:
    """Per task: whether the sample `method` picks passes (random: the expected value); None if unscored."""
    if method == "random":
        return np.array([np.mean([ok for _, _, ok in samples]) for samples in per_task], dtype=float)
    if method == "oracle":
        return np.array([any(ok for _, _, ok in samples) for samples in per_task], dtype=float)
    if any(row.get(f) is None for samples in per_task for _, row, _ in samples for f in NEEDS[method]):
        return None
    score = PICKS[method]
    picks = []
    for samples in per_task:
        scores = [score(row) for _, row, _ in samples]
        picks.append(samples[int(np.argmax(scores))][2])
    return np.array(picks, dtype=float)


def analyses(samples: Sequence[Mapping[str, Any]], exec_rows: Sequence[Mapping[str, Any]],
             metrics: Sequence[Mapping[str, Any]], ks: Sequence[int], n_boot: int, seed: int) -> dict[str, Any]:
    """The results.json sections of a run: `curves`, `sweep` and `ranking` (ranking needs n >= 2 and log-probs)."""
    return {"curves": curves(exec_rows), "sweep": sweep(metrics, ks),
            "ranking": ranking(samples, exec_rows, n_boot, seed)}
