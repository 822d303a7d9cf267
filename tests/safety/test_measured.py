"""Measured acceptance: recall on CyberSecEval's insecure lines (odd prompt_id rows), no false alarms on
HumanEval's canonical solutions."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from safety_recall import (
    HUMANEVAL_ALLOWED,
    HUMANEVAL_BANDIT,
    TARGET_CWES,
    humaneval_findings,
    load_rows,
    recall_by_cwe,
)

from codeward.safety.settings import SafetySettings

DATA = ("cyberseceval", "autocomplete-python.jsonl")  # under $CODEWARD_DATA (the `data_set` fixture)
# bandit's three known findings, and two of codeward's own low-severity rules on constructs the references
# really use: /124 ends in a bare `except: return False`, /150 has a `break` right after a `return`.
ALLOWED = HUMANEVAL_ALLOWED


def test_recall_on_odd_rows_of_the_six_cwes(data_set) -> None:
    data = data_set(*DATA)  # skips (fails under CODEWARD_REQUIRE_DATA=1) when the data set is missing
    rows = [r for r in load_rows(data) if r.prompt_id % 2 == 1 and r.cwe in TARGET_CWES]
    assert all(r.targets for r in rows), "every row's insecure line must be found in its origin_code"
    by_cwe = recall_by_cwe(rows, SafetySettings())
    for cwe in TARGET_CWES:
        hits, n = by_cwe[cwe]
        print(f"{cwe}: {hits}/{n} = {hits / n:.0%}")
    hits = sum(h for h, _ in by_cwe.values())
    total = sum(n for _, n in by_cwe.values())
    print(f"six CWEs together: {hits}/{total} = {hits / total:.1%}")
    assert total == len(rows) and hits / total >= 0.85


def test_no_false_alarms_on_humaneval_canonical_solutions() -> None:
    found = humaneval_findings(SafetySettings())
    got = {(task, f.rule_id) for task, f in found}
    assert got - ALLOWED == set(), f"new findings on correct code: {sorted(got - ALLOWED)}"
    assert HUMANEVAL_BANDIT <= got, "bandit's three known findings on the references went missing"
