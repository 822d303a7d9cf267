"""False alarms on real, well-kept code nobody here wrote: the safety checks over a pinned list of standard-library
modules, findings per 1,000 lines by rule, with the first few findings of each rule to check by hand.

Run: .venv/bin/python bench/safety_false_alarms.py [--min-severity medium] [--examples 5] [--only-taint]
"""

from __future__ import annotations

import argparse
import sysconfig
from collections import Counter, defaultdict
from pathlib import Path

from codeward.safety.api import check_text
from codeward.safety.findings import rank
from codeward.safety.settings import SafetySettings

# pinned: packages (every module below them, tests left out) and single modules of the standard library
CORPUS = ("http", "email", "urllib", "json", "logging", "xml", "wsgiref", "sqlite3", "tarfile.py", "zipfile",
          "zipfile.py", "shutil.py", "subprocess.py")


def corpus_files(root: Path) -> list[Path]:
    """The corpus' .py files under the standard library at `root` (test folders left out)."""
    files: list[Path] = []
    for name in CORPUS:
        p = root / name
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.py") if "test" not in f.relative_to(root).parts)
        elif p.is_file():
            files.append(p)
    return files


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--min-severity", default="medium", choices=("low", "medium", "high"))
    p.add_argument("--examples", type=int, default=5, help="findings shown per rule")
    p.add_argument("--only-taint", action="store_true", help="only the taint-flow rules (CW2xx)")
    args = p.parse_args()
    root = Path(sysconfig.get_paths()["stdlib"])
    settings = SafetySettings()
    lines, counts, shown = 0, Counter(), defaultdict(list)
    for path in corpus_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines += text.count("\n")
        for f in check_text(text, settings):
            if rank(f.severity) < rank(args.min_severity) or (args.only_taint and f.source != "taint"):
                continue
            counts[f.rule_id] += 1
            shown[f.rule_id].append(f"{path.relative_to(root)}:{f.line}: {f.message[:90]}")
    total = sum(counts.values())
    print(f"{lines:,} lines in {len(corpus_files(root))} files; findings at {args.min_severity} or higher: {total} "
          f"({total * 1000 / max(lines, 1):.3f} per 1,000 lines)")
    print("| rule | findings | per 1,000 lines |\n|---|---|---|")
    for rule, n in counts.most_common():
        print(f"| {rule} | {n} | {n * 1000 / lines:.3f} |")
    for rule, n in counts.most_common():
        print(f"\n{rule}:")
        for line in shown[rule][: args.examples]:
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
