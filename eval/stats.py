"""pass@k and its uncertainty: the unbiased estimator, bootstrap CIs over tasks, paired arm comparisons.

Shared by every eval command that grades samples (passk, misalignment, infilling, security).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

Counts = Mapping[str, tuple[int, int]]  # task_id -> (n samples, c correct)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 - C(n-c, k) / C(n, k), in the Codex paper's numerically stable product form."""
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def per_task(counts: Counts, k: int) -> np.ndarray:
    """pass@k of every task, in the mapping's order."""
    return np.array([pass_at_k(n, c, k) for n, c in counts.values()], dtype=float)


def valid_ks(counts: Counts, ks: Iterable[int]) -> list[int]:
    """The ks that every task has enough samples for (k <= n of every task)."""
    smallest = min((n for n, _ in counts.values()), default=0)
    return sorted({k for k in ks if 1 <= k <= smallest})


def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int, level: float = 0.95) -> list[float]:
    """Percentile bootstrap CI of the mean, resampling tasks with replacement."""
    if len(values) == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return [float(lo), float(hi)]


def metric_row(counts: Counts, ks: Sequence[int], n_boot: int, seed: int, *, lost: Mapping[str, int] | None = None,
               **keys: Any) -> dict[str, Any]:
    """One results.json ROW: the keys (model, temperature, arm), pass@k with 95% CIs, tasks and samples; with
    `lost` (task_id -> samples lost to harness errors), `lost_tasks` and the `dropped_ks` those losses cost."""
    row: dict[str, Any] = dict(keys)
    reported = valid_ks(counts, ks)
    for k in reported:
        values = per_task(counts, k)
        row[f"pass@{k}"] = float(values.mean())
        row[f"pass@{k}_ci95"] = bootstrap_ci(values, n_boot, seed)
    row["tasks"] = len(counts)
    row["samples"] = int(sum(n for n, _ in counts.values()))
    row["passed"] = int(sum(c for _, c in counts.values()))
    if lost is not None:
        row.update(lost_ks(counts, ks, lost, reported))
    return row


def lost_ks(counts: Counts, ks: Sequence[int], lost: Mapping[str, int], reported: Sequence[int]) -> dict[str, Any]:
    """`dropped_ks`: the ks every task had samples for but not graded ones, once harness errors took some (a k is
    reported only where every task has n >= k); `lost_tasks`: task_id -> samples lost (a task may have lost all)."""
    whole = {t: (counts.get(t, (0, 0))[0] + lost.get(t, 0), 0) for t in {*counts, *lost}}
    dropped = sorted(set(valid_ks(whole, ks)) - set(reported))
    return {"dropped_ks": dropped, "lost_tasks": {t: lost[t] for t in sorted(lost)}}


def paired_differences(diffs: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """Mean of per-task differences, its percentile bootstrap CI and a two-sided paired sign-flip permutation
    p-value: the statistics of every paired gap (pass@k, likelihood)."""
    observed = float(diffs.mean())
    rng = np.random.default_rng(seed + 1)
    signs = rng.choice((-1.0, 1.0), size=(n_boot, len(diffs)))
    null = np.abs((signs * diffs).mean(axis=1))
    p_value = float((1 + np.count_nonzero(null >= abs(observed) - 1e-12)) / (n_boot + 1))
    return {"diff": observed, "ci95": bootstrap_ci(diffs, n_boot, seed), "p_value": p_value, "tasks": len(diffs)}


def paired_comparison(a: Counts, b: Counts, k: int, n_boot: int, seed: int, **keys: Any) -> dict[str, Any]:
    """A results.json CMP: mean pass@k difference a - b over shared tasks, its bootstrap CI and a
    two-sided paired sign-flip permutation p-value."""
    shared = [t for t in a if t in b]
    if not shared:
        raise ValueError("paired comparison needs tasks present in both arms; none are shared")
    diffs = per_task({t: a[t] for t in shared}, k) - per_task({t: b[t] for t in shared}, k)
    return {**keys, "metric": f"pass@{k}", **paired_differences(diffs, n_boot, seed)}


def group_counts(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[Any, Any, str], dict[str, tuple[int, int]]]:
    """Per (model, temperature, arm): task_id -> (n, c) from exec.jsonl rows (first row per sample key).
    Rows marked `harness_error` (the sandbox failed, not the sample) are left out."""
    seen: set[tuple[Any, ...]] = set()
    tally: dict[tuple[Any, Any, str], dict[str, list[int]]] = defaultdict(dict)
    for r in rows:
        if r.get("harness_error"):
            continue
        key = (r.get("model"), r.get("temperature"), r.get("arm", "all"), r["task_id"], r["sample_idx"])
        if key in seen:
            continue
        seen.add(key)
        nc = tally[key[:3]].setdefault(r["task_id"], [0, 0])
        nc[0] += 1
        nc[1] += bool(r["passed"])
    # Tasks sorted by id: the bootstrap then does not depend on the order rows were written in.
    return {g: {t: (tasks[t][0], tasks[t][1]) for t in sorted(tasks)} for g, tasks in tally.items()}


def harness_losses(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[Any, Any, str], dict[str, int]]:
    """Per (model, temperature, arm): task_id -> samples lost to harness errors (a marked row whose sample has no
    graded row: a re-run that worked, `--resume`, wins)."""
    graded: set[tuple[Any, ...]] = set()
    failed: set[tuple[Any, ...]] = set()
    for r in rows:
        key = (r.get("model"), r.get("temperature"), r.get("arm", "all"), r["task_id"], r["sample_idx"])
        (failed if r.get("harness_error") else graded).add(key)
    out: dict[tuple[Any, Any, str], dict[str, int]] = defaultdict(dict)
    for key in failed - graded:
        out[key[:3]][key[3]] = out[key[:3]].get(key[3], 0) + 1
    return dict(out)


def metrics_from_rows(
    rows: Iterable[Mapping[str, Any]], ks: Sequence[int], n_boot: int, seed: int
) -> list[dict[str, Any]]:
    """results.json `metrics`: one ROW per (model, temperature, arm), sorted for stable output, each with the ks
    and tasks harness errors cost it (`dropped_ks`, `lost_tasks`; a group that lost every sample still has a ROW)."""
    rows = list(rows)
    groups, losses = group_counts(rows), harness_losses(rows)
    keys = {*groups, *losses}
    order = sorted(keys, key=lambda g: (str(g[0]), -1.0 if g[1] is None else float(g[1]), str(g[2])))
    return [metric_row(groups.get(g, {}), ks, n_boot, seed, lost=losses.get(g, {}), model=g[0], temperature=g[1],
                       arm=g[2]) for g in order]


def gaps_by_size(comparisons: Iterable[Mapping[str, Any]],
                 sizes: Mapping[str, float]) -> dict[tuple[Any, Any, Any], list[Mapping[str, Any]]]:
    """The gaps of models with a known size, per (name, metric, temperature), sorted from the smallest model to the
    largest; only series with two or more models (the gap-against-size plot and report line)."""
    series: dict[tuple[Any, Any, Any], list[Mapping[str, Any]]] = {}
    for c in comparisons:
        if c.get("model") in sizes:
            series.setdefault((c["name"], c["metric"], c.get("temperature")), []).append(c)
    return {k: sorted(v, key=lambda c: sizes[c["model"]]) for k, v in series.items()
            if len({c["model"] for c in v}) >= 2}
