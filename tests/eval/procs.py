"""The host's process table, read from /proc, for tests that check what a sandbox leaves behind."""

from __future__ import annotations

import os
from pathlib import Path


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) from /proc/*/stat (which, unlike cmdline, never reads empty)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            table[int(entry)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), comm)
    return table


def descendants(root: int) -> dict[int, str]:
    """Every live process below `root`: pid -> command name."""
    table, found, frontier = process_table(), {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, comm) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = comm
                frontier.append(pid)
    return found
