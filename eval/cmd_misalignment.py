"""`codeward eval misalignment`: does buggy context make the model write worse code than it can? The same tasks
with clean and with buggy prompts, through the completion pipeline in function-completion mode; pass@k per arm and
the gap with a paired CI and test, and the likelihood gap (the reference completion's log-prob under each arm).

Protocol of this release: `pairs` (`--data FILE` of ready-made clean/buggy prompt pairs: task_id, clean_prompt,
buggy_prompt, entry_point, test, optional instance_id and reference_completion).
"""

from __future__ import annotations

import argparse
from typing import Any

from codeward.eval.cmd_common import add_exec_flags, add_run_flags, positive_ints
from codeward.eval.cmd_sampling import add_sampling_flags

COMMAND = "misalignment"
MEASURES = ("passk", "likelihood")


def _measures(text: str) -> list[str]:
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MEASURES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"measures are a comma list of {', '.join(MEASURES)}; got {text!r}")
    return list(dict.fromkeys(chosen))


def register(subparsers: Any) -> None:
    """Add `eval misalignment` to the `eval` command group."""
    p = subparsers.add_parser(COMMAND, help="clean vs buggy prompts: the pass-rate and likelihood gaps",
                              description=__doc__)
    p.add_argument("--protocol", choices=("pairs",), default="pairs", help="how the arms are made (pairs: --data)")
    p.add_argument("--measures", type=_measures, default=list(MEASURES), metavar="M[,M]",
                   help="passk (sample and execute), likelihood (score the reference completions; no generation)")
    add_exec_flags(p, samples_required=False)
    add_sampling_flags(p, raw=False)
    p.add_argument("-k", type=positive_ints, default=[1, 10], metavar="K[,K...]", help="k values (default 1,10)")
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sample each arm, score the references, execute, and report the arms and their gaps."""
    from codeward.cli.common import die
    from codeward.eval.cmd_common import open_folder, prepare, run_samples
    from codeward.eval.cmd_sampling import grade, plan_from_args, sampling_setup
    from codeward.eval.jsonl import DataError
    from codeward.eval.misalignment import load_pairs

    if not args.data:
        die("eval misalignment --protocol pairs needs --data FILE: JSONL(.gz) rows with task_id, clean_prompt, "
            "buggy_prompt, entry_point, test (optional instance_id, reference_completion)")
    try:
        tasks = load_pairs(args.data)
    except DataError as exc:
        die(str(exc))
    ks = sorted(set(args.k))
    ctx = prepare(args, COMMAND, {"k": ks, "protocol": args.protocol, "measures": args.measures,
                                  "arms": list(tasks.arms)}, loader=lambda _path: tasks.arms["clean"])
    unknown_arms = sorted({s.arm for s in ctx.samples} - set(tasks.arms))
    if unknown_arms:
        die(f"{args.samples}: arms {', '.join(unknown_arms)} are not arms of this protocol ({', '.join(tasks.arms)})")
    ctx.program_of = lambda s: tasks.program(s.arm, s.task_id, s.completion)
    plan = task_ids = None
    if not args.samples:
        plan = plan_from_args(args, ctx.settings)
        task_ids = sampling_setup(args, ctx, plan)
    folder = open_folder(args, COMMAND, ctx)
    extra: dict[str, Any] = {}
    throughput = None
    if plan is not None and task_ids is not None:
        throughput, extra = _generate(args, ctx, folder, plan, task_ids, tasks)
    rows = run_samples(args, ctx, folder) if ctx.samples else []
    extra["comparisons"] = _pass_gaps(rows, ks, ctx.settings.eval) + extra.pop("likelihood_gaps", [])
    results = grade(ctx, folder, rows, ks, "codeward eval misalignment", throughput, extra)
    for c in results["comparisons"]:
        print(f"gap {c['name']} {c['metric']} (T={c.get('temperature')}): {c['diff']:+.4f} "
              f"[{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}], p = {c['p_value']:.3f} ({c['test']}, {c['tasks']} tasks)")
    return 0


def _generate(args: argparse.Namespace, ctx: Any, folder: Any, plan: Any, task_ids: list[str],
              tasks: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Sample every arm (passk) and score the references (likelihood) with one engine; the throughput and the
    likelihood sections of results.json."""
    from codeward.cli.common import die
    from codeward.completion.pipeline import Pipeline
    from codeward.eval.cmd_sampling import load_engine, say_interrupted, throughput_of
    from codeward.eval.datasets import load_samples
    from codeward.eval.generate import eval_pipeline_settings, sample_run
    from codeward.eval.jsonl import DataError
    from codeward.eval.misalignment import LIKELIHOOD_FILE, likelihood_summary, score_references
    from codeward.eval.runfolder import SAMPLES

    extra: dict[str, Any] = {}
    throughput = None
    engine = load_engine(ctx.settings)
    try:
        if "passk" in args.measures:
            for arm, problems in tasks.arms.items():
                sample_run(engine, ctx.settings.pipeline(), plan, problems, task_ids, folder.file(SAMPLES), arm=arm,
                           progress=not args.no_progress)
            throughput = throughput_of(folder.file(SAMPLES))
        if "likelihood" in args.measures:
            base = eval_pipeline_settings(ctx.settings.pipeline(), plan, plan.temperatures[0])
            rows = score_references(Pipeline(base, engine), tasks, task_ids, folder.file(LIKELIHOOD_FILE),
                                    progress=not args.no_progress)
            ev = ctx.settings.eval
            means, gaps = likelihood_summary(rows, "clean", ev.bootstrap_samples, ev.bootstrap_seed)
            extra.update(likelihood=means, likelihood_gaps=gaps)
    except KeyboardInterrupt:
        say_interrupted(folder)
        raise
    finally:
        engine.close()
    if "passk" in args.measures:
        try:
            ctx.samples = load_samples(folder.file(SAMPLES), tasks.arms["clean"])
        except DataError as exc:
            die(str(exc))
    return throughput, extra


def _pass_gaps(rows: list[dict[str, Any]], ks: list[int], ev: Any) -> list[dict[str, Any]]:
    """clean - buggy pass@k per (model, temperature), paired over tasks: a bootstrap CI, and McNemar's exact test
    at n = 1 (a sign-flip permutation test on per-task pass rates otherwise)."""
    from codeward.eval.misalignment import mcnemar_p
    from codeward.eval.stats import group_counts, paired_comparison, valid_ks

    counts = group_counts(rows)
    out = []
    for (model, temp, arm), clean in sorted(counts.items(), key=lambda g: (str(g[0][0]), str(g[0][1]))):
        buggy = counts.get((model, temp, "buggy"))
        if arm != "clean" or buggy is None:
            continue
        for k in valid_ks({**clean, **buggy}, ks):
            cmp = paired_comparison(clean, buggy, k, ev.bootstrap_samples, ev.bootstrap_seed, name="clean-buggy",
                                    model=model, temperature=temp)
            cmp["test"] = "permutation"
            if all(n == 1 for n, _ in [*clean.values(), *buggy.values()]):
                shared = [t for t in clean if t in buggy]
                cmp["p_value"] = mcnemar_p([clean[t][1] > 0 for t in shared], [buggy[t][1] > 0 for t in shared])
                cmp["test"] = "mcnemar"
            out.append(cmp)
    return out
