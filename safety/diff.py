"""Unified diffs: which lines a change adds to which file (what `codeward review --diff` checks)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    """The new side of one hunk: its first line number and its lines (context and added)."""

    start: int
    lines: list[str] = field(default_factory=list)
    added: list[int] = field(default_factory=list)  # 1-based line numbers in the new file


@dataclass
class FileDiff:
    """The changes to one file, by its new path."""

    path: str
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def added(self) -> set[int]:
        """Every line number (in the new file) that the diff adds."""
        return {n for h in self.hunks for n in h.added}


class DiffError(ValueError):
    """The text is not a unified diff (the message says what was expected)."""


def _new_path(header: str) -> str | None:
    path = header[4:].split("\t")[0].strip()
    if path == "/dev/null":
        return None
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1]
    return path[2:] if path.startswith(("b/", "w/", "i/")) else path


def parse_diff(text: str) -> list[FileDiff]:
    """The files a unified diff (git or diff -u) changes; deleted files are left out."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    remaining = 0
    # "\n" ends a diff line; str.splitlines would also break at a form feed or other characters inside a line
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines):
        if hunk is not None and remaining > 0 and not line.startswith("\\"):
            kind, body = (line[:1], line[1:]) if line else (" ", "")
            if kind == "-":
                continue
            if kind not in "+ ":
                raise DiffError(f"line {i + 1} of the diff: expected ' ', '+' or '-' inside a hunk, got {line!r}")
            number = hunk.start + len(hunk.lines)
            hunk.lines.append(body)
            if kind == "+":
                hunk.added.append(number)
            remaining -= 1
            continue
        if line.startswith("+++ ") and i > 0 and lines[i - 1].startswith("--- "):
            path = _new_path(line)
            current = FileDiff(path) if path is not None else None
            if current is not None:
                files.append(current)
            hunk = None
            continue
        match = _HUNK.match(line)
        if match:
            if current is None and files == [] and not any(x.startswith("+++ /dev/null") for x in lines[:i]):
                raise DiffError(f"line {i + 1} of the diff: a hunk before any '+++ FILE' header; "
                                "give a unified diff (git diff, diff -u)")
            remaining = int(match.group(2)) if match.group(2) is not None else 1
            hunk = Hunk(int(match.group(1)))
            if current is not None:
                current.hunks.append(hunk)
    if not files and text.strip() and not any(x.startswith("+++ ") for x in lines):
        raise DiffError("no '+++ FILE' header found: the input is not a unified diff (use git diff or diff -u)")
    return files
