"""The `codeward eval` command group: one module per sub-command, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# Every module here exists; one that fails to import is a packaging error and stops the CLI with its traceback.
EVAL_COMMAND_MODULES = (
    "codeward.eval.commands.passk",
    "codeward.eval.commands.exec",
    "codeward.eval.commands.infilling",
    "codeward.eval.commands.misalignment",
    "codeward.eval.commands.security",
    "codeward.eval.commands.rank",
    "codeward.eval.commands.report",
)


def register(subparsers: Any) -> None:
    """Add the `eval` group and every available eval sub-command."""
    parser = subparsers.add_parser(
        "eval",
        help="offline evaluation: execute samples, pass@k, reports",
        description="Offline evaluation: execute samples in a sandbox, pass@k, "
        "reports. Each sub-command writes a run folder (--out).",
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND")
    for name in EVAL_COMMAND_MODULES:
        importlib.import_module(name).register(sub)

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=show_help)
