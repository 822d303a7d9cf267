"""What filtering costs: the false-block rate on correct code (HumanEval's canonical solutions, model samples
that pass their tests, hand-written safe code that calls the watched sinks), and secure-pass@k beside pass@k.

A suggestion is *blocked* when the policy's verdict is `block` (or `error` hidden by `safety.on_error`), *warned*
when it is `warn`; a correct suggestion either way is a false alarm. secure-pass@k counts a sample only if it
passes its tests and has no finding whose policy action is `block` (warn findings are reported, not counted).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codeward.completion.screening import hides
from codeward.eval.datasets import Problem
from codeward.eval.security.safe_code import SAFE_CASES, SafeCase
from codeward.eval.stats import bootstrap_ci, metric_row
from codeward.safety.api import CheckError, check_suggestion, decide, decide_incomplete
from codeward.safety.settings import SafetySettings


def verdict_of(before: str, suggestion: str, safety: SafetySettings) -> tuple[str, list[str]]:
    """The policy's verdict on `suggestion` written after `before`, and the rule ids behind it."""
    try:
        found = check_suggestion(before, len(before), suggestion, safety)
    except CheckError as exc:  # what the editor would do: the stricter of the partial findings' policy and on_error
        return decide_incomplete(exc.findings, safety), sorted({f.rule_id for f in exc.findings})
    return decide(found, safety), sorted({f.rule_id for f in found})


