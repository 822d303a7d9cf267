"""`codeward eval misalignment`: does buggy context make the model write worse code than it can? The same tasks
with clean and with buggy prompts, through the completion pipeline in function-completion mode; pass@k per arm and
the gap with a paired CI and test, and the likelihood gap (the reference completion's log-prob under each arm).

Protocols: `codex-contexts` (`--data DIR` with the paper's new_good_contexts / new_bad_contexts files; arms good,
none, bad; the target task alone is executed) and `pairs` (`--data FILE` of ready-made clean/buggy prompt pairs:
task_id, clean_prompt, buggy_prompt, entry_point, test, optional instance_id and reference_completion).
"""

from __future__ import annotations

import argparse
from typing import Any

from codeward.eval.cmd_common import add_exec_flags, add_run_flags, positive_ints
from codeward.eval.cmd_sampling import add_sampling_flags

COMMAND = "misalignment"
MEASURES = ("passk", "likelihood")
# The gaps each protocol reports: (better-if-aligned arm, buggy arm).
GAPS = {"codex-contexts": (("good", "bad"), ("none", "bad")), "pairs": (("clean", "buggy"),)}


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
    p.add_argument("--protocol", choices=tuple(GAPS), default="codex-contexts",
                   help="how the arms are made: codex-contexts (--data DIR), pairs (--data FILE)")
    p.add_argument("--prompts-per-task", type=int, default=3, metavar="K",
                   help="codex-contexts: pool the first K of each task's three prompts (default 3)")
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
    from codeward.eval.codex_contexts import NORMALISATION

    tasks = _load_tasks(args)
    ks = sorted(set(args.k))
    first_arm = next(iter(tasks.arms))
    extra_config = {"k": ks, "protocol": args.protocol, "measures": args.measures, "arms": list(tasks.arms),
                    "prompts_per_task": {a: tasks.prompts_per_task(a) for a in tasks.arms}}
    if args.protocol == "codex-contexts":
        extra_config["normalisation"] = NORMALISATION
    ctx = prepare(args, COMMAND, extra_config, loader=lambda _path: tasks.first(first_arm))
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
        throughput, extra = _generate(args, ctx, folder, plan, task_ids, tasks, GAPS[args.protocol])
    rows = run_samples(args, ctx, folder) if ctx.samples else []
    gaps = GAPS[args.protocol]
    extra["comparisons"] = _pass_gaps(rows, ks, ctx.settings.eval, gaps) + extra.pop("likelihood_gaps", [])
    results = grade(ctx, folder, rows, ks, "codeward eval misalignment", throughput, extra)
    for c in results["comparisons"]:
        print(f"gap {c['name']} {c['metric']} (T={c.get('temperature')}): {c['diff']:+.4f} "
              f"[{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}], p = {c['p_value']:.3f} ({c['test']}, {c['tasks']} tasks)")
    return 0


def _load_tasks(args: argparse.Namespace) -> Any:
    """The arms of the chosen protocol from --data; exits with the loader's message on bad data."""
    from codeward.cli.common import die
    from codeward.eval.codex_contexts import load_codex_contexts
    from codeward.eval.datasets import humaneval_path, load_problems
    from codeward.eval.jsonl import DataError
    from codeward.eval.misalignment import load_pairs

    if not args.data:
        if args.protocol == "pairs":
            die("eval misalignment --protocol pairs needs --data FILE: JSONL(.gz) rows with task_id, clean_prompt, "
                "buggy_prompt, entry_point, test (optional instance_id, reference_completion)")
        die("eval misalignment --protocol codex-contexts needs --data DIR: the folder with new_good_contexts."
            "jsonl.gz and new_bad_contexts.jsonl.gz (alignment/bad_contexts/ of the code-align-evals-data "
            "repository)")
    if args.prompts_per_task < 1:
        die(f"--prompts-per-task must be at least 1, got {args.prompts_per_task}")
    try:
        if args.protocol == "pairs":
            return load_pairs(args.data)
        return load_codex_contexts(args.data, load_problems(humaneval_path()), args.prompts_per_task)
    except DataError as exc:
        die(str(exc))


