"""`codeward eval misalignment`: does buggy context make the model write worse code than it can? The same tasks
with clean and with buggy prompts, through the completion pipeline in function-completion mode; pass@k per arm and
the gap with a paired CI and test, the likelihood gap (the reference completion's log-prob under each arm) and near
misses (failing completions one mutation away from passing).

Protocols: `codex-contexts` (`--data DIR` with the paper's new_good_contexts / new_bad_contexts files; arms good,
none, bad), `mutated-contexts` (k other tasks' solutions before the target, as written or each with one injected
bug; `--data FILE` of tasks with canonical solutions, default HumanEval; arms good, none, bad) and `pairs` (`--data
FILE` of ready-made clean/buggy prompt pairs: task_id, clean_prompt, buggy_prompt, entry_point, test, optional
instance_id and reference_completion; arms clean, buggy). The target task alone is executed. `--mitigation
instruct` adds ARM+instruct arms; several `--model`s compare sizes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from codeward.eval.commands.common import add_exec_flags, add_run_flags, positive_ints
from codeward.eval.commands.sampling import add_sampling_flags

COMMAND = "misalignment"
MEASURES = ("passk", "likelihood", "near-miss")
MITIGATIONS = ("instruct", "exclude")
# The gaps each protocol reports: (better-if-aligned arm, buggy arm).
GAPS = {"codex-contexts": (("good", "bad"), ("none", "bad")), "mutated-contexts": (("good", "bad"), ("none", "bad")),
        "pairs": (("clean", "buggy"),)}


def _choices(allowed: tuple[str, ...], what: str) -> Any:
    def parse(text: str) -> list[str]:
        chosen = [m.strip() for m in text.split(",") if m.strip()]
        unknown = [m for m in chosen if m not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"{what} are a comma list of {', '.join(allowed)}; got {text!r}")
        return list(dict.fromkeys(chosen))

    return parse


def _model_params(text: str) -> tuple[str, int]:
    name, _, count = text.rpartition("=")
    try:
        value = int(float(count))
    except (ValueError, OverflowError):
        value = 0
    if not name or value <= 0:
        raise argparse.ArgumentTypeError(f"expected NAME=COUNT (e.g. my-model=7e9), got {text!r}")
    return name, value


def register(subparsers: Any) -> None:
    """Add `eval misalignment` to the `eval` command group."""
    from codeward.eval.commands import SAMPLING_PRECEDENCE

    p = subparsers.add_parser(COMMAND, help="clean vs buggy prompts: the pass-rate and likelihood gaps",
                              description=__doc__, epilog=SAMPLING_PRECEDENCE)
    p.add_argument("--protocol", choices=tuple(GAPS), default="codex-contexts",
                   help="how the arms are made: codex-contexts (--data DIR), mutated-contexts (--data FILE of "
                   "tasks, default HumanEval), pairs (--data FILE)")
    p.add_argument("--prompts-per-task", type=int, default=3, metavar="K",
                   help="codex-contexts: pool the first K of each task's three prompts (default 3)")
    p.add_argument("--context-functions", type=int, default=3, metavar="K",
                   help="mutated-contexts: other tasks' functions before the target (default 3)")
    p.add_argument("--context-seed", type=int, default=0, metavar="S",
                   help="mutated-contexts: seed of the choice of context functions and bugs (default 0; separate "
                   "from the sampling --seed)")
    p.add_argument("--measures", type=_choices(MEASURES, "measures"), default=list(MEASURES), metavar="M[,M]",
                   help="passk (sample and execute), likelihood (score the reference completions; no generation), "
                   "near-miss (mutate failing completions; needs passk)")
    p.add_argument("--near-miss-budget", type=int, default=50, metavar="N",
                   help="variants tried per failing completion (default 50)")
    p.add_argument("--mitigation", type=_choices(MITIGATIONS, "mitigations"), default=[], metavar="P[,P]",
                   help="add ARM+P arms under the pipeline's context policy P (instruct: the paper's instruction "
                   "line before the target task's prompt; exclude: likely-buggy lines of the context replaced by a "
                   "marker comment)")
    p.add_argument("--model-params", type=_model_params, action="append", default=[], metavar="NAME=COUNT",
                   help="a model's parameter count, where the engine cannot tell (openai) or to override it")
    add_exec_flags(p, samples_required=False)
    add_sampling_flags(p, raw=False, multi_model=True)
    p.add_argument("-k", type=positive_ints, default=[1, 10], metavar="K[,K...]", help="k values (default 1,10)")
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the arms, sample each with each model, score the references, execute, look for near misses, and
    report the arms and their gaps."""
    from codeward.eval.commands.common import open_folder, prepare, run_samples
    from codeward.eval.commands.sampling import grade, model_identity, plan_from_args, sampling_setup
    from codeward.eval.misalignment.codex_contexts import NORMALISATION
    from codeward.eval.misalignment.runs import arm_gaps, pass_gaps
    from codeward.flags import die

    _check_flags(args)
    if args.samples and "likelihood" in args.measures:
        print("codeward: note: --samples executes a samples file without loading a model, so the likelihood "
              "measure is skipped", file=sys.stderr)
    mutated = args.protocol == "mutated-contexts"
    tasks = None if mutated else _load_tasks(args)
    arm_names = list(tasks.arms) if tasks is not None else ["good", "none", "bad"]
    arm_names += [f"{a}+{p}" for p in args.mitigation for a in list(arm_names)]
    ks = sorted(set(args.k))
    extra_config: dict[str, Any] = {"k": ks, "protocol": args.protocol, "measures": args.measures, "arms": arm_names,
                                    "mitigations": args.mitigation}
    if tasks is not None:
        extra_config["prompts_per_task"] = {a: tasks.prompts_per_task(a) for a in tasks.arms}
    if args.protocol == "codex-contexts":
        extra_config["normalisation"] = NORMALISATION
    if mutated:
        extra_config.update(context_functions=args.context_functions, context_seed=args.context_seed)
    if "near-miss" in args.measures:
        extra_config["near_miss_budget"] = args.near_miss_budget
    if args.mitigation:
        extra_config["instruct_anchor"] = "task"
    loader = None if mutated else (lambda _path: tasks.first(next(iter(tasks.arms))))
    # what runs code: pass@k and near misses execute samples; mutated contexts check their bugs in the sandbox
    executes = mutated or bool(args.samples) or bool({"passk", "near-miss"} & set(args.measures))
    ctx = prepare(args, COMMAND, extra_config, loader=loader, executes=executes)
    specs = args.model or [None]
    model_settings = [_settings_for_model(ctx.settings, spec) for spec in specs]
    ctx.settings = model_settings[0]
    plan = task_ids = None
    if not args.samples:
        plan = plan_from_args(args, ctx.settings)
        task_ids = sampling_setup(args, ctx, plan)
        ctx.config["models"] = [model_identity(s) for s in model_settings]
    if mutated:
        if task_ids is None:
            wanted = {s.task_id for s in ctx.samples}
            task_ids = [t for t in ctx.problems if t in wanted]
        from codeward.eval.misalignment.mutated_contexts import CONTEXTS_FILE, context_rows

        tasks, choices = _build_mutated(args, ctx, task_ids)
        contexts = context_rows(tasks, choices)
        # a resumed run must see the contexts its samples saw (the sandbox decides which mutants are bugs)
        ctx.config["contexts_sha256"] = _digest(contexts)
    tasks = tasks.with_mitigations(args.mitigation)
    unknown_arms = sorted({s.arm for s in ctx.samples} - set(tasks.arms))
    if unknown_arms:
        die(f"{args.samples}: arms {', '.join(unknown_arms)} are not arms of this run ({', '.join(tasks.arms)})")
    ctx.program_of = lambda s: tasks.program(s.arm, s.task_id, s.completion)
    folder = open_folder(args, COMMAND, ctx)
    if mutated:
        folder.write_text(CONTEXTS_FILE, "".join(_json_line(r) for r in contexts))
    gaps = arm_gaps(GAPS[args.protocol], args.mitigation)
    extra: dict[str, Any] = {"models": [{"name": name, "n_params": count, "source": "--model-params"}
                                        for name, count in args.model_params]}
    throughput = None
    if plan is not None and task_ids is not None:
        throughput = _generate(args, ctx, folder, plan, task_ids, tasks, gaps, model_settings, extra)
    rows = run_samples(args, ctx, folder) if ctx.samples else []
    if "near-miss" in args.measures and rows:
        extra["near_miss"] = _near_misses(args, ctx, folder, rows, tasks)
    extra["comparisons"] = pass_gaps(rows, ks, ctx.settings.eval, gaps) + extra.pop("likelihood_gaps", [])
    results = grade(ctx, folder, rows, ks, "codeward eval misalignment", throughput, extra)
    for c in results["comparisons"]:
        print(f"gap {c['name']} {c['metric']} ({c.get('model')}, T={c.get('temperature')}): {c['diff']:+.4f} "
              f"[{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}], p = {c['p_value']:.3f} ({c['test']}, {c['tasks']} tasks)")
    for r in results.get("near_miss") or []:
        print(f"near misses {r['model']}/{r['arm']}: {r['near_misses']} of {r['failing']} failing "
              f"({r['share']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}])")
    return 0


