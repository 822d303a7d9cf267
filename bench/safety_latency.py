"""Latency of checking one suggestion spliced into a buffer (p50/p95 ms), against the bandit CLI on the same text.

Run: .venv/bin/python bench/safety_latency.py [--reps N] [--no-cli] [--no-taint]
A 1-20 line suggestion is spliced at a random line of buffers of 50, 300 and 3,000 lines of real Python
(the standard library), half of the suggestions insecure; the check is restricted to the suggestion.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codeward.safety.api import check_suggestion, check_text
from codeward.safety.settings import SafetySettings

SUGGESTIONS = [
    "    os.system('ls ' + path)\n",
    "    data = pickle.loads(blob)\n    return data\n",
    "    result = eval(expr)\n",
    "    subprocess.call(cmd, shell=True)\n",
    "    total = 0\n    for item in items:\n        total += item.size\n    return total\n",
    "    h = hashlib.md5(payload).hexdigest()\n",
    "    if not name:\n        raise ValueError('name is empty')\n    return name.strip().lower()\n",
    "".join(f"    value_{i} = compute(value_{i - 1 if i else 0}, {i})\n" for i in range(20)),
    "    with open(path) as fh:\n        return [line.rstrip() for line in fh\n",
    "    cursor.execute('SELECT * FROM t WHERE id = %s' % uid)\n",
]


def corpus_lines() -> list[str]:
    """Real Python to build buffers from: a few standard-library modules."""
    import argparse as a
    import dataclasses as d
    import json.decoder as j
    import textwrap as t

    lines: list[str] = []
    for mod in (a, d, t, j):
        lines += Path(mod.__file__ or "").read_text(encoding="utf-8").splitlines(keepends=True)
    return lines


def make_buffer(lines: list[str], size: int) -> str:
    """The first `size` lines of the corpus, repeated as needed."""
    out = (lines * (size // len(lines) + 1))[:size]
    return "".join(out)


def cases(buffer: str, reps: int, rng: random.Random) -> list[tuple[int, str]]:
    """(offset, suggestion) pairs: each suggestion placed after a random line ending inside a function body."""
    starts = [i + 1 for i, ch in enumerate(buffer) if ch == "\n"]
    return [(rng.choice(starts[len(starts) // 10:]), rng.choice(SUGGESTIONS)) for _ in range(reps)]


def time_checks(buffer: str, reps: int, seed: int, taint: bool = True) -> list[float]:
    """Milliseconds per check_suggestion call."""
    rng = random.Random(seed)
    settings = SafetySettings(taint=taint)
    out = []
    for offset, suggestion in cases(buffer, reps, rng):
        t0 = time.perf_counter()
        check_suggestion(buffer, offset, suggestion, settings)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def time_cli(buffer: str, reps: int) -> list[float] | None:
    """Milliseconds per `bandit -q FILE` run on the buffer (the reference), or None without the CLI."""
    exe = shutil.which("bandit") or str(Path(sys.executable).with_name("bandit"))
    if not Path(exe).exists():
        return None
    out = []
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(buffer)
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([exe, "-q", fh.name], capture_output=True, check=False)
        out.append((time.perf_counter() - t0) * 1000)
    Path(fh.name).unlink()
    return out


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 \
        else values[0]


def main() -> int:
    """Print a Markdown table of p50/p95 per buffer size."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reps", type=int, default=200, help="checks per buffer size")
    p.add_argument("--cli-reps", type=int, default=10, help="bandit CLI runs per buffer size")
    p.add_argument("--no-cli", action="store_true", help="skip the bandit CLI reference")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-taint", action="store_true", help="taint flows off (safety.taint = false), to compare")
    args = p.parse_args()
    lines = corpus_lines()
    check_text("import os\nos.system(x)\n")  # warm-up: bandit's plugins and the libcst parser load once
    print("| buffer lines | check_suggestion p50 ms | p95 ms | whole-buffer check_text p50 ms | "
          "bandit CLI p50 ms |")
    print("|---|---|---|---|---|")
    for size in (50, 300, 3000):
        buffer = make_buffer(lines, size)
        ms = time_checks(buffer, args.reps, args.seed, taint=not args.no_taint)
        whole = []
        for _ in range(max(3, args.reps // 20)):
            t0 = time.perf_counter()
            check_text(buffer)
            whole.append((time.perf_counter() - t0) * 1000)
        cli = None if args.no_cli else time_cli(buffer, args.cli_reps)
        cli_text = f"{statistics.median(cli):.0f}" if cli else "n/a"
        print(f"| {size} | {pct(ms, 0.5):.1f} | {pct(ms, 0.95):.1f} | {statistics.median(whole):.1f} | {cli_text} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
