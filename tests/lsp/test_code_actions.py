"""Code actions on a context diagnostic, over a raw LSP connection (pytest-lsp's converter reads a CodeAction that
carries a command as a Command): "Why?" explains the rule, "Ignore here" adds `# nosec RULE`, which silences it."""

from __future__ import annotations

import subprocess
import sys

from codeward.testing.raw_client import RawClient

BUGGY = "def middle(xs):\n    return xs[len(xs) / 2]\n\n\ndef first(xs):\n    return xs[0]\n"


def test_why_explains_and_ignore_here_adds_the_suppression_comment():
    proc = subprocess.Popen([sys.executable, "-m", "codeward", "serve"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    c = RawClient.over_pipes(proc)
    try:
        c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                 "initializationOptions": {"context": {"diagnostics_delay_ms": 0}}})
        c.send("initialized", {}, request=False)
        uri = "file:///tmp/codeward-test/why.py"
        c.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                         "text": BUGGY}}, request=False)
        while not (params := c.wait_for("textDocument/publishDiagnostics"))["diagnostics"]:
            pass
        diags = params["diagnostics"]
        assert [d["code"] for d in diags] == ["CW122"]
        why, ignore = c.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": diags[0]["range"],
                                                            "context": {"diagnostics": diags}})
        assert why["kind"] == "quickfix" and why["command"] == {
            "title": "Explain CW122", "command": "codeward.explainDiagnostic", "arguments": ["CW122"]}
        text = c.request("workspace/executeCommand", {"command": "codeward.explainDiagnostic", "arguments": ["CW122"]})
        assert "true division" in text.lower() and "Evaluating Large Language Models Trained on Code" in text
        (edit,) = ignore["edit"]["changes"][uri]
        line = BUGGY.split("\n")[1]
        assert edit == {"range": {"start": {"line": 1, "character": len(line)},
                                  "end": {"line": 1, "character": len(line)}}, "newText": "  # nosec CW122"}
        c.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": edit["range"], "text": edit["newText"]}]}, request=False)  # what the editor does with it
        assert c.wait_for("textDocument/publishDiagnostics")["diagnostics"] == []
        c.request("shutdown")
        c.send("exit", request=False)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_ignore_here_extends_an_existing_nosec_comment_and_leaves_a_bare_one_alone():
    from codeward.lsp_server.code_actions import ignore_edit

    (edit,) = ignore_edit("u", "x = xs[n / 2]  # nosec B602", 0, "CW122", 27).changes["u"]
    assert edit.new_text == "# nosec B602,CW122" and (edit.range.start.character, edit.range.end.character) == (15, 27)
    (edit,) = ignore_edit("u", "x = xs[n / 2]", 0, "CW122", 13).changes["u"]
    assert edit.new_text == "  # nosec CW122" and edit.range.start.character == 13


def _diag(rule: str, line: int = 0, source: str = "codeward"):
    from lsprotocol import types

    return types.Diagnostic(range=types.Range(types.Position(line, 0), types.Position(line, 1)), message="m",
                            code=rule, source=source)


def test_why_explains_a_taint_rule_and_the_diagnostics_rules_from_the_catalogue():
    from codeward.lsp_server.code_actions import explanation
    from codeward.safety.taint.specs import rule_ids

    text = explanation("CW201")
    assert text.startswith("CW201: ") and rule_ids()["CW201"].message in text and "CWE-22" in text
    assert "`# nosec CW201`" in text and "Evaluating Large Language Models" not in text  # a security rule
    assert "docstring" in explanation("cw131") and "Evaluating Large Language Models" in explanation("CW131")
    assert explanation("B602") == "B602: not one of codeward's rules."


def test_actions_offer_why_on_every_known_id_and_ignore_here_on_the_context_kinds():
    from codeward.lsp_server.code_actions import actions

    lines = ["x = xs[len(xs) / 2]", "open(request.args['f'])"]
    found = actions("u", lines, [_diag("CW122", 0), _diag("CW201", 1), _diag("B602", 1), _diag("CW122", 0, "other")])
    assert [a.title for a in found] == ["Why is this flagged? (CW122)", "Ignore CW122 here (# nosec CW122)",
                                        "Why is this flagged? (CW201)"]
    assert found[2].command.arguments == ["CW201"]


def test_ignore_here_follows_the_rules_kind(monkeypatch):
    from codeward.lsp_server.code_actions import actions
    from codeward.safety.rules import all_rules

    monkeypatch.setattr(all_rules()["CW110"], "kind", "bug")
    titles = [a.title for a in actions("u", ["cur.execute('%s' % x)"], [_diag("CW110")])]
    assert titles == ["Why is this flagged? (CW110)", "Ignore CW110 here (# nosec CW110)"]