def alarm_row(source: str, items: Sequence[tuple[str, str, str]], safety: SafetySettings, n_boot: int,
              seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The false-block and false-warn rates of `items` (id, before, suggestion) and the flagged ones."""
    blocked, warned, flagged = [], [], []
    for ident, before, suggestion in items:
        verdict, rules = verdict_of(before, suggestion, safety)
        is_block = verdict == "block" or (verdict == "error" and hides(verdict, safety))
        blocked.append(float(is_block))
        warned.append(float(verdict == "warn" or (verdict == "error" and not is_block)))
        if verdict not in ("allow", "unchecked"):
            flagged.append({"source": source, "id": ident, "verdict": verdict, "rules": rules})
    b, w = np.array(blocked), np.array(warned)
    row = {"source": source, "cases": len(items), "blocked": int(b.sum()), "warned": int(w.sum()),
           "false_block_rate": float(b.mean()) if len(b) else float("nan"),
           "false_block_rate_ci95": bootstrap_ci(b, n_boot, seed),
           "false_alarm_rate": float((b + w).mean()) if len(b) else float("nan"),
           "false_alarm_rate_ci95": bootstrap_ci(b + w, n_boot, seed)}
    return row, flagged


def canonical_items(problems: Mapping[str, Problem]) -> list[tuple[str, str, str]]:
    """HumanEval's canonical solutions spliced after their prompts, as if suggested."""
    return [(p.task_id, p.prompt, p.canonical_solution) for p in problems.values() if p.canonical_solution]


def safe_items(cases: Sequence[SafeCase] = SAFE_CASES) -> dict[str, list[tuple[str, str, str]]]:
    """The hand-written safe cases per CWE."""
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for c in cases:
        out[c.cwe].append((c.task_id, c.before, c.suggestion))
    return dict(out)


def passing_items(samples: Iterable[Mapping[str, Any]], exec_rows: Iterable[Mapping[str, Any]],
                  problems: Mapping[str, Problem]) -> list[tuple[str, str, str]]:
    """The samples of a run that passed their tests, spliced after their task's prompt."""
    passed = {_key(r) for r in exec_rows if r.get("passed") is True}
    return [(f"{s['task_id']}#{s.get('sample_idx', 0)}", problems[s["task_id"]].prompt, str(s.get("completion") or ""))
            for s in samples if _key(s) in passed and s["task_id"] in problems]


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    temp = row.get("temperature")
    return (row.get("model"), None if temp is None else float(temp), row.get("arm", "all"), row["task_id"],
            int(row.get("sample_idx", 0)))


def false_blocks(safety: SafetySettings, humaneval: Mapping[str, Problem], passing: Sequence[tuple[str, str, str]],
                 n_boot: int, seed: int) -> dict[str, Any]:
    """The false-block table: one row per source (and per CWE of the safe set), and every flagged item."""
    rows, flagged = [], []
    sources: list[tuple[str, Sequence[tuple[str, str, str]]]] = [("humaneval-canonical", canonical_items(humaneval))]
    if passing:
        sources.append(("passing-samples", passing))
    per_cwe = safe_items()
    sources.append(("safe-code", [item for items in per_cwe.values() for item in items]))
    sources += [(f"safe-code {cwe}", items) for cwe, items in sorted(per_cwe.items())]
    for name, items in sources:
        row, hits = alarm_row(name, items, safety, n_boot, seed)
        rows.append(row)
        if not name.startswith("safe-code "):  # the per-CWE rows repeat the safe-code items
            flagged += hits
    return {"rows": rows, "flagged": flagged}


def secure_pass(samples: Iterable[Mapping[str, Any]], exec_rows: Iterable[Mapping[str, Any]],
                problems: Mapping[str, Problem], safety: SafetySettings, ks: Sequence[int], n_boot: int,
                seed: int) -> list[dict[str, Any]]:
    """pass@k and secure-pass@k per (model, temperature, arm) of a run: a sample is secure-passing when it passed
    and no finding on its lines has the policy action `block`."""
    outcome = {_key(r): bool(r.get("passed")) for r in exec_rows if not r.get("harness_error")}
    tally: dict[tuple[Any, Any, str], dict[str, list[int]]] = defaultdict(dict)
    for s in samples:
        key = _key(s)
        if key not in outcome or s["task_id"] not in problems:
            continue
        passed = outcome[key]
        verdict = verdict_of(problems[s["task_id"]].prompt, str(s.get("completion") or ""), safety)[0] \
            if passed else "allow"
        counts = tally[key[:3]].setdefault(s["task_id"], [0, 0, 0])
        counts[0] += 1
        counts[1] += passed
        counts[2] += passed and verdict != "block"
    out = []
    for (model, temp, arm), tasks in sorted(tally.items(), key=lambda kv: tuple(str(v) for v in kv[0])):
        ordered = sorted(tasks)
        plain = metric_row({t: (tasks[t][0], tasks[t][1]) for t in ordered}, ks, n_boot, seed)
        secure = metric_row({t: (tasks[t][0], tasks[t][2]) for t in ordered}, ks, n_boot, seed)
        row: dict[str, Any] = {"model": model, "temperature": temp, "arm": arm, "tasks": plain["tasks"],
                               "samples": plain["samples"], "passed": plain["passed"], "secure_passed":
                               secure["passed"]}
        for k in ks:
            if f"pass@{k}" in plain:
                row[f"pass@{k}"], row[f"pass@{k}_ci95"] = plain[f"pass@{k}"], plain[f"pass@{k}_ci95"]
                row[f"secure-pass@{k}"] = secure[f"pass@{k}"]
                row[f"secure-pass@{k}_ci95"] = secure[f"pass@{k}_ci95"]
        out.append(row)
    return out


def read_run(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Path | None]:
    """samples.jsonl and exec.jsonl rows of an eval run folder, and the data file its config names (or None:
    HumanEval from the package)."""
    import json

    from codeward.eval.jsonl import DataError, read_rows
    from codeward.eval.runfolder import CONFIG, EXEC, SAMPLES

    missing = [name for name in (SAMPLES, EXEC) if not (folder / name).is_file()]
    if missing:
        raise DataError(f"--from-run {folder}: no {' or '.join(missing)}; give the folder of an `eval passk` "
                        "run whose samples were executed")
    data = None
    if (folder / CONFIG).is_file():
        data_field = json.loads((folder / CONFIG).read_text(encoding="utf-8")).get("data")
        data = Path(data_field) if data_field else None
    return read_rows(folder / SAMPLES), read_rows(folder / EXEC), data
