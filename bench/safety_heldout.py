"""Recall and false alarms of the checks on held-out programs: 119 small programs (4 insecure and 3 safe per CWE,
17 CWEs) written by a helper session that never saw the checks or their examples (`bench/heldout_security.jsonl`).

A row is found when a finding of its CWE (22 and 434 count for each other: an upload saved under the client's
name is a path traversal too) covers its marked line (`on line`) or lies anywhere in the program (`in file`); a
safe row is a false alarm when it gets a finding of its CWE at medium or higher. Not tuned on: a miss here is
reported, not fixed against this file.

Run: .venv/bin/python bench/safety_heldout.py [--data FILE] [--misses]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from codeward.safety.api import check_text
from codeward.safety.findings import rank
from codeward.safety.settings import SafetySettings

DATA = Path(__file__).with_name("heldout_security.jsonl")
SAME = {22: {22, 434}, 434: {22, 434}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--misses", action="store_true", help="list the rows missed and the false alarms")
    args = p.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    settings = SafetySettings()
    table: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # insecure, on line, in file, safe, alarms
    notes = []
    for row in rows:
        cwes = SAME.get(row["cwe"], {row["cwe"]})
        found = [f for f in check_text(row["code"], settings) if f.cwe in cwes]
        t = table[row["cwe"]]
        if row["label"] == "insecure":
            on_line = any(f.line <= row["line"] <= f.end_line for f in found)
            t[0] += 1
            t[1] += on_line
            t[2] += bool(found)
            if not found:
                notes.append(f"missed {row['id']} (line {row['line']})")
        else:
            alarms = [f for f in found if rank(f.severity) >= rank("medium")]
            t[3] += 1
            t[4] += bool(alarms)
            if alarms:
                notes.append(f"false alarm {row['id']}: " + ", ".join(f"{f.rule_id}@{f.line}" for f in alarms))
    print("| CWE | found on line | found in file | false alarms (safe rows) |\n|---|---|---|---|")
    total = [0] * 5
    for cwe in sorted(table):
        t = table[cwe]
        total = [a + b for a, b in zip(total, t, strict=True)]
        print(f"| CWE-{cwe} | {t[1]}/{t[0]} | {t[2]}/{t[0]} | {t[4]}/{t[3]} |")
    pct = lambda a, b: f"{a}/{b} ({100 * a / max(b, 1):.0f}%)"
    print(f"| all | **{pct(total[1], total[0])}** | {pct(total[2], total[0])} | {pct(total[4], total[3])} |")
    if args.misses:
        print("\n" + "\n".join(notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
