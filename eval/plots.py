"""PNG plots of a run (matplotlib, non-interactive): pass@k against k per temperature, and the ranking bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PASSK_PLOT = "passk_vs_k.png"
RANKING_PLOT = "ranking.png"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _series_label(row: Mapping[str, Any], several_models: bool, several_arms: bool) -> str:
    parts = [f"T={row['temperature']}"]
    if several_arms:
        parts.insert(0, str(row.get("arm")))
    if several_models:
        parts.insert(0, str(row.get("model")))
    return " ".join(parts)


def plot_curves(curves: Sequence[Mapping[str, Any]], path: Path) -> bool:
    """pass@k vs k (log x axis), one line per (model, temperature, arm); False when there is nothing to draw."""
    if not curves or max(len(c["k"]) for c in curves) < 2:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    models = len({c.get("model") for c in curves}) > 1
    arms = len({c.get("arm") for c in curves}) > 1
    for c in curves:
        ax.plot(c["k"], c["pass@k"], marker="o", label=_series_label(c, models, arms))
    ax.set_xscale("log")
    ax.set_xticks(sorted({k for c in curves for k in c["k"]}))
    ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("pass@k by temperature")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def plot_ranking(ranking: Sequence[Mapping[str, Any]], path: Path) -> bool:
    """pass@1 of each ranking method with its 95% CI, grouped by temperature; False when there is none."""
    if not ranking:
        return False
    plt = _pyplot()
    groups = sorted({(str(r.get("model")), r.get("temperature"), str(r.get("arm"))) for r in ranking},
                    key=lambda g: (g[0], -1.0 if g[1] is None else float(g[1]), g[2]))
    methods = [m for m in ("random", "sum_logprob", "mean_logprob", "back_translation", "oracle")
               if any(r["method"] == m for r in ranking)]
    fig, ax = plt.subplots(figsize=(1.2 + 1.4 * len(methods) * max(1, len(groups)) / 2, 4), dpi=100)
    width = 0.8 / max(1, len(groups))
    for gi, (model, temp, arm) in enumerate(groups):
        rows = {r["method"]: r for r in ranking if (str(r.get("model")), r.get("temperature"), str(r.get("arm")))
                == (model, temp, arm)}
        xs = [i + gi * width for i, m in enumerate(methods) if m in rows]
        ys = [rows[m]["pass@1"] for m in methods if m in rows]
        err = [[rows[m]["pass@1"] - rows[m]["pass@1_ci95"][0] for m in methods if m in rows],
               [rows[m]["pass@1_ci95"][1] - rows[m]["pass@1"] for m in methods if m in rows]]
        label = f"T={temp}" + ("" if len(groups) < 2 or len({g[0] for g in groups}) < 2 else f" {model}")
        ax.bar(xs, ys, width=width, yerr=err, capsize=3, label=label)
    ax.set_xticks([i + width * (len(groups) - 1) / 2 for i in range(len(methods))])
    ax.set_xticklabels([m.replace("_", " ") for m in methods])
    ax.set_ylabel("pass@1 of the picked sample")
    ax.set_ylim(0, 1)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    ax.set_title("Ranking samples (Codex Fig. 7)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_plots(folder: Path, results: Mapping[str, Any]) -> list[str]:
    """Every plot the results support, written into `folder`; the file names written."""
    written = []
    if plot_curves(results.get("curves") or [], folder / PASSK_PLOT):
        written.append(PASSK_PLOT)
    if plot_ranking(results.get("ranking") or [], folder / RANKING_PLOT):
        written.append(RANKING_PLOT)
    return written
