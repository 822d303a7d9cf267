"""`codeward eval exec`: execute a samples file in the sandbox, nothing else (exec.jsonl + a summary)."""

from __future__ import annotations

import argparse
from typing import Any

from codeward.eval.commands.common import add_exec_flags, add_run_flags

COMMAND = "exec"


def register(subparsers: Any) -> None:
    """Add `eval exec` to the `eval` command group."""
    p = subparsers.add_parser(
        COMMAND, help="execute a samples file in the sandbox (writes exec.jsonl)", description=__doc__
    )
    add_exec_flags(p)
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute, then write results.json (counts per model/temperature/arm) and report.md."""
    from codeward.eval.commands.common import open_folder, prepare, results_document, run_samples
    from codeward.eval.exec_rows import result_counts, top_results
    from codeward.eval.report import render
    from codeward.eval.runfolder import REPORT, RESULTS
    from codeward.eval.stats import group_counts

    ctx = prepare(args, COMMAND)
    folder = open_folder(args, COMMAND, ctx)
    rows = run_samples(args, ctx, folder)
    metrics = []
    for (model, temp, arm), tasks in group_counts(rows).items():
        mine = [r for r in rows if (r["model"], r["temperature"], r["arm"]) == (model, temp, arm)]
        metrics.append(
            {
                "model": model,
                "temperature": temp,
                "arm": arm,
                "tasks": len(tasks),
                "samples": len(mine),
                **result_counts(mine),
            }
        )
    results = results_document(ctx, metrics)
    folder.write_json(RESULTS, results)
    folder.write_text(REPORT, render("codeward eval exec", results, failures=top_results(rows)))
    counts = result_counts(rows)
    print(
        f"executed {len(rows)} samples: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['timed_out']} timed out, {counts['killed']} killed, {counts['harness_errors']} harness "
        f"errors; isolation {ctx.isolation.level}; "
        f"run folder {folder.path}"
    )
    return 0
