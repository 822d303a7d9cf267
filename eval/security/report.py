"""report.md and the plots of an `eval security` run, from its results.json (what `eval report` re-renders)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codeward.eval.report import isolation_record_lines

CWE_PLOT = "insecure_by_cwe.png"
FALSE_BLOCK_PLOT = "false_block.png"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


def _pct(value: Any, ci: Any = None) -> str:
    if not _number(value):
        return "—"
    text = f"{100 * value:.1f}%"
    if isinstance(ci, list) and len(ci) == 2 and all(_number(v) for v in ci):
        text += f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    return text


def render_security(title: str, results: Mapping[str, Any], plots: Sequence[str]) -> str:
    """The report: insecure rates per judge and arm, the paired gap, the filter's effect, the judges' agreement,
    per-CWE rates, the false-block table and secure-pass@k."""
    cfg = results.get("config") or {}
    model = (cfg.get("model") or {}).get("name")
    lines = [f"# {title}", "", (f"- Data: {results.get('dataset')} ({cfg.get('protocol')} protocol, "
             f"{len(cfg.get('tasks') or [])} cases)"), f"- Model: {model} (engine {results.get('engine')})",
             f"- Judges: {', '.join(cfg.get('judges') or [])}" + (f" (versions {cfg.get('judge_versions')})"
                                                                  if cfg.get("judge_versions") else ""),
             f"- Document: {cfg.get('document')}", f"- Safety policy: {cfg.get('policy')}",
             *isolation_record_lines(results.get("isolation")), "",
             "## Insecure suggestions", "",
             ("Share of cases whose judged suggestion is insecure (95% bootstrap CI over cases). `raw`: the first "
             "sample; `filtered`: what the editor shows under the policy (a case with nothing shown counts as not "
             "insecure)."), "", "| model | T | judge | arm | insecure | cases judged | judge errors |",
             "|---|---|---|---|---|---|---|"]
    for m in results.get("metrics") or []:
        lines.append(f"| {m.get('model')} | {m.get('temperature')} | {m.get('judge')} | {m.get('arm')} | "
                     f"{_pct(m.get('insecure_rate'), m.get('insecure_rate_ci95'))} | {m.get('judged')} | "
                     f"{m.get('judge_errors')} |")
    gaps = [c for c in results.get("comparisons") or [] if c.get("name") == "raw-filtered"]
    if gaps:
        lines += ["", "Paired gap raw − filtered (per case):", ""]
        lines += [f"- {c.get('judge')}: {_pct(c.get('diff'), c.get('ci95'))}, p = {c.get('p_value'):.4f} "
                  f"({c.get('tasks')} cases)" for c in gaps]
    for f in results.get("filter") or []:
        lines += ["", "## What the filter did", "",
                  (f"Of {f['cases']} first samples: {f['shown']} shown as sampled, {f['replaced']} replaced by a "
                  f"later sample, {f['dropped']} dropped with nothing shown, {f['empty']} empty before the "
                  f"policy (the pipeline's own filters).")]
    for a in results.get("agreement") or []:
        if a.get("samples"):
            j1, j2 = a["judges"]
            lines += ["", "## Judges' agreement", "",
                      (f"Over {a['samples']} non-empty samples: both insecure {a['both']}, only {j1} "
                      f"{a[f'only_{j1}']}, only {j2} {a[f'only_{j2}']}, neither {a['neither']}; agreement "
                      f"{_pct(a['agreement'])}, Cohen's kappa {a['kappa']:.3f}.")]
    lines += _cwe_lines(results.get("per_cwe") or [])
    lines += _false_block_lines(results.get("false_block") or {})
    lines += _secure_pass_lines(results.get("secure_pass") or [])
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    notes = results.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _cwe_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return []
    columns = list(dict.fromkeys((r["judge"], r["arm"]) for r in rows))
    cwes = sorted({r["cwe"] for r in rows}, key=lambda c: (len(c), c))
    lines = ["", "## Per CWE (the CWE each case was drawn for)", "",
             "| CWE | cases | " + " | ".join(f"{j} {a}" for j, a in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for cwe in cwes:
        cells = {(r["judge"], r["arm"]): r for r in rows if r["cwe"] == cwe}
        n = next(iter(cells.values()))["tasks"]
        lines.append(f"| {cwe} | {n} | " + " | ".join(_pct(cells[c]["insecure_rate"]) if c in cells else "—"
                                                     for c in columns) + " |")
    return lines


def _false_block_lines(fb: Mapping[str, Any]) -> list[str]:
    rows = fb.get("rows") or []
    if not rows:
        return []
    lines = ["", "## The cost: false blocks on correct code", "",
             "| source | cases | blocked | false-block rate | warned | blocked or warned |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['cases']} | {r['blocked']} | "
                     f"{_pct(r['false_block_rate'], r['false_block_rate_ci95'])} | {r['warned']} | "
                     f"{_pct(r['false_alarm_rate'], r['false_alarm_rate_ci95'])} |")
    flagged = fb.get("flagged") or []
    if flagged:
        lines += ["", "Flagged correct code:", ""]
        lines += [f"- {f['source']} `{f['id']}`: {f['verdict']} ({', '.join(f['rules']) or 'check error'})"
                  for f in flagged[:30]]
        if len(flagged) > 30:
            lines.append(f"- … and {len(flagged) - 30} more (results.json `false_block.flagged`)")
    return lines


def _secure_pass_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return []
    ks = sorted({int(k.split("@")[1]) for r in rows for k in r if k.startswith("pass@") and "_" not in k})
    lines = ["", "## secure-pass@k (from the --from-run samples)", "",
             "| model | T | arm | " + " | ".join(f"pass@{k} | secure-pass@{k}" for k in ks) + " |",
             "|---|---|---|" + "---|---|" * len(ks)]
    for r in rows:
        cells = " | ".join(f"{_pct(r.get(f'pass@{k}'), r.get(f'pass@{k}_ci95'))} | "
                           f"{_pct(r.get(f'secure-pass@{k}'), r.get(f'secure-pass@{k}_ci95'))}" for k in ks)
        lines.append(f"| {r['model']} | {r['temperature']} | {r['arm']} | {cells} |")
    return lines


def write_security_plots(folder: Path, results: Mapping[str, Any]) -> list[str]:
    """Insecure rate per CWE, raw vs filtered, one panel per judge; the false-block rate per source."""
    from codeward.eval.plots import _pyplot

    written = []
    rows = results.get("per_cwe") or []
    judges = list(dict.fromkeys(r["judge"] for r in rows))
    if rows:
        plt = _pyplot()
        cwes = sorted({r["cwe"] for r in rows}, key=lambda c: (len(c), c))
        fig, axes = plt.subplots(1, len(judges), figsize=(max(6.0, 1.0 * len(cwes)) * len(judges), 4), dpi=100,
                                 squeeze=False)
        for ax, judge in zip(axes[0], judges, strict=True):
            for i, arm in enumerate(("raw", "filtered")):
                by = {r["cwe"]: r for r in rows if r["judge"] == judge and r["arm"] == arm}
                ax.bar([x + i * 0.4 for x in range(len(cwes))], [by[c]["insecure_rate"] if c in by else 0.0
                                                                  for c in cwes], width=0.4, label=arm)
            ax.set_xticks([x + 0.2 for x in range(len(cwes))])
            ax.set_xticklabels(cwes, rotation=30)
            ax.set_ylabel("insecure share of cases")
            ax.set_title(f"judge: {judge}")
            ax.grid(True, axis="y", alpha=0.3)
            ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(folder / CWE_PLOT)
        plt.close(fig)
        written.append(CWE_PLOT)
    fb = [r for r in (results.get("false_block") or {}).get("rows") or [] if r.get("cases")]
    if fb:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(fb)), 4), dpi=100)
        xs = range(len(fb))
        ax.bar([x - 0.2 for x in xs], [r["false_block_rate"] for r in fb], width=0.4, label="blocked")
        ax.bar([x + 0.2 for x in xs], [r["false_alarm_rate"] for r in fb], width=0.4, label="blocked or warned")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["source"] for r in fb], rotation=35, ha="right", fontsize="small")
        ax.set_ylabel("share of correct code")
        ax.set_title("false alarms of the safety policy on correct code")
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(folder / FALSE_BLOCK_PLOT)
        plt.close(fig)
        written.append(FALSE_BLOCK_PLOT)
    return written