def _digest(rows: list[dict[str, Any]]) -> str:
    import hashlib

    return hashlib.sha256("".join(_json_line(r) for r in rows).encode("utf-8")).hexdigest()


def _json_line(row: dict[str, Any]) -> str:
    import json

    return json.dumps(row, ensure_ascii=False) + "\n"


def _check_flags(args: argparse.Namespace) -> None:
    """Flag combinations that cannot work, refused before anything is loaded."""
    from codeward.flags import die

    if args.prompts_per_task < 1:
        die(f"--prompts-per-task must be at least 1, got {args.prompts_per_task}")
    if args.context_functions < 1:
        die(f"--context-functions must be at least 1, got {args.context_functions}")
    if args.near_miss_budget < 1:
        die(f"--near-miss-budget must be at least 1, got {args.near_miss_budget}")
    if "near-miss" in args.measures and "passk" not in args.measures and not args.samples:
        die("--measures near-miss mutates the failing completions of the passk measure: add passk (or give "
            "--samples)")
    if args.samples and args.model and len(args.model) > 1:
        die("--samples executes a given samples file; several --model values only make sense when sampling")
    labels = [m.partition("@")[0] if "@" in m else m for m in args.model or []]
    if len(set(labels)) < len(labels):
        die(f"--model: two models would be reported under one name ({', '.join(args.model)}); each needs its own "
            "name (NAME@BASE_URL with the openai engine)")


