"""`codeward complete FILE --line L --col C`: suggestions for one cursor, printed with their timing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from codeward.cli.common import add_engine_flags, die, settings_from_args
from codeward.completion.text import split_lines


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


def check_position(name: str, text: str, line: int, col: int) -> None:
    """Exit 2 with a 1-based message (like a compiler's) unless LINE:COL is in the text; COL may end the line."""
    lines = split_lines(text)  # the pipeline's own line endings
    if not 1 <= line <= len(lines):
        die(f"{name}: line {line} is outside the file (it has {len(lines)} line(s); lines start at 1)")
    length = len(lines[line - 1])
    if not 1 <= col <= length + 1:
        die(f"{name}: column {col} is outside line {line} (valid: 1..{length + 1}; columns start at 1 and may be "
            "one past the end of the line)")


def run(args: argparse.Namespace) -> int:
    text = read_source(args.file)
    check_position(args.file, text, args.line, args.col)
    settings = settings_from_args(args)

    from codeward.completion.pipeline import Pipeline, RequestError
    from codeward.completion.types import CompletionRequest
    from codeward.model.base import EngineError
    from codeward.model.factory import make_engine

    t0 = time.perf_counter()
    try:
        engine = make_engine(settings.engine)
    except EngineError as exc:
        die(str(exc), code=1)
    load_s = time.perf_counter() - t0
    # The editor's pipeline: context, template, mode and stops, engine, postprocess, safety policy.
    request = CompletionRequest(text=text, line=args.line - 1, column=args.col - 1, unit="code-point",
                                path="" if args.file == "-" else args.file, language="python")
    t1 = time.perf_counter()
    try:
        result = Pipeline(settings.pipeline(), engine).complete_sync(request)
    except EngineError as exc:
        die(str(exc), code=1)
    except RequestError as exc:
        die(str(exc))
    gen_s = time.perf_counter() - t1
    samples = result.samples
    outcome = {s.sample_index: s for s in result.suggestions + result.blocked}
    rows = []
    for i, s in enumerate(samples):
        kept = outcome.get(i)
        rows.append({"text": kept.text if kept else "", "raw": s.text, "finish_reason": s.finish_reason,
                     "logprob_sum": s.logprob_sum, "n_tokens": s.n_tokens,
                     "verdict": kept.verdict if kept else "dropped",
                     "findings": [f.as_dict() for f in kept.findings] if kept else []})
    if args.json:
        print(json.dumps({"file": args.file, "line": args.line, "col": args.col, "engine": engine.info.engine,
                          "model": engine.info.model, "load_s": round(load_s, 3), "generate_s": round(gen_s, 3),
                          "mode": result.mode, "template": result.template, "prompt": result.prompt,
                          "suggestions": rows}))
        return 0
    for i, row in enumerate(rows):
        print(f"--- suggestion {i + 1}/{len(rows)} ({row['n_tokens']} tokens, {row['finish_reason']}, "
              f"logprob {row['logprob_sum']:.2f}, {row['verdict']})")
        print(row["text"] if row["verdict"] != "dropped" else row["raw"])
        for f in row["findings"]:
            print(f"    {f['rule_id']} ({f['severity']}) line {f['line']}: {f['message']}")
    print(f"--- {engine.info.engine} {engine.info.model}: model load {load_s:.2f} s, "
          f"generation {gen_s:.2f} s", file=sys.stderr)
    return 0
