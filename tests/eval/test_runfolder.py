"""Run folder, append-only JSONL and resume bookkeeping."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codeward.eval.jsonl import DataError, JsonlAppender, iter_jsonl, read_rows, repair_tail
from codeward.eval.runfolder import CONFIG, EXEC, RunFolder, RunFolderError, default_out


def test_appender_writes_whole_lines(tmp_path: Path) -> None:
    p = tmp_path / "rows.jsonl"
    with JsonlAppender(p) as out:
        out.write({"a": 1})
        assert p.read_text() == '{"a": 1}\n'  # visible before close: flushed per row
        out.write({"b": "é"})
    assert read_rows(p) == [{"a": 1}, {"b": "é"}]


def test_torn_last_line_is_cut_on_resume(tmp_path: Path) -> None:
    p = tmp_path / "exec.jsonl"
    p.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "tr')
    assert read_rows(p, repair=True) == [{"a": 1}, {"a": 2}]
    assert p.read_text() == '{"a": 1}\n{"a": 2}\n'
    with JsonlAppender(p) as out:
        out.write({"a": 3})
    assert read_rows(p) == [{"a": 1}, {"a": 2}, {"a": 3}]
    q = tmp_path / "only_torn.jsonl"
    q.write_text('{"x"')
    assert repair_tail(q) == 4 and q.read_text() == ""


def test_corrupt_middle_line_is_reported_with_line_number(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        list(iter_jsonl(p))


def test_new_folder_refuses_existing_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    folder = RunFolder.open(str(out), "passk", {"x": 1}, resume=False)
    cfg = json.loads((out / CONFIG).read_text())
    assert cfg["x"] == 1 and "created_at" in cfg["run"]
    folder.appender(EXEC).close()
    with pytest.raises(RunFolderError, match="already exists"):
        RunFolder.open(str(out), "passk", {"x": 1}, resume=False)


def test_resume_requires_same_config(tmp_path: Path) -> None:
    out = tmp_path / "run"
    RunFolder.open(str(out), "passk", {"eval": {"timeout_s": 3.0}, "k": [1]}, resume=False)
    with pytest.raises(RunFolderError, match=r"eval.timeout_s: 3.0 -> 5.0"):
        RunFolder.open(str(out), "passk", {"eval": {"timeout_s": 5.0}, "k": [1]}, resume=True)
    again = RunFolder.open(
        str(out), "passk", {"eval": {"timeout_s": 3.0}, "k": [1]}, resume=True, volatile={"workers": 4}
    )
    run = again.read_config()["run"]
    assert len(run["resumed_at"]) == 1 and run["workers"] == 4
    with pytest.raises(RunFolderError, match="not a run folder"):
        RunFolder.open(str(tmp_path / "nothing"), "passk", {}, resume=True)
    with pytest.raises(RunFolderError, match="--resume needs --out"):
        RunFolder.open(None, "passk", {}, resume=True)


def test_default_out_name() -> None:
    assert re.fullmatch(r"runs/\d{8}-\d{6}-passk", default_out("passk").as_posix())
