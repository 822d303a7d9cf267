"""The safety API contract: check_suggestion's line restriction and numbering, decide, settings, nosec."""

from __future__ import annotations

import pytest

from codeward.safety.api import check_suggestion, check_text, decide, splice, suggestion_lines
from codeward.safety.findings import Finding
from codeward.safety.settings import SafetySettings

BUFFER = (
    "import os\n"
    "import pickle\n"
    "\n"
    "def old(cmd):\n"
    "    os.system(cmd)\n"          # line 5: insecure code already in the file
    "\n"
    "def load(blob):\n"
    "    \n"                        # line 8: the cursor line
    "    return None\n"
)
NO_PYFLAKES = SafetySettings(pyflakes=False)
CURSOR = BUFFER.index("    \n    return") + 4


def test_suggestion_findings_only_on_its_lines_numbered_in_the_spliced_buffer() -> None:
    found = check_suggestion(BUFFER, CURSOR, "data = pickle.loads(blob)\n    eval(data)")
    assert sorted((f.rule_id, f.line) for f in found) == [("B301", 8), ("B307", 9)]
    assert not [f for f in found if f.line == 5], "the file's own issue must not block the suggestion"


def test_clean_suggestion_has_no_findings() -> None:
    assert check_suggestion(BUFFER, CURSOR, "return len(blob)") == []
    assert check_suggestion(BUFFER, CURSOR, "") == []


def test_replace_len_and_line_numbers() -> None:
    buffer = "import os\nx = 1\nos.getcwd()\n"
    start = buffer.index("os.getcwd")
    found = check_suggestion(buffer, start, "os.system(x)", replace_len=len("os.getcwd()"))
    assert [(f.rule_id, f.line) for f in found] == [("B605", 3)]
    assert splice(buffer, start, "os.system(x)", len("os.getcwd()")) == "import os\nx = 1\nos.system(x)\n"


def test_suggestion_lines() -> None:
    assert suggestion_lines("a\nb\n", 2, "x\ny\n") == (2, 3)
    assert suggestion_lines("a\r\nb\r\n", 3, "x") == (2, 2)
    assert suggestion_lines("", 0, "one") == (1, 1)


def test_half_written_suggestion_at_the_end_of_a_buffer() -> None:
    buffer = "import subprocess\n\ndef run(path):\n    "
    found = check_suggestion(buffer, len(buffer), "subprocess.call('ls ' + path, shell=True")
    assert [f.rule_id for f in found] == ["B602"]


def test_undefined_name_in_a_suggestion() -> None:
    found = check_suggestion(BUFFER, CURSOR, "return frobnicate(blob)")
    assert [(f.rule_id, f.source) for f in found] == [("F821", "pyflakes")]
    assert check_suggestion(BUFFER, CURSOR, "return old(blob)") == []  # defined elsewhere in the buffer
    assert not check_suggestion(BUFFER, CURSOR, "return frobnicate(blob)", SafetySettings(pyflakes=False))


def _finding(severity: str) -> Finding:
    return Finding("B000", None, severity, "high", 1, 1, 0, "m", "bandit", kind="security")


def test_decide_takes_the_strictest_action() -> None:
    assert decide([]) == "allow"
    assert decide([_finding("low")]) == "allow"
    assert decide([_finding("low"), _finding("medium")]) == "warn"
    assert decide([_finding("medium"), _finding("high")]) == "block"
    strict = SafetySettings(on_low="block")
    assert decide([_finding("low")], strict) == "block"
    lax = SafetySettings(on_high="warn", on_medium="allow")
    assert decide([_finding("high"), _finding("medium")], lax) == "warn"


def test_thresholds_and_disabled_rules() -> None:
    code = "import random\nimport os\nn = random.randint(1, 6)\nos.system(cmd)\n"
    every = {f.rule_id for f in check_text(code)}
    assert {"B311", "B605"} <= every
    high_only = {f.rule_id for f in check_text(code, SafetySettings(min_severity="high"))}
    assert "B311" not in high_only and "B605" in high_only
    assert "B605" not in {f.rule_id for f in check_text(code, SafetySettings(disabled_rules=["B605"]))}


@pytest.mark.parametrize(("comment", "left"), [
    ("# nosec", set()),
    ("# nosec B307", {"B102"}),
    ("# nosec: B102, B307", set()),
    ("# NOSEC b102", {"B307"}),
])
def test_nosec_suppressions(comment: str, left: set[str]) -> None:
    code = f"eval(a); exec(b)  {comment}\n"
    assert {f.rule_id for f in check_text(code, NO_PYFLAKES)} == left


def test_nosec_for_codeward_rule_ids() -> None:
    code = "def f(x=[]):  # nosec CW101\n    return x\n"
    assert check_text(code) == []
    assert [f.rule_id for f in check_text("def f(x=[]):  # nosec B602\n    return x\n")] == ["CW101"]


def test_lines_filter() -> None:
    code = "eval(a)\nexec(b)\neval(c)\n"
    assert [f.line for f in check_text(code, NO_PYFLAKES, lines=(2, 3))] == [2, 3]
    assert {(f.rule_id, f.line) for f in check_text(code, lines=(2, 2))} == {("B102", 2), ("F821", 2)}


def test_finding_shape() -> None:
    f, flow = check_text("import os\ncmd = input()\nos.system(cmd)\n")
    assert flow.rule_id == "CW202" and flow.confidence == "low" and [s.line for s in flow.flow] == [2, 2, 3]
    assert flow.as_dict()["flow"][0] == {"line": 2, "col": 6, "note": "input() (cli input)"}
    assert f.as_dict() == {"rule_id": "B605", "cwe": 78, "severity": "high", "confidence": "high", "line": 3,
                           "end_line": 3, "col": 0, "message": f.message, "source": "bandit", "kind": "security"}
    with pytest.raises(AttributeError):
        f.line = 3  # type: ignore[misc]


def test_undefined_names_are_not_reported_in_a_module_that_makes_names_at_run_time():
    from codeward.safety.api import check_text as check

    assert [f.rule_id for f in check("x = CONTINUE\n")] == ["F821"]
    made = "import http\nglobals().update(http.HTTPStatus.__members__)\nx = CONTINUE\n"
    assert not [f for f in check(made) if f.rule_id == "F821"]
    assert not [f for f in check("print(__path__)\n") if f.rule_id == "F821"]
