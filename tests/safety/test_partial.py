"""Half-written code: the repair keeps line numbers, and dangerous calls are still found."""

from __future__ import annotations

import pytest

from codeward.safety.api import check_text
from codeward.safety.repair import parse, repair
from codeward.safety.scan import split_lines

HALF_WRITTEN = {
    "unclosed bracket": ("import os\ndef run(user):\n    os.system('echo ' + user\n", "B605", 3),
    "half-written if": ("import os\ndef run(user):\n    if os.system(user) == 0\n", "B605", 3),
    "if without body": ("import os\ndef run(user):\n    if os.system(user) == 0:\n", "B605", 3),
    "cut mid-string": ("import subprocess\ndef run(path):\n    subprocess.call('rm -rf ' + path, shell=True, cwd='/tm",
                       "B602", 3),
    "cut mid-call args": ("import pickle\ndef load(blob):\n    return pickle.loads(blob,\n", "B301", 3),
    "eval in unclosed list": ("values = [eval(x) for x in items\n", "B307", 1),
    "mid-function window": (("        data = sock.recv(4096)\n        obj = pickle.loads(data)\n"
                             "        return obj\n\n    def close(self):\n        self.sock.close()\n"), "CW208", 2),  # the flow replaces B301
    "window inside a docstring": (("        the rest of a docstring\n        \"\"\"\n        os.system(cmd)\n"
                                   "        return 0\n"), "B605", 3),
    "try without except": ("    try:\n        x = eval(expr)\n        y = x + 1\n", "B307", 2),
    "mixed tabs and spaces": ("def f(s):\n        a = 1\n\treturn eval(s)\n", "B307", 3),
    "python 2 print around": ("print 'running'\nsubprocess.Popen(cmd, shell=True)\nprint 'done'\n", "B602", 2),
}


@pytest.mark.parametrize("case", sorted(HALF_WRITTEN))
def test_dangerous_call_found_in_half_written_code(case: str) -> None:
    code, rule_id, line = HALF_WRITTEN[case]
    assert parse(code) is None or case == "python 2 print around"
    hits = [f for f in check_text(code) if f.rule_id == rule_id and f.line == line]
    assert hits, f"{case}: {rule_id} not found on line {line}: {check_text(code)}"


def test_token_scan_is_the_last_resort_with_low_confidence() -> None:
    code = "exec code in env\nresult = os.popen('ls %s' % d).read() +\n"
    found = check_text(code)
    by_rule = {f.rule_id: f for f in found}
    assert by_rule["B102"].source == "tokens" and by_rule["B102"].confidence == "low"
    assert by_rule["B605"].line == 2
    assert not [f for f in check_text(code, _no_tokens()) if f.source == "tokens"]


def _no_tokens():
    from codeward.safety.settings import SafetySettings

    return SafetySettings(token_scan=False)


@pytest.mark.parametrize("code", [c for c, _, _ in HALF_WRITTEN.values()])
def test_repair_keeps_lines_and_parses(code: str) -> None:
    rep = repair(code)
    assert rep.text is not None and parse(rep.text) is not None
    repaired = split_lines(rep.text)[rep.offset:]
    assert len(repaired) == len(split_lines(code))
    for n, (old, new) in enumerate(zip(split_lines(code), repaired), start=1):
        if n not in rep.masked and old.strip() and new.strip():
            same = new.strip().startswith(old.strip()[:8]) or old.strip().startswith(new.strip()[:8])
            untried = old.strip().startswith("try") and new.strip() == "if 1:"
            assert same or untried, (n, old, new)


def test_valid_code_is_not_changed() -> None:
    code = "def f(x):\n    return x + 1\n"
    rep = repair(code)
    assert rep.text == code and not rep.changed and rep.masked == frozenset() and rep.offset == 0


JUNK = [  # (text, its findings' (rule id, line)): junk is bad code, not a checker crash, so no CheckError
    ("", set()), ("\n\n", set()), (")))", set()), ("(" * 5000, set()), ("\0\0import os", set()), ("'''", set()),
    ("\x0c\x1c", set()), ("def f(:\n  pass\n" * 50, set()), ("é = '\\N{bad}'\n", set()), ("\t  \t x = 1\n", set()),
    ("x = eval(y\n)))", {("B307", 1)}), ("def f(:\n    os.system(c)\n" * 3, {("B605", 2), ("B605", 4), ("B605", 6)}),
]


@pytest.mark.parametrize("junk,expected", JUNK, ids=[repr(text[:12]) for text, _ in JUNK])
def test_junk_is_checked_without_a_checker_error(junk: str, expected: set[tuple[str, int]]) -> None:
    found = check_text(junk)  # a checker that crashed on it raises CheckError and fails the test
    assert {(f.rule_id, f.line) for f in found} == expected
