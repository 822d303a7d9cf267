"""Loading and validating tasks and samples files."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeward.eval.datasets import load_problems, load_samples
from codeward.eval.jsonl import DataError


def test_humaneval_loads_from_package() -> None:
    problems = load_problems()
    assert len(problems) == 164
    p = problems["HumanEval/0"]
    assert p.entry_point == "has_close_elements" and p.canonical_solution


def test_bad_task_rows_name_line_and_field(tmp_path: Path, write_jsonl, add_task) -> None:
    bad = dict(add_task)
    del bad["test"]
    p = write_jsonl(tmp_path / "data.jsonl", [add_task, bad, {**add_task, "task_id": 5}])
    with pytest.raises(DataError) as err:
        load_problems(p)
    assert "data.jsonl:2: field 'test' is missing" in str(err.value)
    assert "data.jsonl:3: field 'task_id' is a int, not a string" in str(err.value)


def test_samples_validation_and_numbering(tmp_path: Path, write_jsonl, add_task) -> None:
    problems = load_problems(write_jsonl(tmp_path / "d.jsonl", [add_task]))
    rows = [
        {"task_id": "t/add", "completion": "a", "note": "kept"},
        {"task_id": "t/add", "completion": "b"},
        {"task_id": "t/add", "completion": "c", "temperature": 0.8, "model": "m"},
    ]
    samples = load_samples(write_jsonl(tmp_path / "s.jsonl", rows), problems)
    assert [s.sample_idx for s in samples] == [0, 1, 0]
    assert samples[0].extra == {"note": "kept"}
    assert samples[2].key == ("m", 0.8, "all", "t/add", 0)
    bad = [
        {"task_id": "t/add"},
        {"task_id": "HumanEval/0", "completion": "x"},
        {"task_id": "t/add", "completion": "x", "temperature": "hot"},
        {"task_id": "t/add", "completion": "x", "sample_idx": 0},
        {"task_id": "t/add", "completion": "y", "sample_idx": 0},
    ]
    with pytest.raises(DataError) as err:
        load_samples(write_jsonl(tmp_path / "bad.jsonl", bad), problems)
    text = str(err.value)
    assert "bad.jsonl:1: field 'completion' is missing" in text
    assert "bad.jsonl:2: task_id 'HumanEval/0' is not in the data set" in text
    assert "bad.jsonl:3: field 'temperature' must be a number" in text
    assert "bad.jsonl:5: duplicate sample" in text and "first on line 4" in text