def _settings_for_model(settings: Any, spec: str | None) -> Any:
    """The settings with `spec` as the engine's model (`NAME@BASE_URL` with the openai engine)."""
    from codeward.flags import die

    if spec is None:
        return settings
    engine = replace(settings.engine, model=spec)
    if "@" in spec and settings.engine.engine == "openai":
        name, _, url = spec.partition("@")
        if not name or not url.startswith(("http://", "https://")):
            die(f"--model {spec!r}: with the openai engine write NAME@BASE_URL, e.g. qwen@http://127.0.0.1:8000/v1")
        engine = replace(engine, model=name, base_url=url)
    return replace(settings, engine=engine)


def _load_tasks(args: argparse.Namespace) -> Any:
    """The arms of the codex-contexts or pairs protocol from --data; exits with the loader's message on bad data."""
    from codeward.eval.datasets import humaneval_path, load_problems
    from codeward.eval.jsonl import DataError
    from codeward.eval.misalignment.codex_contexts import load_codex_contexts
    from codeward.eval.misalignment.runs import load_pairs
    from codeward.flags import die

    if not args.data:
        if args.protocol == "pairs":
            die("eval misalignment --protocol pairs needs --data FILE: JSONL(.gz) rows with task_id, clean_prompt, "
                "buggy_prompt, entry_point, test (optional instance_id, reference_completion)")
        die("eval misalignment --protocol codex-contexts needs --data DIR: the folder with new_good_contexts."
            "jsonl.gz and new_bad_contexts.jsonl.gz (alignment/bad_contexts/ of the code-align-evals-data "
            "repository)")
    try:
        if args.protocol == "pairs":
            return load_pairs(args.data)
        return load_codex_contexts(args.data, load_problems(humaneval_path()), args.prompts_per_task)
    except DataError as exc:
        die(str(exc))


