"""Regenerate the generated tables in README.md and docs/*.md (`python -m codeward.cli.docs`; `--check` only checks).

A block between `<!-- NAME:start -->` and `<!-- NAME:end -->` is replaced by the output of NAME's generator:
`settings-table` (every setting), `settings-table-SECTION` (one section), `rules-table` (every codeward rule id:
libcst rules and the catalogue), `taint-table` (sources, sanitisers and sinks), `demoted-table` (bandit tests
reported at low severity).
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- ([a-z-]+):start -->\n).*?(<!-- \2:end -->)", re.DOTALL)


def generate(name: str) -> str:
    """The Markdown for one generated block; ValueError names an unknown block."""
    from codeward.config import SECTIONS, settings_table

    if name == "settings-table":
        return settings_table()
    if name.startswith("settings-table-") and name[len("settings-table-"):] in SECTIONS:
        return settings_table(name[len("settings-table-"):])
    if name == "taint-table":
        return importlib.import_module("codeward.safety.taint.specs").taint_table()
    if name == "demoted-table":
        return importlib.import_module("codeward.safety.checkers.bandit_adapter").demoted_table()
    if name == "rules-table":
        return importlib.import_module("codeward.safety.catalogue").rules_table()
    raise ValueError(f"unknown generated block {name!r}")


def render(text: str) -> str:
    """`text` with every generated block replaced by its current content."""
    return BLOCK.sub(lambda m: m.group(1) + generate(m.group(2)) + "\n" + m.group(3), text)


def documents() -> list[Path]:
    """The Markdown files that may hold generated blocks."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def main() -> int:
    stale = []
    for path in documents():
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            stale.append(path)
            if "--check" not in sys.argv:
                path.write_text(new, encoding="utf-8")
    if stale and "--check" in sys.argv:
        print("out of date: " + ", ".join(str(p) for p in stale) + "; run `python -m codeward.cli.docs`",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
