"""`codeward eval passk`: execute a samples file and report pass@k with 95% bootstrap CIs over tasks."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codeward.eval.cmd_common import add_exec_flags, add_run_flags, positive_ints

COMMAND = "passk"
DEFAULT_KS = [1, 10, 100]


def register(subparsers: Any) -> None:
    """Add `eval passk` to the `eval` command group."""
    p = subparsers.add_parser(
        COMMAND, help="pass@k of a samples file, executed in the sandbox", description=__doc__
    )
    add_exec_flags(p)
    p.add_argument(
        "-k",
        type=positive_ints,
        default=DEFAULT_KS,
        metavar="K[,K...]",
        help="k values (default 1,10,100); reported only where every task has n >= k",
    )
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute (resumably), compute metrics, write results.json and report.md, print pass@k."""
    from codeward.eval.cmd_common import open_folder, prepare, results_document, run_samples
    from codeward.eval.exec_rows import result_counts, top_results
    from codeward.eval.report import render
    from codeward.eval.runfolder import REPORT, RESULTS
    from codeward.eval.stats import metrics_from_rows

    ks = sorted(set(args.k))
    ctx = prepare(args, COMMAND, {"k": ks})
    folder = open_folder(args, COMMAND, ctx)
    rows = run_samples(args, ctx, folder)
    ev = ctx.settings.eval
    metrics = metrics_from_rows(rows, ks, ev.bootstrap_samples, ev.bootstrap_seed)
    for m in metrics:
        m.update(
            {
                k: v
                for k, v in result_counts(
                    r
                    for r in rows
                    if (r["model"], r["temperature"], r["arm"]) == (m["model"], m["temperature"], m["arm"])
                ).items()
                if k != "passed"
            }
        )
    results = results_document(ctx, metrics)
    notes = [
        f"pass@{k} not reported for a group whose smallest per-task n is below {k}"
        for k in ks
        if any(f"pass@{k}" not in m for m in metrics)
    ]
    notes.append(
        f"95% CIs: percentile bootstrap over tasks, {ev.bootstrap_samples} resamples, "
        f"seed {ev.bootstrap_seed}"
    )
    folder.write_json(RESULTS, results)
    folder.write_text(REPORT, render("codeward eval passk", results, notes, top_results(rows)))
    for m in metrics:
        scores = ", ".join(
            f"pass@{k} = {m[f'pass@{k}']:.4f} [{m[f'pass@{k}_ci95'][0]:.3f}, {m[f'pass@{k}_ci95'][1]:.3f}]"
            for k in ks
            if f"pass@{k}" in m
        )
        label = "/".join(str(v) for v in (m["model"], m["temperature"], m["arm"]) if v is not None)
        print(f"{label}: {scores or 'no k <= n'} ({m['tasks']} tasks, {m['samples']} samples)")
    for note in notes[:-1]:  # the skipped k values; the CI note is for the report only
        print(f"note: {note} (sample more per task, or lower -k)", file=sys.stderr)
    errors = sum(m.get("harness_errors", 0) for m in metrics)
    if errors:
        print(f"warning: {errors} harness errors left out of pass@k; --resume re-runs them", file=sys.stderr)
    print(f"isolation {ctx.isolation.level}; run folder {folder.path}")
    return 0
