"""`codeward eval passk`: pass@k with 95% bootstrap CIs over tasks, of a samples file (--samples) or of samples
the model draws now through the completion pipeline (n per task, a temperature sweep with --temperature 0.2,0.8);
with several samples per task also the ranking analysis (Codex Fig. 7), with two temperatures the sweep."""

from __future__ import annotations

import argparse
from typing import Any

from codeward.eval.commands.common import add_exec_flags, add_run_flags, positive_ints
from codeward.eval.commands.sampling import add_sampling_flags
from codeward.flags import ENGINE_FLAG_KEYS

COMMAND = "passk"
DEFAULT_KS = [1, 10, 100]


def register(subparsers: Any) -> None:
    """Add `eval passk` to the `eval` command group."""
    from codeward.eval.commands import SAMPLING_PRECEDENCE

    p = subparsers.add_parser(
        COMMAND, help="sample the model (or read --samples), execute in the sandbox, pass@k", description=__doc__,
        epilog=SAMPLING_PRECEDENCE
    )
    add_exec_flags(p, samples_required=False)
    add_sampling_flags(p)
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
    """Sample (unless --samples), execute (resumably), compute metrics and analyses, write results.json,
    report.md and the plots, print pass@k."""
    from codeward.eval.commands.common import open_folder, prepare, run_samples
    from codeward.eval.commands.sampling import grade, plan_from_args, sample_and_load, sampling_setup

    ks = sorted(set(args.k))
    if args.samples:
        _refuse_sampling_flags(args)
    ctx = prepare(args, COMMAND, {"k": ks})
    plan = task_ids = None
    if not args.samples:
        plan = plan_from_args(args, ctx.settings)
        task_ids = sampling_setup(args, ctx, plan)
    folder = open_folder(args, COMMAND, ctx)
    throughput = None
    if plan is not None and task_ids is not None:
        throughput = sample_and_load(args, ctx, folder, plan, task_ids)
    rows = run_samples(args, ctx, folder)
    grade(ctx, folder, rows, ks, "codeward eval passk", throughput)
    return 0


SAMPLING_FLAGS = (*ENGINE_FLAG_KEYS, "template", "limit", "tasks", "raw")


def _refuse_sampling_flags(args: argparse.Namespace) -> None:
    """--samples executes an existing file: flags that only shape sampling would be silently ignored."""
    from codeward.flags import die

    given = [f"--{f.replace('_', '-')}" if f != "n" else "-n" for f in SAMPLING_FLAGS
             if getattr(args, f, None) not in (None, False)]
    if given:
        die(f"--samples executes an existing samples file, so {', '.join(given)} would be ignored; drop them, or "
            "drop --samples to let the model sample the tasks")
