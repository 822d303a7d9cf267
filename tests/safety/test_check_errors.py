"""A checker that crashes makes the check fail loudly (CheckError), never a clean "no findings" result."""

from __future__ import annotations

import logging

import pytest

from codeward.safety import engine, rules
from codeward.safety.api import CheckError, check_suggestion, check_text, error_shown
from codeward.safety.checkers import bandit_adapter, pyflakes_adapter
from codeward.safety.settings import SafetySettings

BUFFER = "import os\n\n"
SUGGESTION = "def run(cmd, seen=[]):\n    os.system(cmd)\n"  # B605 (bandit) and CW101 (libcst rules)


def _boom(*args: object, **kwargs: object) -> list:
    raise RuntimeError("boom")


def test_a_crashing_bandit_raises_check_error_with_the_other_findings(monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(bandit_adapter, "run_bandit", _boom)
    with caplog.at_level(logging.WARNING, logger="codeward.safety"), pytest.raises(CheckError) as info:
        check_suggestion(BUFFER, len(BUFFER), SUGGESTION)
    exc = info.value
    assert "bandit failed (RuntimeError: boom)" in str(exc) and exc.checkers == ("bandit",)
    assert {f.rule_id for f in exc.findings} == {"CW101"}  # the libcst rules still ran
    assert any(r.exc_info for r in caplog.records), "the crash must be logged with its traceback"


@pytest.mark.parametrize("module,name,checker", [
    (bandit_adapter, "run_bandit", "bandit"),
    (rules, "run_rules", "libcst rules"),
    (pyflakes_adapter, "run_pyflakes", "pyflakes"),
    (engine, "repair", "the repair"),
])
def test_each_checker_crash_is_a_check_error(monkeypatch: pytest.MonkeyPatch, module: object, name: str,
                                             checker: str) -> None:
    monkeypatch.setattr(module, name, _boom)
    text = "import os\ncmd = input(\nos.system(cmd)\n"  # needs the repair
    for call in (lambda: check_text(text), lambda: check_suggestion(BUFFER, len(BUFFER), SUGGESTION)):
        with pytest.raises(CheckError, match=f"{checker} failed") as info:
            call()
        assert info.value.checkers == (checker,)


def test_a_crashing_repair_still_token_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "repair", _boom)
    with pytest.raises(CheckError) as info:
        check_text("import os\nos.system(cmd)\n")
    assert [(f.rule_id, f.source) for f in info.value.findings] == [("B605", "tokens")]


def test_pyflakes_internal_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyflakes import checker

    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("'Name' object has no attribute 'ctx'")

    monkeypatch.setattr(checker, "Checker", broken)
    with pytest.raises(CheckError, match="pyflakes failed \\(AttributeError"):
        check_text("x = y\n")
    assert check_text("x = y\n", SafetySettings(pyflakes=False)) == []


def test_a_crash_outside_the_checkers_is_a_check_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "dedupe", _boom)
    with pytest.raises(CheckError, match="the engine failed \\(RuntimeError: boom\\)") as info:
        check_text("x = 1\n")
    assert info.value.checkers == ("engine",) and info.value.findings == ()


def test_check_error_is_a_runtime_error_with_defaults() -> None:
    exc = CheckError("bandit failed: boom")
    assert isinstance(exc, RuntimeError) and str(exc) == "bandit failed: boom"
    assert exc.findings == () and exc.checkers == ()


def test_on_error_setting_and_error_shown() -> None:
    assert SafetySettings().on_error == "warn"
    assert [error_shown(SafetySettings(on_error=v)) for v in ("warn", "allow", "block")] == [True, True, False]


def test_an_incomplete_check_is_the_stricter_of_its_partial_findings_and_on_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: the findings of the checkers that ran still count; `error` only where on_error is as strict."""
    from codeward.safety.api import decide_incomplete

    monkeypatch.setattr(rules, "run_rules", _boom)  # bandit still runs: B605 (os.system) is high, a block
    with pytest.raises(CheckError) as info:
        check_suggestion(BUFFER, len(BUFFER), SUGGESTION)
    partial = info.value.findings
    assert "B605" in {f.rule_id for f in partial}
    assert decide_incomplete(partial, SafetySettings()) == "block"  # today's `error` would show it with a warning
    assert decide_incomplete(partial, SafetySettings(on_high="warn")) == "error"  # as strict as on_error = warn
    assert decide_incomplete(partial, SafetySettings(on_high="warn", on_error="allow")) == "warn"
    assert decide_incomplete((), SafetySettings(on_error="allow")) == "error"  # never a plain allow


def test_the_screened_suggestion_keeps_the_partial_findings_their_verdict_and_says_it_is_incomplete(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward.completion.screening import hides, screen_one
    from codeward.completion.types import Suggestion, TextRange

    monkeypatch.setattr(rules, "run_rules", _boom)
    s = Suggestion(id="s1", text=SUGGESTION, insert_text=SUGGESTION, range=TextRange(2, 0, 0),
                   offset=len(BUFFER), replace_after=0)
    settings = SafetySettings()
    checked = screen_one(BUFFER, s, settings, "python")
    assert checked.verdict == "block" and hides(checked.verdict, settings)
    assert checked.incomplete and "libcst rules failed (RuntimeError: boom)" in (checked.check_error or "")
    row = checked.as_dict()
    assert row["verdict"] == "block" and row["incomplete"] is True and "B605" in {f["rule_id"] for f in row["findings"]}
    clean = screen_one("", Suggestion(id="s2", text="x = 1\n", insert_text="x = 1\n", range=TextRange(0, 0, 0),
                                      offset=0, replace_after=0), settings, "python")
    assert clean.verdict == "error" and clean.incomplete and not hides(clean.verdict, settings)
    monkeypatch.undo()
    assert not screen_one(BUFFER, s, settings, "python").incomplete
    assert checked.as_dict().keys() >= {"verdict", "findings", "copies_bug", "incomplete", "check_error"}