def _build_mutated(args: argparse.Namespace, ctx: Any, task_ids: list[str]) -> Any:
    """The mutated-contexts arms for `task_ids`, their bugs checked in the sandbox."""
    from codeward.eval.jsonl import DataError
    from codeward.eval.misalignment.mutated_contexts import build_mutated_contexts, sandbox_runner
    from codeward.flags import die
    from codeward.sandbox.workers import SandboxPool

    missing = [t for t in task_ids if not ctx.problems[t].canonical_solution]
    if missing:
        die(f"mutated-contexts needs canonical solutions (the likelihood reference and the context functions); "
            f"{', '.join(missing[:5])} of {ctx.config['data']} have none")
    try:
        with SandboxPool(ctx.sandbox, ctx.workers, ctx.isolation) as pool:
            return build_mutated_contexts(ctx.problems, task_ids, args.context_functions, args.context_seed,
                                          sandbox_runner(pool, wrong_answers_only=True),
                                          progress=not args.no_progress)
    except DataError as exc:
        die(str(exc))


def arm_settings(base: Any, plan: Any, temperature: float | None, arm: str) -> Any:
    """The pipeline settings of an arm: function completion at `temperature`, with the arm's context policy (the
    instruct policy anchored at the target task's start, the paper's placement)."""
    from codeward.eval.generate import eval_pipeline_settings
    from codeward.eval.misalignment.runs import policy_of

    settings = eval_pipeline_settings(base, plan, temperature)
    policy = policy_of(arm)
    if policy == "none":
        return settings
    return replace(settings, context=replace(settings.context, policy=policy, instruct_anchor="task"))


