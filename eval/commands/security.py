"""`codeward eval security --data FILE`: how often the model suggests insecure code (CyberSecEval autocomplete,
continued through the editor's pipeline, or CyberSecEval instruct, asked as a chat request), what the safety filter
removes, and what it costs.

Every sample is judged by codeward's safety engine and by CyberSecEval's own insecure-code detector (codeshield,
run out of process); the report gives both judges' insecure rates for the `raw` and `filtered` arms, overall and
per CWE, their agreement, the filter's effect, the false-block rate on correct code and, with --from-run, secure-
pass@k beside pass@k.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from codeward.eval.commands.common import add_run_flags, positive_ints
from codeward.eval.commands.sampling import add_sampling_flags

COMMAND = "security"
AUTOCOMPLETE_DOCUMENT = ("the case's code (the instruction header dropped for base/FIM templates, kept for chat "
                         "templates), then a new line indented as an editor's auto-indent; the cursor at its end")
INSTRUCT_DOCUMENT = ("the case's instruction as the user's turn of the model's chat template (ChatML without one; "
                     "samples.jsonl `template`: chat-model or chat-chatml), the answer primed with a code fence; its "
                     "code checked and judged as a new file")


def register(subparsers: Any) -> None:
    """Add `eval security` to the `eval` command group."""
    from codeward.eval.commands import EDITOR_SAMPLING

    p = subparsers.add_parser(COMMAND, help="insecure-suggestion rates raw vs filtered, false blocks, secure-pass@k",
                              description=__doc__, epilog=EDITOR_SAMPLING)
    g = p.add_argument_group("protocol")
    g.add_argument("--protocol", choices=("autocomplete", "instruct"), default="autocomplete",
                   help="autocomplete: the case's code is the buffer before the cursor (CyberSecEval autocomplete); "
                        "instruct: the case's instruction asked through the model's chat template, the answer's "
                        "code checked as a new file (CyberSecEval instruct-v2)")
    g.add_argument("--data", metavar="FILE", required=True,
                   help="CyberSecEval cases, JSONL or JSON list (e.g. autocomplete-python.jsonl: test_case_prompt, "
                        "cwe_identifier, ...)")
    g.add_argument("--judge", default="codeward,codeshield", metavar="NAME[,NAME]",
                   help="judges: codeward (the safety engine) and codeshield (CyberSecEval's detector; the "
                        "`judge` extra); default both")
    g.add_argument("--mode", choices=("auto", "single", "multi"),
                   help="suggestion shape (completion.mode; default the editor's; autocomplete only)")
    g.add_argument("--from-run", metavar="DIR",
                   help="an executed `eval passk` run: its passing samples join the false-block set and its "
                        "samples give secure-pass@k beside pass@k")
    g.add_argument("-k", type=positive_ints, default=[1, 10], metavar="K[,K...]",
                   help="k values of secure-pass@k (default 1,10; only where every task has n >= k)")
    add_sampling_flags(p, raw=False, editor=True)
    add_run_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Sample and judge every case (resumably), then write results.json, report.md and the plots."""
    from codeward.eval.commands.common import open_folder, prepare
    from codeward.eval.commands.sampling import plan_from_args, sample_and_load, sampling_setup
    from codeward.eval.jsonl import DataError
    from codeward.eval.passk.infilling import infill_pipeline_settings
    from codeward.eval.security.data import load_cases
    from codeward.eval.security.instruct import INSTRUCT_MAX_NEW_TOKENS
    from codeward.eval.security.judges import JudgeError, Judges, parse_judges
    from codeward.flags import die

    try:
        judge_names = parse_judges(args.judge)
    except ValueError as exc:
        die(str(exc))
    instruct = args.protocol == "instruct"
    if instruct and args.mode is not None:
        die("--mode shapes an autocomplete suggestion; an instruct answer is the whole code block (drop --mode)")
    if instruct and args.max_new_tokens is None:
        args.max_new_tokens = INSTRUCT_MAX_NEW_TOKENS
    cases: dict[str, Any] = {}

    def loader(path: Path) -> dict[str, Any]:
        cases.update({c.task_id: c for c in load_cases(path)})
        return {t: c.problem() for t, c in cases.items()}

    args.samples = args.timeout = args.workers = None  # nothing is executed here
    ctx = prepare(args, COMMAND, {"protocol": args.protocol, "judges": list(judge_names), "k": sorted(set(args.k))},
                  loader=loader, executes=False)
    plan = plan_from_args(args, ctx.settings, editor=True)
    task_ids = sampling_setup(args, ctx, plan, mode="instruct" if instruct else args.mode or ctx.settings.completion.mode)
    safety = ctx.settings.safety
    ctx.config.update(
        document=INSTRUCT_DOCUMENT if instruct else AUTOCOMPLETE_DOCUMENT,
        policy={k: getattr(safety, k) for k in ("enabled", "on_high", "on_medium", "on_low", "on_error",
                                                "min_severity", "min_confidence", "bandit_profile")},
        from_run=str(Path(args.from_run).resolve()) if args.from_run else None)
    try:
        judges = Judges(judge_names, replace(safety, enabled=True, min_severity="low", min_confidence="low"))
    except JudgeError as exc:
        die(str(exc))
    ctx.config["judge_versions"] = judges.versions()
    folder = open_folder(args, COMMAND, ctx)
    base, rows_of = ctx.settings.pipeline(), None
    try:
        from codeward.eval.security.autocomplete import SAMPLE_ARM, row_maker
        from codeward.eval.security.instruct import instruct_row_maker

        rows_of = (instruct_row_maker if instruct else row_maker)(cases, judges)
        throughput = sample_and_load(args, ctx, folder, plan, task_ids, arm=SAMPLE_ARM, make_rows=rows_of,
                                     settings_for=lambda t: infill_pipeline_settings(base, plan, t, args.mode))
    finally:
        judges.close()
    try:
        results = evaluate(ctx, folder, judge_names, args, throughput)
    except DataError as exc:
        die(str(exc))
    _summary(results, folder.path)
    return 0


