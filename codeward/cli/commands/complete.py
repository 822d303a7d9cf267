"""`codeward complete FILE --line L --col C`: suggestions for one cursor, printed with their timing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from codeward.flags import add_engine_flags, die, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("complete", help="complete the code at a cursor in a file (or stdin)",
                       description="Print the model's suggestion(s) for the cursor at LINE:COL of FILE.")
    p.add_argument("file", metavar="FILE", help="Python file, or - for stdin")
    p.add_argument("--line", type=int, required=True, help="cursor line, 1-based")
    p.add_argument("--col", type=int, required=True, help="cursor column, 1-based; may be one past the line end")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_engine_flags(p)
    p.set_defaults(func=run)


def read_source(name: str) -> str:
    """The text of FILE or stdin; unreadable or non-UTF-8 input exits with code 2 and says so."""
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        die(f"cannot read {name}: {exc.strerror or exc}; check the path and its permissions")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        die(f"{name} is not UTF-8 text (byte {exc.start}: {exc.reason}); convert it to UTF-8 first")


def run(args: argparse.Namespace) -> int:
    text = read_source(args.file)
    settings = settings_from_args(args)

    from codeward.completion.pipeline import Pipeline, RequestError, validate
    from codeward.completion.types import CompletionRequest
    from codeward.model.base import EngineError
    from codeward.model.factory import make_engine

    request = CompletionRequest(text=text, line=args.line - 1, column=args.col - 1, unit="code-point",
                                path="<stdin>" if args.file == "-" else args.file, language="python",
                                numbering=1, clamp_column=False)
    try:
        validate(request, settings.completion)  # the pipeline's own check, before the model loads
    except RequestError as exc:
        die(str(exc))
    t0 = time.perf_counter()
    try:
        engine = make_engine(settings.engine)
    except EngineError as exc:
        die(str(exc), code=1)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:
        # The editor's pipeline: context, template, mode and stops, engine, postprocess, safety policy.
        result = Pipeline(settings.pipeline(), engine).complete_sync(request)
    except EngineError as exc:
        die(str(exc), code=1)
    except RequestError as exc:
        die(str(exc))
    gen_s = time.perf_counter() - t1
    rows = []
    for sample, outcome in zip(result.samples, result.outcomes, strict=True):
        rows.append({**outcome.as_dict(), "finish_reason": sample.finish_reason, "logprob_sum": sample.logprob_sum,
                     "n_tokens": sample.n_tokens})
    if args.json:
        print(json.dumps({"file": args.file, "line": args.line, "col": args.col, "engine": engine.info.engine,
                          "model": engine.info.model, "load_s": round(load_s, 3), "generate_s": round(gen_s, 3),
                          "mode": result.mode, "template": result.template, "prompt": result.prompt,
                          "suggestions": rows}))
        return 0
    for i, row in enumerate(rows):
        print(f"--- suggestion {i + 1}/{len(rows)} ({row['n_tokens']} tokens, {row['finish_reason']}, "
              f"logprob {row['logprob_sum']:.2f}, {row['verdict']})")
        if row["verdict"] == "dropped":
            print(f"(dropped by {row['dropped_by']}) {row['raw']}")
        else:
            print(row["text"])
        for f in row["findings"]:
            print(f"    {f['rule_id']} ({f['severity']}) line {f['line']}: {f['message']}")
    print(f"--- {engine.info.engine} {engine.info.model}: model load {load_s:.2f} s, "
          f"generation {gen_s:.2f} s", file=sys.stderr)
    return 0
