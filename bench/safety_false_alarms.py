"""False alarms on real, well-kept code nobody here wrote: the safety checks over a pinned list of standard-library
modules, findings per 1,000 lines by rule, with the first few findings of each rule to check by hand.

Run: .venv/bin/python bench/safety_false_alarms.py [--min-severity medium] [--examples 5] [--only-taint] [--web]

`--web` adds the web, HTTP and token packages installed in the virtualenv (their versions are printed: the
project's own dependencies, so the same on every install of one lock).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sysconfig
from collections import Counter, defaultdict
from pathlib import Path

from codeward.safety.api import check_text
from codeward.safety.findings import rank
from codeward.safety.settings import SafetySettings

# pinned: packages (every module below them, tests left out) and single modules of the standard library
CORPUS = ("http", "email", "urllib", "json", "logging", "xml", "wsgiref", "sqlite3", "tarfile.py", "zipfile",
          "zipfile.py", "shutil.py", "subprocess.py")


# pinned: packages of the virtualenv (site-packages) with their distribution names
WEB_CORPUS = {"starlette": "starlette", "fastapi": "fastapi", "requests": "requests", "urllib3": "urllib3",
              "httpx": "httpx", "jwt": "PyJWT", "jinja2": "Jinja2"}


def corpus_files(root: Path, names: tuple[str, ...] = CORPUS) -> list[Path]:
    """The corpus' .py files under `root` (the standard library, or site-packages), test folders left out."""
    files: list[Path] = []
    for name in names:
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
    p.add_argument("--web", action="store_true", help="add the web packages of the virtualenv: "
                   + ", ".join(WEB_CORPUS))
    args = p.parse_args()
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [(root, f) for f in corpus_files(root)]
    if args.web:
        site = Path(sysconfig.get_paths()["purelib"])
        present = tuple(n for n in WEB_CORPUS if (site / n).is_dir())
        print("web packages: " + ", ".join(f"{WEB_CORPUS[n]} {importlib.metadata.version(WEB_CORPUS[n])}"
                                           for n in present))
        files += [(site, f) for f in corpus_files(site, present)]
    settings = SafetySettings()
    lines, counts, shown = 0, Counter(), defaultdict(list)
    for base, path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines += text.count("\n")
        for f in check_text(text, settings):
            if rank(f.severity) < rank(args.min_severity) or (args.only_taint and f.source != "taint"):
                continue
            counts[f.rule_id] += 1
            shown[f.rule_id].append(f"{path.relative_to(base)}:{f.line}: {f.message[:90]}")
    total = sum(counts.values())
    print(f"{lines:,} lines in {len(files)} files; findings at {args.min_severity} or higher: {total} "
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
