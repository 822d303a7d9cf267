"""`codeward eval report DIR`: re-render report.md and the plots of a run folder from its results.json."""

from __future__ import annotations

import argparse
from typing import Any

COMMAND = "report"


def register(subparsers: Any) -> None:
    """Add `eval report` to the `eval` command group."""
    p = subparsers.add_parser(COMMAND, help="re-render report.md and the plots of a run folder",
                              description=__doc__)
    p.add_argument("run", metavar="DIR", help="a run folder written by an eval command")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read DIR/results.json, write DIR/report.md and DIR/*.png; print what was written."""
    import json
    from pathlib import Path

    from codeward.eval.commands.common import render_folder
    from codeward.eval.runfolder import REPORT, RESULTS, RunFolder
    from codeward.flags import die

    folder = RunFolder(Path(args.run))
    path = folder.file(RESULTS)
    if not path.is_file():
        die(f"{path} does not exist: {args.run} is not a finished run folder (an interrupted run writes "
            "results.json at its end; finish it with --resume first)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        die(f"{path} is not valid JSON ({exc}); the run folder is damaged")
    if not isinstance(results, dict) or "metrics" not in results:
        die(f"{path} is not a results.json of codeward (no 'metrics')")
    plots = render_folder(folder, results, f"codeward {results.get('command') or 'eval'}")
    print(f"wrote {folder.file(REPORT)}" + "".join(f", {folder.file(p)}" for p in plots))
    return 0
