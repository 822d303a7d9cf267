"""`make dist`: build the wheel and the sdist into a folder with the PEP 517 hooks of the installed setuptools
(no isolated build environment, so nothing is downloaded), and print their paths.

`python -m codeward.cli.dist [DIR]` (default `dist`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build(out: Path) -> list[Path]:
    """The sdist and the wheel of the project at ROOT, built into `out`."""
    from setuptools import build_meta

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    os.chdir(ROOT)  # the hooks build the project in the current folder
    try:
        names = [build_meta.build_sdist(str(out)), build_meta.build_wheel(str(out))]
    finally:
        os.chdir(here)
    return [out / n for n in names]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for path in build(Path(args[0] if args else "dist")):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
