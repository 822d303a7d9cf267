"""Execute samples against their tasks into a run's exec.jsonl, resumably: rows already there are kept,
the rest run in the sandbox pool and are appended one by one as they finish."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tqdm import tqdm

from codeward.eval.datasets import Problem, Sample, SampleKey
from codeward.eval.runfolder import EXEC, RunFolder
from codeward.sandbox.workers import ExecResult, SandboxPool, is_harness_error

log = logging.getLogger(__name__)
EXEC_FIELDS = ("task_id", "model", "temperature", "arm", "sample_idx", "passed", "result", "duration_s")


def exec_row(sample: Sample, res: ExecResult) -> dict[str, Any]:
    """One exec.jsonl row (DESIGN.md contract), with `harness_error: true` when the sandbox failed."""
    row = {
        "task_id": sample.task_id,
        "model": sample.model,
        "temperature": sample.temperature,
        "arm": sample.arm,
        "sample_idx": sample.sample_idx,
        "passed": res.passed,
        "result": res.result,
        "duration_s": round(res.duration_s, 4),
    }
    if res.harness_error:
        row["harness_error"] = True
    return row


def is_harness_row(row: Mapping[str, Any]) -> bool:
    """A row the harness failed on (marked, or with a harness-fault result from before the mark existed)."""
    return bool(row.get("harness_error")) or is_harness_error(str(row.get("result", "")))


def row_key(row: Mapping[str, Any]) -> SampleKey:
    """The sample key of an exec.jsonl or samples.jsonl row."""
    temp = row.get("temperature")
    return (
        row.get("model"),
        None if temp is None else float(temp),
        row.get("arm", "all"),
        row["task_id"],
        int(row["sample_idx"]),
    )


def _done_rows(folder: RunFolder, wanted: set[SampleKey]) -> dict[SampleKey, dict[str, Any]]:
    done: dict[SampleKey, dict[str, Any]] = {}
    for row in folder.rows(EXEC):
        if not all(f in row for f in EXEC_FIELDS):
            log.warning("%s: ignoring a row without the exec.jsonl fields: %r", folder.file(EXEC), row)
            continue
        key = row_key(row)
        if key in wanted and key not in done and not is_harness_row(row):  # harness errors run again
            done[key] = row
    return done


def execute_samples(
    samples: list[Sample],
    problems: Mapping[str, Problem],
    folder: RunFolder,
    pool: SandboxPool,
    progress: bool | None = None,
    program_of: Callable[[Sample], str] | None = None,
) -> list[dict[str, Any]]:
    """Run every sample not yet in exec.jsonl, append its row, and return all rows in sample order.
    `program_of(sample)` builds a sample's program where it depends on more than the task (an arm's own prompt)."""
    by_key = {s.key: s for s in samples}
    done = _done_rows(folder, set(by_key))
    todo = [s for s in samples if s.key not in done]
    if done:
        log.info("resuming: %d of %d samples already executed", len(done), len(samples))

    def jobs() -> Iterable[tuple[SampleKey, str]]:
        for s in todo:
            yield s.key, program_of(s) if program_of else problems[s.task_id].program(s.completion)

    quiet = not sys.stderr.isatty() if progress is None else not progress
    with (
        folder.appender(EXEC) as out,
        tqdm(
            total=len(samples), initial=len(done), unit="prog", desc="exec", file=sys.stderr, disable=quiet
        ) as bar,
    ):
        for key, res in pool.run(jobs()):
            row = exec_row(by_key[key], res)
            out.write(row)
            done[key] = row
            bar.update(1)
    return [done[s.key] for s in samples]


def result_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many rows passed, failed, timed out, were killed, and were harness errors (not in `killed`)."""
    kinds: Counter[str] = Counter()
    for r in rows:
        res = str(r["result"])
        kinds[
            "harness_errors"
            if is_harness_row(r)
            else "passed"
            if res == "passed"
            else "timed_out"
            if res == "timed out"
            else "failed"
            if res.startswith("failed")
            else "killed"
        ] += 1
    return {k: kinds.get(k, 0) for k in ("passed", "failed", "timed_out", "killed", "harness_errors")}


def top_results(rows: Iterable[Mapping[str, Any]], n: int = 10) -> list[tuple[str, int]]:
    """The most frequent result strings other than `passed`."""
    return Counter(str(r["result"]) for r in rows if r["result"] != "passed").most_common(n)
