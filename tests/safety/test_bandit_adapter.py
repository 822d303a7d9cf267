"""bandit in-process on strings: planted snippets, the curated profile, and thread safety."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from codeward.safety.api import check_text
from codeward.safety.checkers.bandit_adapter import run_bandit, selected_tests
from codeward.safety.settings import SafetySettings

PLANTED = [
    ("import os\ndef f(user):\n    os.system(user)\n", "B605", 3, 78),
    ("import subprocess\nsubprocess.call(cmd, shell=True)\n", "B602", 2, 78),
    ("import pickle\nobj = pickle.loads(blob)\n", "B301", 2, 502),
    ("x = eval(text)\n", "B307", 1, 78),
    ("exec(code)\n", "B102", 1, 78),
    ("import yaml\ncfg = yaml.load(stream)\n", "B506", 2, 20),
    ("import hashlib\nh = hashlib.md5(data).hexdigest()\n", "B324", 2, 327),
    ("import requests\nrequests.get(url, verify=False, timeout=5)\n", "B501", 2, 295),
    ("import random\ntoken = random.randint(0, 10**6)\n", "B311", 2, 330),
    ("password = 'hunter2'\n", "B105", 1, 259),
    ("q = 'SELECT * FROM users WHERE name = %s' % name\n", "B608", 1, 89),
]


@pytest.mark.parametrize(("code", "rule_id", "line", "cwe"), PLANTED, ids=[p[1] for p in PLANTED])
def test_planted_snippet_is_found(code: str, rule_id: str, line: int, cwe: int) -> None:
    hits = [f for f in check_text(code) if f.rule_id == rule_id]
    assert hits, f"{rule_id} not found in:\n{code}"
    assert hits[0].line == line and hits[0].source == "bandit" and hits[0].cwe == cwe


def test_curated_profile_leaves_out_noisy_tests_unless_included() -> None:
    code = "import subprocess\nassert x > 0\n"
    ids = {f.rule_id for f in check_text(code)}
    assert "B101" not in ids and "B404" not in ids
    included = {f.rule_id for f in check_text(code, SafetySettings(bandit_include=["B101", "B404"]))}
    assert {"B101", "B404"} <= included
    everything = {f.rule_id for f in check_text(code, SafetySettings(bandit_profile="all"))}
    assert {"B101", "B404"} <= everything


def test_disabled_bandit_rule() -> None:
    settings = SafetySettings(disabled_rules=["B307"])
    assert "B307" not in (selected_tests(settings) or set())
    assert not [f for f in check_text("eval(x)\n", settings) if f.rule_id == "B307"]


def test_offset_maps_lines_back() -> None:
    found = run_bandit("if 1:\n    eval(x)\n", None, SafetySettings(), offset=1)
    assert [(f.rule_id, f.line) for f in found] == [("B307", 1)]


def test_thread_safe_with_different_profiles() -> None:
    cases = [("eval(x)\nassert y\n", SafetySettings()),
             ("eval(x)\nassert y\n", SafetySettings(bandit_include=["B101"])),
             ("import pickle\npickle.loads(b)\n", SafetySettings()),
             ("import os\nos.system(c)\n", SafetySettings(bandit_profile="all"))]
    expected = [sorted(f.rule_id for f in check_text(code, s)) for code, s in cases]

    def work(worker: int) -> list[tuple[int, list[str]]]:
        out = []
        for rep in range(15):
            i = (worker + rep) % len(cases)
            out.append((i, sorted(f.rule_id for f in check_text(cases[i][0], cases[i][1]))))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [r for chunk in pool.map(work, range(4)) for r in chunk]  # .map re-raises a worker's error
    assert len(runs) == 60
    for i, got in runs:
        assert got == expected[i]
