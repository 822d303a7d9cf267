"""Kinds on rules, checkers and findings; the catalogue of rules that are not libcst classes; selection by kind."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from codeward.safety.api import CONTEXT_KINDS, check_text, context_findings, context_rule_ids
from codeward.safety.catalogue import DIAGNOSTICS, catalogue, known_rules, rule_info, rules_table
from codeward.safety.findings import KINDS, Finding
from codeward.safety.formats.report import FileReport, render_text, to_json
from codeward.safety.formats.sarif import render_sarif
from codeward.safety.rules import RULES, Rule, all_rules
from codeward.safety.settings import SafetySettings
from codeward.safety.taint.specs import SINKS, rule_ids

BUG_RULES = {f"CW10{n}" for n in range(1, 10)}
SUBTLE_RULES = {f"CW12{n}" for n in range(1, 6)}
TAINTED = next(s for s in SINKS if s.rule == "CW201").INVALID[0]
# one finding from every checker: bandit (B403), a CW bug rule (CW101), pyflakes (F821), taint (CW202)
MIXED = ("from flask import request\nimport os\nimport pickle\n\ndef view(request, x=[]):\n"
         "    os.system(request.GET['c'])\n    return undefined_name\n")
UNPARSABLE = "import os\ndef f(:\n    os.system(cmd)\n"  # the second line cannot be repaired: the token scan runs


def _checker_kinds() -> dict[str, str]:
    from codeward.safety import tokens
    from codeward.safety.checkers import bandit_adapter, pyflakes_adapter
    from codeward.safety.taint import specs

    return {"bandit": bandit_adapter.KIND, "pyflakes": pyflakes_adapter.KIND, "tokens": tokens.KIND,
            "taint": specs.KIND}


def test_every_rule_and_checker_declares_a_kind_from_the_allowed_set() -> None:
    assert set(KINDS) == {"bug", "subtle", "security"}
    for rid, cls in all_rules().items():
        assert "kind" in cls.__dict__, f"{rid} must declare its kind on itself"
        assert cls.kind in KINDS, rid
    assert {rid for rid, cls in all_rules().items() if cls.kind == "bug"} == BUG_RULES
    assert {rid for rid, cls in all_rules().items() if cls.kind == "subtle"} == SUBTLE_RULES
    assert _checker_kinds() == {"bandit": "security", "pyflakes": "bug", "tokens": "security", "taint": "security"}


def test_every_finding_carries_the_kind_of_the_rule_or_checker_that_made_it() -> None:
    findings = check_text(MIXED) + check_text(UNPARSABLE)
    assert {f.source for f in findings} == {"bandit", "libcst", "pyflakes", "taint", "tokens"}
    checkers = _checker_kinds()
    for f in findings:
        expected = all_rules()[f.rule_id].kind if f.source == "libcst" else checkers[f.source]
        assert f.kind == expected and f.shifted(3).kind == expected, f


def test_a_rule_or_finding_without_an_allowed_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        class NoKind(Rule):  # registering it is the test
            id = "CW999"
            message = "m"
    with pytest.raises(ValueError, match="kind"):
        class BadKind(Rule):
            id = "CW998"
            kind: ClassVar[str] = "style"
            message = "m"
    assert "CW999" not in RULES and "CW998" not in RULES
    with pytest.raises(ValueError, match="kind"):
        Finding("CW101", None, "low", "low", 1, 1, 0, "m", "libcst", kind="style")
    with pytest.raises(TypeError):
        Finding("CW101", None, "low", "low", 1, 1, 0, "m", "libcst")  # type: ignore[call-arg]


def test_review_json_text_and_sarif_carry_the_kind() -> None:
    findings = check_text(MIXED)
    report = [FileReport("app.py", None, findings)]
    rows = to_json(report)["files"][0]["findings"]
    assert {(r["rule_id"], r["kind"]) for r in rows} >= {("B403", "security"), ("CW101", "bug"), ("F821", "bug"),
                                                         ("CW202", "security")}
    assert all(list(r)[:10] == ["rule_id", "cwe", "severity", "confidence", "line", "end_line", "col", "message",
                                "source", "kind"] for r in rows)
    assert "[libcst, bug]" in render_text(report) and "[taint, security]" in render_text(report)
    run = json.loads(render_sarif(report))["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["CW101"]["properties"]["kind"] == "bug" and rules["F821"]["properties"]["kind"] == "bug"
    assert rules["CW202"]["properties"]["kind"] == "security"
    assert "correctness" in rules["CW101"]["properties"]["tags"] and "security" in rules["B403"]["properties"]["tags"]
    # a taint rule's metadata comes from the catalogue, not its bare id
    assert rules["CW202"]["name"] == "CommandInjection"
    assert rules["CW202"]["shortDescription"]["text"] == rule_ids()["CW202"].message
    assert {(r["ruleId"], r["properties"]["kind"]) for r in run["results"]} == {(f.rule_id, f.kind) for f in findings}


def test_the_context_check_runs_exactly_the_bug_and_subtle_kinds() -> None:
    assert CONTEXT_KINDS == {"bug", "subtle"}
    assert context_rule_ids() == BUG_RULES | SUBTLE_RULES
    code = all_rules()["CW110"].INVALID[0]
    assert "CW110" not in {f.rule_id for f in context_findings(code)}


def test_the_context_check_follows_a_rule_whose_kind_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    security, subtle = all_rules()["CW110"], all_rules()["CW122"]
    monkeypatch.setattr(security, "kind", "bug")
    monkeypatch.setattr(subtle, "kind", "security")
    ids = context_rule_ids()
    assert "CW110" in ids and "CW122" not in ids
    assert "CW110" in {f.rule_id for f in context_findings(security.INVALID[0])}
    assert "CW122" not in {f.rule_id for f in context_findings(subtle.INVALID[0])}
    assert rule_info("CW110").kind == "bug"  # type: ignore[union-attr]


def test_every_catalogue_id_resolves_with_message_kind_and_levels() -> None:
    entries = catalogue()
    assert set(rule_ids()) | {"CW131", "CW132", "CW133"} == set(entries)
    assert not set(entries) & set(all_rules()), "a catalogue id clashes with a libcst rule"
    for rid in entries:
        info = rule_info(rid.lower())
        assert info is not None and info.id == rid and info.message.strip() and info.doc.strip()
        assert info.kind in KINDS and info.severity in ("low", "medium", "high") and info.name != rid
        assert info.source in ("taint", "diagnostics")
    assert {e.id: (e.kind, e.severity, e.cwe) for e in DIAGNOSTICS} == {
        "CW131": ("bug", "medium", None), "CW132": ("bug", "medium", None), "CW133": ("subtle", "low", None)}
    assert (entries["CW201"].kind, entries["CW201"].cwe) == ("security", 22)
    assert rule_info("B602") is None and rule_info("CW999") is None


def test_the_rules_table_lists_every_known_id_with_its_kind() -> None:
    table = rules_table().splitlines()
    for rid, info in known_rules().items():
        row = next(line for line in table if line.startswith(f"| {rid} |"))
        assert f"| {info.kind} |" in row and info.message in row
    assert len(table) == 2 + len(known_rules())


def test_disabled_rules_switch_off_a_catalogue_id() -> None:
    assert "CW201" in {f.rule_id for f in check_text(TAINTED)}
    off = check_text(TAINTED, SafetySettings(disabled_rules=["cw201"]))
    assert "CW201" not in {f.rule_id for f in off}
