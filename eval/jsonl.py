"""Append-only JSONL: one row per write(2), flushed to the kernel per row, and a reader that repairs a
torn last line so a run killed mid-write resumes without duplicate or corrupt rows."""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

log = logging.getLogger(__name__)


class DataError(ValueError):
    """An input file is malformed; the message names the file, the line and what is wrong."""


class JsonlAppender:
    """Appends JSON rows to a file; each row reaches the kernel before `write` returns (survives SIGKILL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, row: dict[str, Any]) -> None:
        """Append one row as a single line."""
        data = (json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        """fsync and close (durability against power loss; SIGKILL safety does not need it)."""
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_tail(path: str | Path) -> int:
    """Cut a torn last line (no trailing newline) off `path`; return how many bytes were dropped."""
    p = Path(path)
    if not p.exists():
        return 0
    with open(p, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return 0
        pos = size
        while pos > 0:
            step = min(65536, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = pos - step + nl + 1
                break
            pos -= step
        else:
            keep = 0
        if keep < size:
            fh.truncate(keep)
            log.warning("%s: dropped a torn last line (%d bytes) left by an interrupted run", p, size - keep)
        return size - keep


def read_rows(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """All rows of a JSONL file we wrote; with `repair`, a torn last line is cut off first."""
    p = Path(path)
    if not p.exists():
        return []
    if repair:
        repair_tail(p)
    return [row for _, row in iter_jsonl(p)]


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of a JSONL or JSONL.gz file."""
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"{p}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno}); "
                        "every line must be one JSON object"
                    ) from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise DataError(f"{p}: no such file; check the path") from None
        raise DataError(
            f"{p}: cannot read ({exc}); expected UTF-8 JSONL, optionally gzip-compressed"
        ) from None
