"""Code actions on a context diagnostic, over a raw LSP connection (pytest-lsp's converter reads a CodeAction that
carries a command as a Command): "Why?" explains the rule, "Ignore here" adds `# nosec RULE`, which silences it."""

from __future__ import annotations

import sys

from codeward.testing.raw_client import served

BUGGY = "def middle(xs):\n    return xs[len(xs) / 2]\n\n\ndef first(xs):\n    return xs[0]\n"


def test_why_explains_and_ignore_here_adds_the_suppression_comment():
    with served([sys.executable, "-m", "codeward", "serve"]) as (proc, c):
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


def test_ignore_here_extends_an_existing_nosec_comment_and_leaves_a_bare_one_alone():
    from codeward.lsp_server.code_actions import ignore_edit

    (edit,) = ignore_edit("u", "x = xs[n / 2]  # nosec B602", 0, "CW122").changes["u"]
    assert edit.new_text == "# nosec B602,CW122" and (edit.range.start.character, edit.range.end.character) == (15, 27)
    (edit,) = ignore_edit("u", "x = xs[n / 2]", 0, "CW122").changes["u"]
    assert edit.new_text == "  # nosec CW122" and edit.range.start.character == 13


def _snap(text: str, unit: str = "utf-16"):
    from codeward.lsp_server.documents import Snapshot

    return Snapshot("u", text, "python", "/tmp/u.py", unit)  # type: ignore[arg-type]


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

    snap = _snap("x = xs[len(xs) / 2]\nopen(request.args['f'])")
    found = actions(snap, [_diag("CW122", 0), _diag("CW201", 1), _diag("B602", 1), _diag("CW122", 0, "other")])
    assert [a.title for a in found] == ["Why is this flagged? (CW122)", "Ignore CW122 here (# nosec CW122)",
                                        "Why is this flagged? (CW201)"]
    assert found[2].command.arguments == ["CW201"]


def test_ignore_here_follows_the_rules_kind(monkeypatch):
    from codeward.lsp_server.code_actions import actions
    from codeward.safety.rules import all_rules

    monkeypatch.setattr(all_rules()["CW110"], "kind", "bug")
    titles = [a.title for a in actions(_snap("cur.execute('%s' % x)"), [_diag("CW110")])]
    assert titles == ["Why is this flagged? (CW110)", "Ignore CW110 here (# nosec CW110)"]


def _ignore(found):
    (edit,) = next(a for a in found if a.edit is not None).edit.changes["u"]
    return edit.range.start.character, edit.range.end.character, edit.new_text


def test_ignore_here_counts_columns_in_the_negotiated_encoding():
    from codeward.lsp_server.code_actions import actions

    line = "label = 'é😀'; x = xs[len(xs) / 2]"  # é: 2 UTF-8 bytes, 1 UTF-16 unit; 😀: 4 bytes, 2 units
    ends = {"utf-8": len(line.encode()), "utf-16": len(line) + 1, "code-point": len(line)}
    for unit, end in ends.items():
        assert _ignore(actions(_snap(line, unit), [_diag("CW122")])) == (end, end, "  # nosec CW122"), unit
    commented = line + "  # nosec B602"
    start = len(line.encode()) + 2
    assert _ignore(actions(_snap(commented, "utf-8"), [_diag("CW122")])) == (
        start, len(commented.encode()), "# nosec B602,CW122")


def test_code_actions_split_lines_at_every_lsp_line_ending():
    from codeward.lsp_server.code_actions import actions

    for eol in ("\r\n", "\r"):
        snap = _snap(f"import os{eol}x = xs[len(xs) / 2]{eol}", "utf-8")
        assert _ignore(actions(snap, [_diag("CW122", 1)])) == (19, 19, "  # nosec CW122"), repr(eol)


def test_the_edited_position_is_in_the_clients_unit_and_lsp_lines():
    from lsprotocol import types

    from codeward.lsp_server.documents import edited_position

    def change(text: str) -> list[types.TextDocumentContentChangePartial]:
        return [types.TextDocumentContentChangePartial(types.Range(types.Position(2, 3), types.Position(2, 3)), text)]

    assert edited_position(change("é😀"), "utf-8") == types.Position(2, 3 + 6)
    assert edited_position(change("é😀"), "utf-16") == types.Position(2, 3 + 3)
    assert edited_position(change("é😀"), "code-point") == types.Position(2, 3 + 2)
    assert edited_position(change("a\r\nbé"), "utf-8") == types.Position(3, 3)
    assert edited_position(change("a\rb"), "utf-16") == types.Position(3, 1)


def test_ignore_here_lands_at_the_end_of_a_non_ascii_line_for_a_utf8_client():
    """Neovim negotiates UTF-8: the edit's column counts bytes, so the comment goes at the end of the line."""
    text = 'def middle(xs):\n    return xs[len(xs) / 2] or "é😀"\n'
    with served([sys.executable, "-m", "codeward", "serve"]) as (proc, c):
        init = c.request("initialize", {"processId": None, "rootUri": None,
                                        "capabilities": {"general": {"positionEncodings": ["utf-8"]}},
                                        "initializationOptions": {"context": {"diagnostics_delay_ms": 0}}})
        assert init["capabilities"]["positionEncoding"] == "utf-8"
        c.send("initialized", {}, request=False)
        uri = "file:///tmp/codeward-test/utf8.py"
        c.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                         "text": text}}, request=False)
        while not (params := c.wait_for("textDocument/publishDiagnostics"))["diagnostics"]:
            pass
        diags = params["diagnostics"]
        _, ignore = c.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": diags[0]["range"],
                                                          "context": {"diagnostics": diags}})
        (edit,) = ignore["edit"]["changes"][uri]
        end = len(text.split("\n")[1].encode())  # 38 bytes; UTF-16 would say 35
        assert edit["range"] == {"start": {"line": 1, "character": end}, "end": {"line": 1, "character": end}}
        c.request("shutdown")
        c.send("exit", request=False)
        assert proc.wait(timeout=30) == 0
