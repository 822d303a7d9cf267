"""Code actions on a context diagnostic, over a raw LSP connection (pytest-lsp's converter reads a CodeAction that
carries a command as a Command): "Why?" explains the rule, "Ignore here" adds `# nosec RULE`, which silences it."""

from __future__ import annotations

import subprocess
import sys

from .raw_client import RawClient

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
