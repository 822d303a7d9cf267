"""`codeward eval rank --from-run DIR`: score the samples of a finished run by back-translation (the log-prob of
the task's docstring given each sample's code, the paper's Codex-D), then redo the ranking analysis with it and
re-render the run's results.json, report.md and plots. Resumable: the scores are appended to
DIR/backtranslation.jsonl as they are made."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

COMMAND = "rank"


RANK_SAMPLING = ("ranks the samples the run already has: their sampling settings are the run's own (config.json); "
                 "--temperature picks which of its temperatures to rank, --model the scoring model (default: the "
                 "run's)")


def register(subparsers: Any) -> None:
    """Add `eval rank` to the `eval` command group."""
    from codeward.flags import add_engine_flags

    p = subparsers.add_parser(COMMAND, help="back-translation ranking of a finished run's samples",
                              description=__doc__, epilog=RANK_SAMPLING)
    p.add_argument("--from-run", required=True, metavar="DIR", help="a run folder of `eval passk` (n >= 2)")
    add_engine_flags(p, sweep=True)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)


def _load_run(folder: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """config.json and results.json of a finished run; exits with a clear message otherwise."""
    from codeward.eval.runfolder import RESULTS, RunFolderError
    from codeward.flags import die

    try:
        config = folder.read_config()
    except RunFolderError as exc:
        die(str(exc))
    path = folder.file(RESULTS)
    if not path.is_file():
        die(f"{path} does not exist: finish the run first (its command with --resume --out {folder.path})")
    return config, json.loads(path.read_text(encoding="utf-8"))


def run(args: argparse.Namespace) -> int:
    """Score the samples of the ranked groups (those with n >= 2; --temperature picks some), rank, re-render."""
    from codeward.eval.commands.common import publish
    from codeward.eval.commands.sampling import load_engine
    from codeward.eval.datasets import file_digest, load_problems
    from codeward.eval.jsonl import DataError, read_rows
    from codeward.eval.passk.analyses import ranking
    from codeward.eval.passk.backtranslation import BT_FILE, PROMPT_FORM, sample_key, score_samples
    from codeward.eval.runfolder import EXEC, SAMPLES, RunFolder
    from codeward.flags import die, settings_from_args

    folder = RunFolder(Path(args.from_run))
    config, results = _load_run(folder)
    samples_path = folder.file(SAMPLES) if folder.file(SAMPLES).is_file() else Path(str(config.get("samples")))
    try:
        problems = load_problems(config["data"])
        if file_digest(config["data"]) != config.get("data_sha256"):
            die(f"{config['data']} changed since the run (its SHA-256 differs from config.json); rank needs the "
                "run's own data")
        samples = read_rows(samples_path)
    except (DataError, OSError, KeyError) as exc:
        die(f"{folder.path}: cannot read the run's data or samples ({exc})")
    exec_rows = folder.rows(EXEC)
    counts: dict[tuple[Any, ...], int] = {}
    for s in samples:
        key = sample_key(s)
        counts[key[:4]] = counts.get(key[:4], 0) + 1
    temps = set(args.temperature) if args.temperature else None
    ranked = [s for s in samples if counts[sample_key(s)[:4]] >= 2
              and (temps is None or sample_key(s)[1] in temps)]
    if not ranked:
        die(f"{folder.path}: no task has two or more samples{' at that temperature' if temps else ''}; ranking "
            "picks one of several samples (sample with -n 2 or more)")
    model = args.model or (config.get("model") or {}).get("name")
    settings = settings_from_args(args, {"engine": {"model": model}} if model else None)
    engine = load_engine(settings)
    try:
        scores = score_samples(engine, ranked, problems, folder.file(BT_FILE), progress=not args.no_progress)
    finally:
        engine.close()
    for s in samples:
        if sample_key(s) in scores:
            s["bt_logprob"] = scores[sample_key(s)]
    ev = settings.eval
    results["ranking"] = ranking(samples, exec_rows, ev.bootstrap_samples, ev.bootstrap_seed)
    results["backtranslation"] = {"scorer": settings.engine.model, "scored": len(scores), "prompt": PROMPT_FORM}
    publish(folder, results, f"codeward {results.get('command') or 'eval'}")
    for r in results["ranking"]:
        print(f"pick by {r['method']} (T={r['temperature']}, {r['arm']}): pass@1 = {r['pass@1']:.4f} "
              f"[{r['pass@1_ci95'][0]:.3f}, {r['pass@1_ci95'][1]:.3f}]")
    print(f"scored {len(scores)} samples; run folder {folder.path}")
    return 0