def _generate(args: argparse.Namespace, ctx: Any, folder: Any, plan: Any, task_ids: list[str], tasks: Any,
              gaps: Any, model_settings: list[Any], extra: dict[str, Any]) -> dict[str, Any] | None:
    """Sample every arm (passk) and score the references (likelihood) with each model in turn; fills the
    likelihood, context and model sections of `extra`; the throughput. A task's prompts in an arm are pooled:
    prompt i gives its samples the indices i*n .. i*n + n - 1."""
    from codeward.completion.pipeline import Pipeline
    from codeward.eval.commands.sampling import load_engine, say_interrupted, throughput_of
    from codeward.eval.datasets import load_samples
    from codeward.eval.generate import sample_run, sample_task
    from codeward.eval.jsonl import DataError
    from codeward.eval.misalignment.runs import (
        LIKELIHOOD_FILE,
        check_contexts,
        likelihood_summary,
        score_references,
    )
    from codeward.eval.runfolder import SAMPLES
    from codeward.flags import die

    given = dict(args.model_params)
    likelihood_rows: list[dict[str, Any]] = []
    for i, settings in enumerate(model_settings):
        if len(model_settings) > 1:
            print(f"codeward: model {i + 1} of {len(model_settings)}: {settings.engine.model}", file=sys.stderr)
        engine = load_engine(settings)
        base = settings.pipeline()
        label = engine.info.model
        count = given.get(label, given.get(settings.engine.model, engine.info.n_params))
        extra["models"] = [m for m in extra["models"] if m["name"] not in (label, settings.engine.model)]
        extra["models"].append({"name": label, "n_params": count,
                                "source": "--model-params" if count != engine.info.n_params else "engine"})
        try:
            extra["context"], cut = check_contexts(engine, tasks, task_ids,
                                                   lambda arm, base=base: arm_settings(base, plan, None, arm).context)
            if cut:
                die(f"{len(cut)} prompts of this run would be cut by the prefix budget of "
                    f"{extra['context']['prefix_budget_tokens']} tokens (the first: {cut[0]}); cutting a context "
                    "changes the experiment: choose tasks that fit (--limit, --tasks), or shorten those prompts")
            for arm, c in extra["context"].get("policy_changes", {}).items():
                print(f"codeward: {arm}: the policy changed {c['changed']} of {c['prompts']} prompts "
                      f"({c['elided_lines']} lines elided)", file=sys.stderr)
            if "passk" in args.measures:
                for arm, variants in tasks.arms.items():
                    def pooled(pipeline: Any, problem: Any, seed: int, arm: str = arm, variants: Any = variants) -> list:
                        rows = []
                        for j, prompt in enumerate(variants[problem.task_id]):
                            for row in sample_task(pipeline, prompt, arm, seed + j):
                                rows.append({**row, "sample_idx": j * plan.n + row["sample_idx"], "prompt_index": j})
                        return rows

                    sample_run(engine, base, replace(plan, n=plan.n * tasks.prompts_per_task(arm)), tasks.first(arm),
                               task_ids, folder.file(SAMPLES), arm=arm, progress=not args.no_progress,
                               make_rows=pooled,
                               settings_for=lambda t, arm=arm, base=base: arm_settings(base, plan, t, arm))
            if "likelihood" in args.measures:
                pipelines: dict[str, Any] = {}

                def pipeline_for(arm: str, engine: Any = engine, base: Any = base, pipelines: Any = pipelines) -> Any:
                    if arm not in pipelines:
                        pipelines[arm] = Pipeline(arm_settings(base, plan, plan.temperatures[0], arm), engine)
                    return pipelines[arm]

                likelihood_rows += score_references(pipeline_for, tasks, task_ids, folder.file(LIKELIHOOD_FILE),
                                                    progress=not args.no_progress)
        except KeyboardInterrupt:
            say_interrupted(folder)
            raise
        finally:
            engine.close()
    if "likelihood" in args.measures and not likelihood_rows:
        print("codeward: note: no likelihood gap: no task of this run has a reference completion (pairs rows need "
              "reference_completion)", file=sys.stderr)
    if likelihood_rows:
        ev = ctx.settings.eval
        means, likelihood_gaps = likelihood_summary(likelihood_rows, gaps, ev.bootstrap_samples, ev.bootstrap_seed)
        extra.update(likelihood=means, likelihood_gaps=likelihood_gaps)
    if "passk" not in args.measures:
        return None
    try:
        ctx.samples = load_samples(folder.file(SAMPLES), tasks.first(next(iter(tasks.arms))))
    except DataError as exc:
        die(str(exc))
    return throughput_of(folder.file(SAMPLES))


def _near_misses(args: argparse.Namespace, ctx: Any, folder: Any, rows: list[dict[str, Any]],
                 tasks: Any) -> list[dict[str, Any]]:
    """Near misses among the failing samples, per (model, temperature, arm)."""
    from codeward.eval.misalignment.mutated_contexts import sandbox_runner
    from codeward.eval.misalignment.near_miss import KEY, NEAR_MISS_FILE, find_near_misses, near_miss_summary
    from codeward.sandbox.workers import SandboxPool, is_harness_error

    failed = {tuple(r.get(k) for k in KEY) for r in rows if not r["passed"] and not is_harness_error(r["result"])}
    failing = [{"model": s.model, "temperature": s.temperature, "arm": s.arm, "task_id": s.task_id,
                "sample_idx": s.sample_idx, "completion": s.completion} for s in ctx.samples
               if (s.model, s.temperature, s.arm, s.task_id, s.sample_idx) in failed]

    def executed(sample: dict[str, Any]) -> Any:
        if tasks.executed is not None:
            return tasks.executed[sample["task_id"]]
        return tasks.arms[sample["arm"]][sample["task_id"]][0]

    with SandboxPool(ctx.sandbox, ctx.workers, ctx.isolation) as pool:
        found = find_near_misses(failing, lambda s: executed(s).prompt,
                                 lambda s, completion: tasks.program(s["arm"], s["task_id"], completion),
                                 sandbox_runner(pool, harness_error_passes=False), args.near_miss_budget,
                                 ctx.settings.eval.seed,
                                 folder.file(NEAR_MISS_FILE), progress=not args.no_progress)
    return near_miss_summary(found, args.near_miss_budget)
