"""PNG plots of a run (matplotlib, non-interactive): pass@k against k per temperature, the ranking bars, and for
misalignment runs pass@1 and the likelihood per arm and the gaps against model size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PASSK_PLOT = "passk_vs_k.png"
RANKING_PLOT = "ranking.png"
ARMS_PLOT = "passk_by_arm.png"
LIKELIHOOD_PLOT = "likelihood_by_arm.png"
SIZE_PLOT = "gap_vs_size.png"


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


def plot_arms(rows: Sequence[Mapping[str, Any]], value: str, ci: str, ylabel: str, title: str, path: Path,
              min_arms: int = 2) -> bool:
    """One bar per arm with its 95% CI, grouped by (model, temperature); False with fewer than `min_arms` arms."""
    rows = [r for r in rows if value in r and r.get(ci)]
    arms = list(dict.fromkeys(str(r.get("arm")) for r in rows))
    if len(arms) < min_arms:
        return False
    plt = _pyplot()
    groups = list(dict.fromkeys((str(r.get("model")), r.get("temperature")) for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 + 0.9 * len(arms) * len(groups)), 4), dpi=100)
    width = 0.8 / len(groups)
    for gi, group in enumerate(groups):
        by = {str(r.get("arm")): r for r in rows if (str(r.get("model")), r.get("temperature")) == group}
        xs = [i + gi * width for i, a in enumerate(arms) if a in by]
        ys = [by[a][value] for a in arms if a in by]
        err = [[by[a][value] - by[a][ci][0] for a in arms if a in by], [by[a][ci][1] - by[a][value] for a in arms
                                                                         if a in by]]
        label = group[0] + ("" if group[1] is None else f" T={group[1]}")
        ax.bar(xs, ys, width=width, yerr=err, capsize=3, label=label)
    ax.set_xticks([i + width * (len(groups) - 1) / 2 for i in range(len(arms))])
    ax.set_xticklabels(arms, rotation=20 if len(arms) > 4 else 0)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _count(n: float) -> str:
    """A parameter count as people write it: 135M, 1.8B."""
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def plot_gap_vs_size(comparisons: Sequence[Mapping[str, Any]], models: Sequence[Mapping[str, Any]],
                     path: Path) -> bool:
    """Each gap (name, metric) against the models' parameter counts (log x) with 95% CI bars, like the Codex
    paper's Figure 14; False unless some gap has two or more models with a known size."""
    from codeward.eval.stats import gaps_by_size

    size = {m["name"]: m["n_params"] for m in models if m.get("n_params")}
    several_temperatures = len({c.get("temperature") for c in comparisons}) > 1
    series = {(name + (f" T={t}" if several_temperatures else ""), metric): rows
              for (name, metric, t), rows in gaps_by_size(comparisons, size).items()}
    if not series:
        return False
    plt = _pyplot()
    metrics = sorted({m for _n, m in series})
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), dpi=100, squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for (name, m), rows in series.items():
            if m != metric:
                continue
            xs = [size[c["model"]] for c in rows]
            ys = [c["diff"] for c in rows]
            err = [[c["diff"] - c["ci95"][0] for c in rows], [c["ci95"][1] - c["diff"] for c in rows]]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=name)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xscale("log")
        shown = sorted({size[c["model"]]: c["model"] for (_n, m), rows in series.items() if m == metric
                        for c in rows}.items())
        ax.xaxis.set_minor_formatter(plt.matplotlib.ticker.NullFormatter())
        ax.set_xticks([n for n, _ in shown], [f"{name}\n{_count(n)}" for n, name in shown], fontsize="small")
        ax.set_xlabel("parameters")
        ax.set_ylabel(f"gap in {metric} (95% CI)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        ax.set_title(f"{metric} gap vs model size")
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
    if plot_arms(results.get("metrics") or [], "pass@1", "pass@1_ci95", "pass@1 (95% CI)", "pass@1 per arm",
                 folder / ARMS_PLOT):
        written.append(ARMS_PLOT)
    shifts = [{**c, "arm": c["name"]} for c in results.get("comparisons") or [] if c.get("metric") == "mean_logprob"]
    if plot_arms(shifts, "diff", "ci95", "paired shift in mean token log-prob (95% CI)",
                 "likelihood of the reference: each gap, first arm minus second", folder / LIKELIHOOD_PLOT, min_arms=1):
        written.append(LIKELIHOOD_PLOT)
    if plot_gap_vs_size(results.get("comparisons") or [], results.get("models") or [], folder / SIZE_PLOT):
        written.append(SIZE_PLOT)
    return written
