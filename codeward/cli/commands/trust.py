"""`codeward trust`: let a project's config file set every key, by folder and file hash (like direnv's `allow`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `trust` subcommand."""
    p = subparsers.add_parser(
        "trust", help="trust a project's config file to set every key (engine, model, sandbox, ...)",
        description="A project's codeward.toml or [tool.codeward] may set only the keys marked `project` unless "
                    "you trust its folder: review the file, then run `codeward trust PATH`. The trust holds for "
                    "the file's exact content (SHA-256): after any change, trust it again. Stored in "
                    "$XDG_STATE_HOME/codeward/trust.json.")
    p.add_argument("path", nargs="?", default=".", metavar="PATH",
                   help="the project folder, any folder inside it, or its config file (default: the current "
                   "folder)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--list", action="store_true", help="list the trusted folders and whether each file changed")
    how.add_argument("--revoke", action="store_true", help="stop trusting PATH's project file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Trust, list or revoke; errors name the path and the fix (exit code 2)."""
    from codeward import trust
    from codeward.flags import die

    try:
        if args.list:
            return _list(trust.load_store())
        if args.revoke:
            return _revoke(Path(args.path))
        return _trust(Path(args.path))
    except trust.TrustError as exc:
        die(f"trust: {exc}")


def _trust(path: Path) -> int:
    from codeward import trust
    from codeward.config import ConfigError, find_project_file, split_project
    from codeward.flags import die

    if path.is_file():  # the config file itself: its folder
        path = path.parent
    if not path.is_dir():
        die(f"trust: {path} is not a folder; give the project's folder (the one holding codeward.toml)")
    try:
        found = find_project_file(path)
    except ConfigError as exc:
        die(f"trust: {exc}")
    if found is None:
        die(f"trust: no codeward.toml or pyproject.toml with [tool.codeward] from {path.resolve()} up to the "
            "repository root or your home: nothing to trust")
    if found.refused is not None or found.table is None:
        die(f"trust: {found.path} cannot be trusted: {found.refused}; move the project to a folder that you own "
            "and no other user can write to")
    entry = trust.add(found.path, found.data)
    print(f"trusted {found.path} (sha256 {entry['sha256'][:16]}...)")
    keys = [f"{s}.{k}" for s, table in split_project(found.table)[2].items() for k in table]
    if keys:
        print(f"its keys that only a trusted folder may set now apply: {', '.join(keys)}")
    return 0


def _revoke(path: Path) -> int:
    from codeward import trust
    from codeward.config import ConfigError, find_project_file

    folders = [path.resolve()]
    try:
        found = find_project_file(path)
    except ConfigError as exc:  # an unparsable file can still be revoked by its folder
        logging.getLogger(__name__).debug("revoke: %s", exc)
        found = None
    if found is not None:
        folders.append(found.path.parent)
    for folder in folders:
        if trust.revoke(folder):
            print(f"no longer trusted: {folder}")
            return 0
    print(f"codeward: {path.resolve()} is not trusted; `codeward trust --list` shows the trusted folders")
    return 1


def _list(folders: dict[str, dict[str, str]]) -> int:
    from codeward import trust

    if not folders:
        print(f"no trusted folders ({trust.store_path()})")
    for folder, entry in sorted(folders.items()):
        try:
            state = "ok" if trust.entry_state(Path(entry["file"]), Path(entry["file"]).read_bytes()) == "trusted" \
                else "changed since trusted: not applied until trusted again"
        except OSError as exc:
            state = f"cannot read the file ({exc.strerror or exc})"
        print(f"{folder}: {entry['file']} [{state}] trusted {entry.get('trusted_at', '?')}")
    return 0
