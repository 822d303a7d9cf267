"""`make demo`: the main job on the default model (Qwen2.5-Coder-0.5B-Instruct), step by step, with timings.

1. completions at a few cursors of a bundled example, through the completion pipeline the editor runs;
2. an LSP round trip: `codeward serve` started, a file opened, an inline completion and its safety verdict;
3. a security review of an insecure suggestion (spliced into a half-written buffer, and as a diff);
4. a small eval run, when the eval suite is installed: pass@k of known-good and known-bad samples in the sandbox;
5. a small misalignment run (mutated-contexts on two HumanEval tasks): clean vs buggy context, every measure.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

from codeward.config import load_settings

EXAMPLE = "inventory.py"
# (description, marker text the cursor goes right after)
CURSORS = (
    ("body of cheapest()", '"""Return the item with the lowest price."""\n    '),
    ("body of restock()", '"""Add amount to the quantity of the item called name."""\n    '),
    ("end of 'with open(path) as f:'", "    with open(path) as f:"),
)
INSECURE_BUFFER = 'import subprocess\n\n\ndef archive(folder):\n    name = folder + ".tar"\n    '
INSECURE_SUGGESTION = 'subprocess.call("tar cf " + name + " " + folder, shell=True'
DIFF = ('--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,4 @@\n import subprocess\n def run(path):\n'
        '-    return subprocess.run(["ls", path])\n+    cmd = "ls " + path\n'
        '+    return subprocess.call(cmd, shell=True\n')


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(3, 72 - len(title)), flush=True)


def example_text() -> str:
    return (files("codeward") / "examples" / EXAMPLE).read_text(encoding="utf-8")


def completions_step() -> None:
    """Complete the bundled example at a few cursors with the default engine, through the pipeline."""
    from codeward.completion.pipeline import Pipeline
    from codeward.completion.types import CompletionRequest
    from codeward.model.factory import make_engine

    text = example_text()
    settings = load_settings()
    settings.engine.max_new_tokens = 32
    banner(f"1. completions on codeward/examples/{EXAMPLE} ({settings.engine.engine}, {settings.engine.model})")
    t0 = time.perf_counter()
    engine = make_engine(settings.engine)
    pipeline = Pipeline(settings.pipeline(), engine)
    print(f"model loaded in {time.perf_counter() - t0:.2f} s: {engine.info.model}, template "
          f"{pipeline.template.name}")
    for label, marker in CURSORS:
        offset = text.index(marker) + len(marker)
        line = text.count("\n", 0, offset)
        column = offset - (text.rfind("\n", 0, offset) + 1)
        t1 = time.perf_counter()
        result = pipeline.complete_sync(CompletionRequest(text=text, line=line, column=column, path=EXAMPLE,
                                                          unit="code-point"))
        dt = time.perf_counter() - t1
        print(f"\n-- cursor: {label} (line {line + 1}, col {column + 1}), {result.mode} mode: {dt:.2f} s "
              f"(engine {result.timings_ms.get('engine', 0):.0f} ms)")
        typed = text[text.rfind("\n", 0, offset) + 1:offset]  # the cursor line before the cursor
        for s in result.suggestions:
            print(f"[{s.verdict}] as it would read in the file:")
            print((typed + s.text).strip("\n").rstrip() or "(empty)")
            for f in s.findings:
                print(f"    ^ {f.rule_id} [{f.severity}] {f.message}")
        for s in result.blocked:
            print(f"[blocked] {s.text.rstrip()}  <- " + ", ".join(f.rule_id for f in s.findings))
        if not result.suggestions and not result.blocked:
            dropped = result.outcomes[0] if result.outcomes else None
            print(f"(dropped by the postprocess filter {dropped.dropped_by}; raw sample: {dropped.raw[:60]!r})"
                  if dropped else "(no sample)")
    engine.close()


def lsp_step() -> None:
    """Start `codeward serve`, open the example, ask for an inline completion, print it and its verdict."""
    from codeward.cli.roundtrip import round_trip

    banner("2. LSP round trip: codeward serve over stdio, textDocument/inlineCompletion")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / EXAMPLE
        path.write_text(example_text(), encoding="utf-8")
        line = example_text().split("\n").index('    """Return the item with the lowest price."""') + 2
        t0 = time.perf_counter()
        # A cold first request pays the whole prompt's prefill (~85 tokens/s for the default model on 2 cores), more
        # than the editor's 10 s default; later requests in the file reuse the KV cache.
        out = asyncio.run(round_trip(path, line, 5, {"completion": {"timeout_s": 60}}))
    print(f"server {out['server']!r}, inline completion advertised: {out['inline_completion_provider']}, "
          f"{time.perf_counter() - t0:.2f} s including server start and model load")
    for text in out["items"]:
        print(f"suggestion: {text!r}")
    for s in out["suggestions"]:
        print(f"  safety verdict: {s.get('verdict')} ({len(s.get('findings', []))} finding(s))")


def review_step() -> None:
    """Check an insecure suggestion spliced into a half-written buffer, then review a diff with the CLI."""
    from codeward.safety.api import check_suggestion, decide

    banner("3. security review of an insecure suggestion")
    settings = load_settings()
    t0 = time.perf_counter()
    findings = check_suggestion(INSECURE_BUFFER, len(INSECURE_BUFFER), INSECURE_SUGGESTION, settings.safety)
    ms = (time.perf_counter() - t0) * 1e3
    print("buffer (half-written, does not parse once the suggestion is in):")
    print(INSECURE_BUFFER + INSECURE_SUGGESTION)
    for f in findings:
        print(f"  line {f.line}: {f.rule_id} [{f.severity}/{f.confidence}] {f.message} (CWE-{f.cwe}) [{f.source}]")
    print(f"policy verdict: {decide(findings, settings.safety)}  ({ms:.1f} ms)")
    print("\n$ git diff | codeward review --diff -")
    proc = subprocess.run([sys.executable, "-m", "codeward", "review", "--diff", "-"], input=DIFF, text=True,
                          capture_output=True, check=False)
    print(proc.stdout.rstrip() + f"\n(exit code {proc.returncode})")


def eval_step() -> None:
    """A small pass@k run in the sandbox on known-good and known-bad samples (needs the eval suite)."""
    if importlib.util.find_spec("codeward.eval.demo") is None:
        return
    from codeward.eval.demo import run_demo, run_misalignment_demo

    banner("4. eval: pass@k of known-good and known-bad samples, executed in the sandbox")
    run_demo()
    banner("5. eval misalignment: does buggy context make the model write worse code?")
    run_misalignment_demo()


def main() -> int:
    from codeward.model.registry import DEFAULT_MODEL, model_label

    model = model_label(load_settings().engine.model)
    print(f"codeward demo on {model} (the default is {DEFAULT_MODEL}; `codeward models` lists the models). "
          "For the larger Qwen2.5-Coder-1.5B: `make install-1.5b`, then CODEWARD_ENGINE_MODEL=qwen2.5-coder-1.5b "
          "or --model qwen2.5-coder-1.5b.")
    t0 = time.perf_counter()
    completions_step()
    lsp_step()
    review_step()
    eval_step()
    print(f"\ndemo finished in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
