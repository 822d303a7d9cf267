"""`codeward review`: files, directories, stdin, diffs, bad inputs, exit codes, JSON and SARIF output."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest

from codeward.cli.commands import review
from codeward.safety.diff import DiffError, parse_diff

INSECURE = "import os\n\ndef run(cmd):\n    os.system(cmd)\n"
MEDIUM_ONLY = "def f(text):\n    return eval(text)\n"
CLEAN = "def add(a, b):\n    return a + b\n"


def run_review(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: bytes = b"") -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="codeward")
    review.register(parser.add_subparsers())
    args = parser.parse_args(["review", *argv])
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = args.func(args)
    finally:
        sys.stdin = old
    return code, capsys.readouterr().out


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no codeward.toml from the checkout, diffs relative to tmp_path
    for name in list(__import__("os").environ):
        if name.startswith("CODEWARD_"):
            monkeypatch.delenv(name)


def test_json_shape_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.py").write_text(INSECURE)
    (tmp_path / "ok.py").write_text(CLEAN)
    code, out = run_review(["bad.py", "ok.py", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1
    assert data["summary"] == {"files": 2, "findings": 1, "errors": 0, "disabled_by_project": {}}
    bad, ok = data["files"]
    assert bad["path"] == "bad.py" and bad["error"] is None and ok["findings"] == []
    (finding,) = bad["findings"]
    assert list(finding) == ["rule_id", "cwe", "severity", "confidence", "line", "end_line", "col", "message",
                             "source", "kind"]
    assert finding["kind"] == "security"
    assert (finding["rule_id"], finding["line"], finding["cwe"]) == ("B605", 4, 78)
    assert run_review(["ok.py"], capsys)[0] == 0


def test_fail_on_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.py").write_text(MEDIUM_ONLY)
    assert run_review(["m.py", "--fail-on", "medium"], capsys)[0] == 1
    assert run_review(["m.py", "--fail-on", "high"], capsys)[0] == 0
    code, out = run_review(["m.py", "--min-severity", "high", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["summary"]["findings"] == 0


def test_bad_inputs_are_per_file_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02import os")
    (tmp_path / "latin.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    (tmp_path / "big.py").write_text("x = 1\n" * 50)
    (tmp_path / "bad.py").write_text(INSECURE)
    monkeypatch.setenv("CODEWARD_SAFETY_MAX_FILE_BYTES", "200")
    names = ["empty.py", "blob.py", "latin.py", "big.py", "missing.py", "bad.py"]
    code, out = run_review([*names, "--format", "json"], capsys)
    files = {f["path"]: f for f in json.loads(out)["files"]}
    assert code == 2
    assert files["empty.py"] == {"path": "empty.py", "error": None, "findings": []}
    assert "binary" in files["blob.py"]["error"]
    assert "utf-8" in files["latin.py"]["error"]
    assert "200" in files["big.py"]["error"] and "max_file_bytes" in files["big.py"]["error"]
    assert "no such file" in files["missing.py"]["error"]
    assert files["bad.py"]["findings"], "the run goes on after bad inputs"


def test_directories_and_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = tmp_path / "pkg" / "sub"
    pkg.mkdir(parents=True)
    (pkg / "a.py").write_text(INSECURE)
    (tmp_path / "pkg" / "notes.txt").write_text("os.system(x)")
    (tmp_path / "pkg" / ".hidden").mkdir()
    (tmp_path / "pkg" / ".hidden" / "h.py").write_text(INSECURE)
    code, out = run_review(["pkg", "--format", "json"], capsys)
    assert code == 1 and [f["path"] for f in json.loads(out)["files"]] == [str(Path("pkg/sub/a.py"))]
    code, out = run_review(["-", "--format", "json"], capsys, stdin=MEDIUM_ONLY.encode())
    data = json.loads(out)
    assert code == 1 and data["files"][0]["path"] == "<stdin>"
    assert [f["rule_id"] for f in data["files"][0]["findings"]] == ["B307"]


def test_text_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.py").write_text(INSECURE)
    code, out = run_review(["bad.py"], capsys)
    assert code == 1
    assert out.splitlines()[0].startswith("bad.py:4:5: B605 [high/high]")
    assert out.splitlines()[-1] == "1 file(s) checked, 1 finding(s), 0 file(s) not checked (errors)"


DIFF = """\
diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,4 +1,5 @@
 import os
 
 def run(cmd):
