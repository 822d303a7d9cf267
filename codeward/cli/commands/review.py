"""`codeward review`: check files, directories, stdin or the lines a diff adds for insecure and buggy code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeward.safety.formats.report import FileReport
    from codeward.safety.settings import SafetySettings

FORMATS = ("text", "json", "sarif")
LEVELS = ("low", "medium", "high")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `review` subcommand."""
    p = subparsers.add_parser(
        "review", help="check Python code for insecure and buggy patterns (bandit + codeward rules + pyflakes)",
        description="Check files, directories (their Python files), stdin (-) or the lines a unified diff adds. "
                    "Exit code: 2 if an input could not be checked (unreadable, binary, oversized, or a checker "
                    "failed on it: its error is reported with the findings the other checkers made), else 1 if a "
                    "finding is at or above --fail-on, else 0.")
    p.add_argument("paths", nargs="*", metavar="PATH", help="file, directory, or - for stdin")
    p.add_argument("--diff", metavar="FILE", help="review only the lines this unified diff adds (- for stdin), "
                   "in the context of the new file when it is on disk, else of the hunk alone")
    p.add_argument("--root", default=".", help="directory the diff's paths are relative to (default: .)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--fail-on", choices=LEVELS, default="low", dest="fail_on",
                   help="exit 1 when a finding has this severity or higher (default: low, i.e. any finding)")
    p.add_argument("--min-severity", choices=LEVELS, dest="min_severity",
                   help="report only findings at or above this severity (overrides safety.min_severity)")
    p.add_argument("--min-confidence", choices=LEVELS, dest="min_confidence",
                   help="report only findings at or above this confidence (overrides safety.min_confidence)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    p.set_defaults(func=run)


def _reports(args: argparse.Namespace, settings: SafetySettings) -> list[FileReport]:
    from codeward.flags import die
    from codeward.safety.diff import DiffError, parse_diff
    from codeward.safety.review import review_diff, review_paths

    if args.diff is None:
        if not args.paths:
            die("review: give files or directories to check, - for stdin, or --diff FILE")
        return review_paths(args.paths, settings, sys.stdin.buffer)
    if args.paths:
        die("review: --diff reviews the files the diff names; do not also give paths")
    try:
        data = sys.stdin.buffer.read() if args.diff == "-" else Path(args.diff).read_bytes()
    except OSError as exc:
        die(f"review: cannot read the diff {args.diff}: {exc.strerror or exc}")
    try:
        files = parse_diff(data.decode("utf-8", errors="replace"))
    except DiffError as exc:
        die(f"review: {args.diff}: {exc}")
    return review_diff(files, settings, Path(args.root))


def run(args: argparse.Namespace) -> int:
    """Run the review; the exit code follows DESIGN.md's contract."""
    from codeward.flags import die, settings_from_args
    from codeward.safety.formats.report import exit_code, render_json, render_text
    from codeward.safety.formats.sarif import render_sarif
    from codeward.trust import ConfigSources

    extra = {k: getattr(args, k) for k in ("min_severity", "min_confidence") if getattr(args, k) is not None}
    sources = ConfigSources()
    settings = settings_from_args(args, {"safety": extra} if extra else None, sources).safety
    reports = _reports(args, settings)
    weakened = sources.weakened  # never silent: the checks the project's config file weakened
    if args.format == "text":
        out = render_text(reports, weakened, str(sources.project_file) if sources.project_file else None)
    else:
        out = {"json": render_json, "sarif": render_sarif}[args.format](reports, weakened)
    if args.output:
        try:
            Path(args.output).write_text(out, encoding="utf-8")
        except OSError as exc:
            die(f"review: cannot write {args.output}: {exc.strerror or exc}")
    else:
        sys.stdout.write(out)
    return exit_code(reports, args.fail_on)
