"""Tests generated from every CW rule's own VALID / INVALID examples (the Fixit way)."""

from __future__ import annotations

import pytest

from codeward.safety.api import check_text
from codeward.safety.catalogue import rules_table
from codeward.safety.findings import SAME_ISSUE
from codeward.safety.rules import all_rules, run_rules

RULES = all_rules()
VALID = [(rid, code) for rid, cls in RULES.items() for code in cls.VALID]
INVALID = [(rid, code) for rid, cls in RULES.items() for code in cls.INVALID]


def test_every_rule_carries_examples_and_metadata() -> None:
    assert RULES, "no CW rules registered"
    for rid, cls in RULES.items():
        assert rid.startswith("CW") and rid[2:].isdigit(), rid
        assert cls.VALID and cls.INVALID, f"{rid} needs VALID and INVALID examples"
        assert cls.severity in ("low", "medium", "high") and cls.confidence in ("low", "medium", "high")
        assert cls.message.strip()


@pytest.mark.parametrize(("rule_id", "code"), INVALID, ids=[f"{r}-invalid-{i}" for i, (r, _) in enumerate(INVALID)])
def test_invalid_example_is_reported(rule_id: str, code: str) -> None:
    hits = [f for f in run_rules(code) if f.rule_id == rule_id]
    assert hits, f"{rule_id} missed its INVALID example:\n{code}"
    assert all(f.source == "libcst" and f.cwe == RULES[rule_id].cwe for f in hits)
    # and through the public API, with line numbers inside the snippet
    same = {rule_id, SAME_ISSUE.get(rule_id)}  # a bandit test that reports the same issue may stand in
    api_hits = [f for f in check_text(code) if f.rule_id in same]
    assert api_hits and all(1 <= f.line <= code.count("\n") + 1 for f in api_hits)


@pytest.mark.parametrize(("rule_id", "code"), VALID, ids=[f"{r}-valid-{i}" for i, (r, _) in enumerate(VALID)])
def test_valid_example_is_clean(rule_id: str, code: str) -> None:
    assert [f for f in run_rules(code) if f.rule_id == rule_id] == []


def test_disabled_rule_is_not_run() -> None:
    code = RULES["CW101"].INVALID[0]
    assert not [f for f in run_rules(code, disabled=["cw101"]) if f.rule_id == "CW101"]


def test_rules_table_lists_every_rule() -> None:
    table = rules_table()
    assert table.startswith("| id | CWE |")
    for rid, cls in RULES.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| {rid} |"))
        assert cls.message in row and cls.severity in row
        if cls.cwe:
            assert f"CWE-{cls.cwe}" in row


def test_the_context_rules_are_the_bug_and_subtle_bug_rules_not_the_security_ones() -> None:
    from codeward.safety.api import context_rule_ids

    ids = context_rule_ids()
    assert {"CW101", "CW109", "CW121", "CW125"} <= ids
    assert not ids & {"CW110", "CW113", "CW120"}
    assert all(RULES[r].cwe is None for r in ids)