-    print(cmd)
+    os.system(cmd)
+    return eval(cmd
@@ -10,2 +11,2 @@ def other():
 x = 1
-y = 2
+y = pickle.loads(x)
"""


def test_diff_reviews_only_added_lines_in_hunk_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_review(["--diff", "-", "--format", "json"], capsys, stdin=DIFF.encode())
    data = json.loads(out)
    (entry,) = data["files"]
    assert code == 1 and entry["path"] == "app.py" and entry["error"] is None
    assert sorted((f["rule_id"], f["line"]) for f in entry["findings"]) == [
        ("B301", 12), ("B307", 5), ("B605", 4)]  # no F821 for `pickle`: a hunk alone lacks the imports


def test_diff_uses_the_new_file_on_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = "import os\nimport pickle\ndef run(cmd):\n    os.system(cmd)\n    return eval(cmd)\n" + "\n" * 4 + "x = 1\n" \
          "y = pickle.loads(x)\nos.system('old')\n"
    (tmp_path / "app.py").write_text(new)
    (tmp_path / "change.diff").write_text(DIFF.replace("eval(cmd\n", "eval(cmd)\n"))
    code, out = run_review(["--diff", "change.diff", "--format", "json"], capsys)
    found = sorted((f["rule_id"], f["line"]) for f in json.loads(out)["files"][0]["findings"])
    assert code == 1 and found == [("B301", 12), ("B307", 5), ("B605", 4)]  # not line 13: not added


def test_diff_parsing() -> None:
    (fd,) = parse_diff(DIFF)
    assert fd.path == "app.py" and fd.added == {4, 5, 12}
    assert parse_diff("--- a/x.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n") == []
    with pytest.raises(DiffError):
        parse_diff("this is not a diff\n")


def test_no_inputs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_review([], capsys)
    assert exc.value.code == 2


def test_text_summary_does_not_count_unreadable_files_as_checked(tmp_path):
    import subprocess
    import sys

    good = tmp_path / "ok.py"
    good.write_text("x = 1\n")
    proc = subprocess.run([sys.executable, "-m", "codeward", "review", str(good), str(tmp_path / "missing.py")],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stdout.splitlines()[-1] == "1 file(s) checked, 0 finding(s), 1 file(s) not checked (errors)"


def _crash_bandit(monkeypatch: pytest.MonkeyPatch) -> None:
    from codeward.safety.checkers import bandit_adapter

    def boom(*args: object, **kwargs: object) -> list:
        raise RuntimeError("boom")

    monkeypatch.setattr(bandit_adapter, "run_bandit", boom)


def test_a_crashing_checker_is_the_files_error_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.py").write_text("def f(x=[]):\n    return x\n")
    _crash_bandit(monkeypatch)
    code, out = run_review(["bad.py", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 2
    assert data["summary"] == {"files": 1, "findings": 1, "errors": 1, "disabled_by_project": {}}
    (bad,) = data["files"]
    assert "bandit failed (RuntimeError: boom)" in bad["error"]
    assert [f["rule_id"] for f in bad["findings"]] == ["CW101"]  # the partial findings are still reported
    code, out = run_review(["bad.py"], capsys)
    assert code == 2 and "bad.py: error: safety check incomplete: bandit failed" in out


def test_a_crashing_checker_in_a_diff_hunk_is_the_files_error(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _crash_bandit(monkeypatch)
    code, out = run_review(["--diff", "-", "--format", "json"], capsys, stdin=DIFF.encode())
    (app,) = json.loads(out)["files"]
    assert code == 2 and app["error"].startswith("hunk at line ") and "bandit failed" in app["error"]
