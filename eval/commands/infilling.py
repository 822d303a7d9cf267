"""`codeward eval infilling --data FILE`: HumanEval-Infilling through the completion pipeline, as the editor fills
a hole between the code above and below the cursor; pass@k per kind (single-line, multi-line, random-span).

The editor's own settings decide everything (template, context budgets, mode, stops, postprocess filters,
sampling: greedy by default); the engine flags, --template and --mode override them for the run.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from codeward.eval.commands.common import add_exec_flags, add_run_flags, positive_ints
from codeward.eval.commands.sampling import add_sampling_flags

COMMAND = "infilling"
EDITOR_KEYS = ("mode", "stop_preset", "max_lines", "min_chars")


def register(subparsers: Any) -> None:
    """Add `eval infilling` to the `eval` command group."""
    from codeward.eval.commands import EDITOR_SAMPLING

    p = subparsers.add_parser(COMMAND, help="fill-in-the-middle (HumanEval-Infilling) through the editor's pipeline",
                              description=__doc__, epilog=EDITOR_SAMPLING)
    add_exec_flags(p, samples_required=False)
    add_sampling_flags(p, raw=False, editor=True)
    p.add_argument("--mode", choices=("auto", "single", "multi"),
                   help="suggestion shape (completion.mode; auto: multi-line only in a new block, as the editor)")
    p.add_argument("-k", type=positive_ints, default=[1, 10, 100], metavar="K[,K...]",
                   help="k values (default 1,10,100); reported only where every task has n >= k")
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sample the middles (unless --samples), execute prefix + middle + suffix + tests, report per kind."""
    from codeward.eval.commands.common import open_folder, prepare, run_samples
    from codeward.eval.commands.sampling import grade, plan_from_args, sample_and_load, sampling_setup
    from codeward.eval.passk.infilling import infill_pipeline_settings, infill_rows, task_kind
    from codeward.flags import die

    if not args.data:
        die("eval infilling needs --data FILE: a HumanEval-Infilling JSONL(.gz) with task_id, prompt (prefix), "
            "suffix, canonical_solution (middle), test, entry_point (e.g. HumanEval-SingleLineInfilling.jsonl.gz "
            "from github.com/openai/human-eval-infilling)")
    ks = sorted(set(args.k))
    ctx = prepare(args, COMMAND, {"k": ks})
    if not any(p.suffix for p in ctx.problems.values()):
        die(f"{args.data}: no task has a 'suffix'; this is not an infilling data set (for HumanEval use "
            "`codeward eval passk`)")
    plan = task_ids = None
    if not args.samples:
        plan = plan_from_args(args, ctx.settings, editor=True)
        task_ids = sampling_setup(args, ctx, plan, mode=args.mode or ctx.settings.completion.mode)
    # The editor settings that shape the prompts (budgets, policy, mode): runs that differ in them are different.
    ctx.config["editor"] = {"context": asdict(ctx.settings.context),
                            "completion": {k: getattr(ctx.settings.completion, k) for k in EDITOR_KEYS}}
    folder = open_folder(args, COMMAND, ctx)
    throughput = None
    if plan is not None and task_ids is not None:
        base, chosen = ctx.settings.pipeline(), plan
        throughput = sample_and_load(
            args, ctx, folder, plan, task_ids, arm=task_kind, make_rows=infill_rows,
            settings_for=lambda t: infill_pipeline_settings(base, chosen, t, args.mode))
    rows = run_samples(args, ctx, folder)
    grade(ctx, folder, rows, ks, "codeward eval infilling", throughput)
    return 0
