"""The `codeward` command line: one subcommand per module, each registering itself."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from codeward import __version__

# Each module defines `register(subparsers)`, adding a parser whose `func(args) -> int` runs the command. Every
# module listed exists: one that fails to import is a packaging error and stops the CLI loudly.
COMMAND_MODULES = (
    "codeward.cli.commands.complete",
    "codeward.cli.commands.doctor",
    "codeward.cli.commands.models",
    "codeward.cli.commands.review",
    "codeward.cli.commands.trust",
    "codeward.lsp_server.cli",
    "codeward.eval.cli",
)

QUIET_LIBRARIES = ("stevedore", "bandit", "pygls", "httpx", "httpcore", "urllib3", "filelock", "transformers",
                   "torch", "asyncio", "matplotlib", "PIL", "libcst")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="codeward", description="codeward: code completions checked for insecure and buggy patterns, a "
        "security review of code, and an offline eval suite. `codeward COMMAND --help` for each command.")
    parser.add_argument("--version", action="version", version=f"codeward {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="codeward: %(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in QUIET_LIBRARIES:  # -v is for codeward's own messages, not its libraries' internals
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("codeward: interrupted", file=sys.stderr)
        return 130