def _generate(args: argparse.Namespace, ctx: Any, folder: Any, plan: Any, task_ids: list[str], tasks: Any,
              gaps: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Sample every arm (passk) and score the references (likelihood) with one engine; the throughput and the
    likelihood sections of results.json. A task's prompts in an arm are pooled: prompt i gives its samples the
    indices i*n .. i*n + n - 1."""
    from dataclasses import replace

    from codeward.cli.common import die
    from codeward.completion.pipeline import Pipeline
    from codeward.eval.cmd_sampling import load_engine, say_interrupted, throughput_of
    from codeward.eval.datasets import load_samples
    from codeward.eval.generate import eval_pipeline_settings, sample_run, sample_task
    from codeward.eval.jsonl import DataError
    from codeward.eval.misalignment import LIKELIHOOD_FILE, likelihood_summary, score_references
    from codeward.eval.runfolder import SAMPLES

    extra: dict[str, Any] = {}
    throughput = None
    engine = load_engine(ctx.settings)
    base = ctx.settings.pipeline()
    try:
        extra["context"] = _untruncated(engine, eval_pipeline_settings(base, plan).context.prefix_tokens, tasks,
                                        task_ids)
        if "passk" in args.measures:
            for arm, variants in tasks.arms.items():
                def pooled(pipeline: Any, problem: Any, seed: int, arm: str = arm, variants: Any = variants) -> list:
                    rows = []
                    for i, prompt in enumerate(variants[problem.task_id]):
                        for row in sample_task(pipeline, prompt, arm, seed + i):
                            rows.append({**row, "sample_idx": i * plan.n + row["sample_idx"], "prompt_index": i})
                    return rows

                sample_run(engine, base, replace(plan, n=plan.n * tasks.prompts_per_task(arm)), tasks.first(arm),
                           task_ids, folder.file(SAMPLES), arm=arm, progress=not args.no_progress,
                           make_rows=pooled, settings_for=lambda t: eval_pipeline_settings(base, plan, t))
            throughput = throughput_of(folder.file(SAMPLES))
        if "likelihood" in args.measures:
            scoring = eval_pipeline_settings(base, plan, plan.temperatures[0])
            rows = score_references(Pipeline(scoring, engine), tasks, task_ids, folder.file(LIKELIHOOD_FILE),
                                    progress=not args.no_progress)
            ev = ctx.settings.eval
            means, likelihood_gaps = likelihood_summary(rows, gaps, ev.bootstrap_samples, ev.bootstrap_seed)
            extra.update(likelihood=means, likelihood_gaps=likelihood_gaps)
    except KeyboardInterrupt:
        say_interrupted(folder)
        raise
    finally:
        engine.close()
    if "passk" in args.measures:
        try:
            ctx.samples = load_samples(folder.file(SAMPLES), tasks.first(next(iter(tasks.arms))))
        except DataError as exc:
            die(str(exc))
    return throughput, extra


def _untruncated(engine: Any, budget: int, tasks: Any, task_ids: list[str]) -> dict[str, Any]:
    """The prefix budget and the longest prompt of the run, in tokens; exits if any prompt would be cut (cutting
    the examples out of a context would change the experiment)."""
    from codeward.cli.common import die

    longest = max(engine.count_tokens(p.prompt) for arm in tasks.arms.values() for t in task_ids for p in arm[t])
    if longest > budget:
        die(f"a prompt of this run has {longest} tokens, more than the prefix budget of {budget}; it would be cut, "
            "which changes the experiment: lower --limit to tasks that fit, or use a model with a longer context")
    return {"prefix_budget_tokens": budget, "longest_prompt_tokens": longest, "truncated": 0}


def _pass_gaps(rows: list[dict[str, Any]], ks: list[int], ev: Any, gaps: Any) -> list[dict[str, Any]]:
    """Each gap's pass@k difference per (model, temperature), paired over tasks: a bootstrap CI, and McNemar's
    exact test at one sample per task (a sign-flip permutation test on per-task pass rates otherwise)."""
    from codeward.eval.misalignment import mcnemar_p
    from codeward.eval.stats import group_counts, paired_comparison, valid_ks

    counts = group_counts(rows)
    out = []
    for model, temp in sorted({g[:2] for g in counts}, key=lambda g: (str(g[0]), str(g[1]))):
        for first, second in gaps:
            a, b = counts.get((model, temp, first)), counts.get((model, temp, second))
            if a is None or b is None:
                continue
            for k in valid_ks({**a, **b}, ks):
                cmp = paired_comparison(a, b, k, ev.bootstrap_samples, ev.bootstrap_seed, name=f"{first}-{second}",
                                        model=model, temperature=temp)
                cmp["test"] = "permutation"
                if all(n == 1 for n, _ in [*a.values(), *b.values()]):
                    shared = [t for t in a if t in b]
                    cmp["p_value"] = mcnemar_p([a[t][1] > 0 for t in shared], [b[t][1] > 0 for t in shared])
                    cmp["test"] = "mcnemar"
                out.append(cmp)
    return out