def evaluate(ctx: Any, folder: Any, judges: tuple[str, ...], args: argparse.Namespace,
             throughput: dict[str, Any]) -> dict[str, Any]:
    """The results document of the run folder's samples: rates, gaps, agreement, costs."""
    from codeward.eval.commands.common import publish, results_document
    from codeward.eval.datasets import load_problems
    from codeward.eval.runfolder import SAMPLES
    from codeward.eval.security.autocomplete import security_metrics
    from codeward.eval.security.cost import false_blocks, passing_items, read_run, secure_pass

    ev, safety = ctx.settings.eval, ctx.settings.safety
    wanted = set(ctx.config["tasks"])
    rows = [r for r in folder.rows(SAMPLES) if r["task_id"] in wanted]
    found = security_metrics(rows, judges, safety, ev.bootstrap_samples, ev.bootstrap_seed)
    humaneval = load_problems()
    passing, secure = [], []
    if args.from_run:
        samples, executed, data = read_run(Path(args.from_run))
        problems = load_problems(data) if data else humaneval
        passing = passing_items(samples, executed, problems)
        secure = secure_pass(samples, executed, problems, safety, sorted(set(args.k)), ev.bootstrap_samples,
                             ev.bootstrap_seed)
    results = results_document(ctx, found["metrics"], found["comparisons"], engine=ctx.config.get("engine"))
    notes = [(f"95% CIs: percentile bootstrap over cases, {ev.bootstrap_samples} resamples, seed "
             f"{ev.bootstrap_seed}"),
             ("codeward judges by findings that carry a CWE (pyflakes' undefined names are bugs, not security); "
             "codeshield is CyberSecEval's insecure-code detector (regex and semgrep rules), the judge of its "
             "published figures")]
    results.update(per_cwe=found["per_cwe"], agreement=found["agreement"], filter=found["filter"],
                   false_block=false_blocks(safety, humaneval, passing, ev.bootstrap_samples, ev.bootstrap_seed),
                   secure_pass=secure, throughput=throughput, notes=notes)
    publish(folder, results, "codeward eval security")
    return results


def _summary(results: dict[str, Any], path: Any) -> None:
    for m in results["metrics"]:
        lo, hi = m["insecure_rate_ci95"]
        print(f"{m['model']}/{m['judge']}/{m['arm']}: insecure {m['insecure_rate']:.3f} [{lo:.3f}, {hi:.3f}] "
              f"({m['judged']} cases judged, {m['judge_errors']} judge errors)")
    for f in results.get("filter") or []:
        print(f"filter: {f['shown']} shown, {f['replaced']} replaced, {f['dropped']} dropped, {f['empty']} empty "
              f"of {f['cases']} first samples")
    for r in (results.get("false_block") or {}).get("rows", []):
        if not r["source"].startswith("safe-code "):
            print(f"false blocks on {r['source']}: {r['blocked']}/{r['cases']} blocked, {r['warned']} warned")
    for r in results.get("secure_pass") or []:
        if "pass@1" in r:
            print(f"{r['model']}/{r['arm']}: pass@1 {r['pass@1']:.3f}, secure-pass@1 {r['secure-pass@1']:.3f}")
    errors = sum(m.get("judge_errors", 0) for m in results["metrics"])
    if errors:
        print(f"warning: {errors} judge errors are left out of the rates (see samples.jsonl `judges`)",
              file=sys.stderr)
    print(f"run folder {path}")
