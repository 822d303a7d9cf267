"""Diagnostics of accepted suggestions follow the document's edits and go away with the text they flag."""

from __future__ import annotations

import pytest
from lsprotocol import types

from codeward.completion.text import split_lines
from codeward.completion.types import Suggestion, TextRange
from codeward.lsp_server.context_diagnostics import ContextDiagnostics
from codeward.lsp_server.diagnostics import AcceptedFindings
from codeward.lsp_server.documents import Snapshot
from codeward.safety.findings import Finding

URI = "file:///tmp/a.py"
BEFORE = "def middle(xs):\n    "
TEXT = "return xs[len(xs) / 2]"
DOC = BEFORE + TEXT + "\n"  # the document once the suggestion is in


def _finding(line: int = 2, col: int = 11) -> Finding:
    return Finding("CW122", None, "medium", "high", line, line, col, "true division as an index", "codeward",
                   kind="bug")


def _suggestion() -> Suggestion:
    return Suggestion(id="s1", text=TEXT, insert_text="    " + TEXT, range=TextRange(1, 0, 4), offset=len(BEFORE),
                      replace_after=0, findings=(_finding(),))


class Doc:
    """A document that applies LSP changes (line, character in code points: ASCII here) like the workspace."""

    def __init__(self, text: str) -> None:
        self.text = text

    def change(self, sl: int, sc: int, el: int, ec: int, new: str) -> list[types.TextDocumentContentChangePartial]:
        lines = split_lines(self.text)
        offset = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
        self.text = self.text[:offset[sl] + sc] + new + self.text[offset[el] + ec:]
        return [types.TextDocumentContentChangePartial(types.Range(types.Position(sl, sc), types.Position(el, ec)),
                                                       new)]

    def snap(self) -> Snapshot:
        return Snapshot(URI, self.text, "python", "/tmp/a.py", "utf-16")


def _lines(found: AcceptedFindings, doc: Doc) -> list[int]:
    return [d.range.start.line for d in found.diagnostics(doc.snap())]


def test_an_accepted_finding_moves_with_lines_inserted_and_deleted_above_it():
    doc, found = Doc(DOC), AcceptedFindings()
    found.add(URI, _suggestion())
    assert _lines(found, doc) == [1]
    assert found.edited(URI, doc.change(0, 0, 0, 0, "import os\n\n"), doc.text)  # two lines above
    assert _lines(found, doc) == [3]
    assert found.edited(URI, doc.change(0, 0, 1, 0, ""), doc.text)  # one deleted above
    assert _lines(found, doc) == [2]
    assert found.edited(URI, doc.change(2, 0, 2, 0, "    # why\n"), doc.text)  # at the start of its own line
    assert _lines(found, doc) == [3]
    assert not found.edited(URI, doc.change(3, 26, 3, 26, "  # ok"), doc.text)  # typed after it: nothing moves
    assert _lines(found, doc) == [3]


def test_an_accepted_finding_goes_away_when_its_text_is_deleted_or_fixed():
    doc, found = Doc(DOC), AcceptedFindings()
    found.add(URI, _suggestion())
    assert _lines(found, doc) == [1]  # published at the accept
    assert found.edited(URI, doc.change(1, 22, 1, 23, "//"), doc.text)  # fixed: `/` -> `//`
    assert _lines(found, doc) == []
    doc, found = Doc(DOC), AcceptedFindings()
    found.add(URI, _suggestion())
    assert _lines(found, doc) == [1]
    assert found.edited(URI, doc.change(1, 0, 2, 0, ""), doc.text)  # its line deleted
    assert _lines(found, doc) == [] and not found.edited(URI, doc.change(0, 0, 0, 0, "\n"), doc.text)


def test_an_accept_that_comes_before_the_editor_inserts_the_suggestion_waits_for_its_text():
    doc, found = Doc(BEFORE + "\n"), AcceptedFindings()
    found.add(URI, _suggestion())
    assert _lines(found, doc) == []  # not in the document yet: nothing shown, nothing lost
    assert found.edited(URI, doc.change(1, 4, 1, 4, TEXT), doc.text)  # the editor inserts it now
    assert _lines(found, doc) == [1]


def test_an_accepted_suggestion_never_shown_in_the_document_is_forgotten_after_a_few_edits():
    doc, found = Doc(BEFORE + "\n"), AcceptedFindings()
    found.add(URI, _suggestion())
    for n in range(4):
        found.edited(URI, doc.change(0, 0, 0, 0, "#"), doc.text)
    doc.change(1, 4, 1, 4, TEXT)
    assert _lines(found, doc) == []


def test_context_findings_move_with_the_edits_until_the_next_check():
    checks = ContextDiagnostics(lambda uri: None)
    checks._found[URI] = [_finding(2), _finding(3)]
    checks.edited(URI, Doc("a\nb\nc\n").change(0, 1, 0, 1, "\nx\ny"))  # two lines in above both
    assert [f.line for f in checks._found[URI]] == [4, 5]
    checks.edited(URI, Doc("a\nx\ny\nb\nc\n").change(3, 0, 4, 0, ""))  # the first one's line deleted
    assert [f.line for f in checks._found[URI]] == [4]


@pytest.mark.timeout(60)  # a diagnostic that is not published again would wait for it forever
def test_the_server_moves_and_clears_an_accepted_suggestions_diagnostic_as_the_document_is_edited():
    import json
    import sys

    from codeward.testing.raw_client import served

    with served([sys.executable, "-m", "codeward.testing.fake_server"]) as (proc, c):

        def edit(version: int, sl: int, sc: int, el: int, ec: int, text: str) -> None:
            c.send("textDocument/didChange", {"textDocument": {"uri": URI, "version": version}, "contentChanges": [
                {"range": {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}},
                 "text": text}]}, request=False)

        def published() -> list[tuple[str, int]]:
            kept = [m for m in c.notifications if m["method"] == "textDocument/publishDiagnostics"]
            if kept:  # it came while a request waited for its answer
                c.notifications.remove(kept[0])
            params = kept[0]["params"] if kept else c.wait_for("textDocument/publishDiagnostics")
            return [(d["code"], d["range"]["start"]["line"]) for d in params["diagnostics"]]

        c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}, "initializationOptions": {
            "engine": {"model": "scripted:" + json.dumps([TEXT])},
            "completion": {"debounce_ms": 0}, "context": {"diagnostics": False}}})
        c.send("initialized", {}, request=False)
        c.send("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "python", "version": 1,
                                                         "text": BEFORE + "\n"}}, request=False)
        answer = c.request("textDocument/inlineCompletion", {"textDocument": {"uri": URI},
                                                             "position": {"line": 1, "character": 4},
                                                             "context": {"triggerKind": 1}})
        (item,) = answer["items"]
        edit(2, 1, 0, 1, 4, item["insertText"])  # the editor inserts the suggestion, then runs its command
        assert c.request("workspace/executeCommand", item["command"]) is True
        assert published() == [("CW122", 1)]
        edit(3, 0, 0, 0, 0, "import os\n\n")  # two lines above it
        assert published() == [("CW122", 3)]
        edit(4, 3, 0, 4, 0, "")  # its line deleted
        assert published() == []
        c.request("shutdown")
        c.send("exit", request=False)
        assert proc.wait(timeout=30) == 0
