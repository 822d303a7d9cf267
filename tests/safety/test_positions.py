"""Where findings point: code-point columns (bandit and pyflakes count UTF-8 bytes, tabs are expanded for the
parser) and line numbers in files and diffs holding form feeds or CRLF endings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from codeward.safety.api import check_suggestion, check_text
from codeward.safety.diff import parse_diff
from codeward.safety.review import review_diff
from codeward.safety.settings import SafetySettings


def _cols(text: str, settings: SafetySettings | None = None) -> dict[str, tuple[int, int]]:
    return {f.rule_id: (f.line, f.col) for f in check_text(text, settings)}


def test_columns_count_code_points_after_non_ascii_text() -> None:
    line = 's = "héllo 😀"; os.system(u)'
    found = _cols("import os\n" + line + "\n")
    assert found["B605"] == (2, line.index("os.system"))
    assert found["F821"] == (2, line.index("u)"))


def test_columns_of_a_cw_rule_after_non_ascii_text() -> None:
    line = 'label = "ü"; ok = n is not 0'
    assert _cols(line + "\n")["CW102"] == (1, line.index("n is not"))


def test_token_scan_columns_on_tab_indented_unparsable_lines() -> None:
    text = "import os\ndef f(u):\n\tx = = 1\n\tos.system(u) if +\n\tfoo(\n"
    (f,) = [f for f in check_text(text) if f.rule_id == "B605"]
    assert (f.source, f.line, f.col) == ("tokens", 4, 1)


def test_columns_on_tab_indented_parsed_lines() -> None:
    text = "import os\nif x:\n\tos.system(u)\n"
    assert _cols(text, SafetySettings(pyflakes=False))["B605"] == (3, 1)


def test_suggestion_columns_with_non_ascii_before_the_cursor() -> None:
    buffer = 'import os\nname = "日本"; '
    (f,) = check_suggestion(buffer, len(buffer), "os.system(name)", SafetySettings(pyflakes=False))
    assert (f.rule_id, f.line, f.col) == ("B605", 2, len('name = "日本"; '))


def test_nosec_after_a_form_feed_line() -> None:
    text = "import os\n\x0c\ndef f(u):\n    os.system(u)  # nosec\n"
    assert check_text(text) == []
    text = 'import os\nx = "a\x0cb"\nos.system(u)  # nosec B605\n'
    assert [f.rule_id for f in check_text(text)] == ["F821"]


FF_DIFF = """\
--- a/a.py
+++ b/a.py
@@ -1,4 +1,5 @@
 import os
-
+\x0c
 def f(u):
+    os.system(u)
     return u
"""


def test_diff_with_a_form_feed_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (fd,) = parse_diff(FF_DIFF)
    assert fd.added == {2, 4} and len(fd.hunks[0].lines) == 5
    (alone,) = review_diff([fd], SafetySettings(), tmp_path)
    assert [(f.rule_id, f.line) for f in alone.findings] == [("B605", 4)]
    (tmp_path / "a.py").write_text("import os\n\x0c\ndef f(u):\n    os.system(u)\n    return u\n")
    with caplog.at_level(logging.INFO, logger="codeward.safety.review"):
        (on_disk,) = review_diff(parse_diff(FF_DIFF), SafetySettings(), tmp_path)
    assert [(f.rule_id, f.line) for f in on_disk.findings] == [("B605", 4)]
    assert "differs from the diff" not in caplog.text


def test_diff_with_crlf_line_endings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    diff = FF_DIFF.replace("\x0c", "").replace("\n", "\r\n")
    (fd,) = parse_diff(diff)
    assert fd.path == "a.py" and fd.added == {2, 4}
    (tmp_path / "a.py").write_bytes(b"import os\r\n\r\ndef f(u):\r\n    os.system(u)\r\n    return u\r\n")
    with caplog.at_level(logging.INFO, logger="codeward.safety.review"):
        (report,) = review_diff([fd], SafetySettings(), tmp_path)
    assert [(f.rule_id, f.line) for f in report.findings] == [("B605", 4)]
    assert "differs from the diff" not in caplog.text  # checked in the file on disk, not the hunk alone


NO_PYFLAKES = SafetySettings(pyflakes=False)


def _found(buffer: str, offset: int, suggestion: str) -> list[tuple[str, int, int]]:
    return [(f.rule_id, f.line, f.col) for f in check_suggestion(buffer, offset, suggestion, NO_PYFLAKES)]


def test_code_already_on_the_cursor_line_does_not_count_against_the_suggestion() -> None:
    before = "import os\ndef f(cmd):\n    os.system(cmd); x = "
    assert _found(before, len(before), "len(cmd)") == []
    assert _found(before, len(before), "eval(cmd)") == [("B307", 3, len("    os.system(cmd); x = "))]
    after = "import os\ndef f(cmd):\n    x = ; os.system(cmd)\n"
    cursor = after.index("= ;") + 2
    assert _found(after, cursor, "len(cmd)") == []
    assert _found(after, cursor, "[\n        1,\n        eval(cmd)]") == [("B307", 5, 8)]


def test_a_suggestion_completing_an_insecure_call_still_counts() -> None:
    buffer = "import subprocess\ndef f(cmd):\n    subprocess.call(cmd, shell="
    assert _found(buffer, len(buffer), "True)") == [("B602", 3, 4)]
    buffer = "import os\ndef f(cmd):\n    x = 1; "
    assert _found(buffer, len(buffer), "os.system(cmd)") == [("B605", 3, 11)]


def test_suggestion_columns_on_a_tab_indented_line() -> None:
    buffer = "import os\ndef run(cmd):\n\t"
    assert _found(buffer, len(buffer), "os.system(cmd)") == [("B605", 3, 1)]
