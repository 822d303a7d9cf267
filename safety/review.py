"""Reviewing files, directories, stdin and diffs: reading inputs safely and checking them one by one."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import tokenize
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from codeward.safety.api import CheckError, check_text
from codeward.safety.diff import FileDiff, Hunk
from codeward.safety.findings import Finding
from codeward.safety.formats.report import FileReport
from codeward.safety.scan import split_lines
from codeward.safety.settings import SafetySettings

log = logging.getLogger(__name__)

SKIP_DIRS = {"__pycache__", "node_modules", "site-packages"}
STDIN = "<stdin>"


def decode_source(data: bytes, max_bytes: int) -> tuple[str | None, str | None]:
    """(text, None) for a checkable Python source, else (None, the reason it is not)."""
    if len(data) > max_bytes:
        return None, (f"file is {len(data)} bytes, over the limit of {max_bytes} (safety.max_file_bytes); "
                      "raise the limit to check it")
    if b"\0" in data:
        return None, "binary file (it contains NUL bytes); only Python source can be checked"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        return None, (f"cannot decode the file: it is not valid utf-8 and declares no usable encoding ({exc}); "
                      "save it as UTF-8 or add a coding declaration")
    try:
        return data.decode(encoding), None
    except (UnicodeDecodeError, LookupError) as exc:
        return None, f"cannot decode the file as {encoding} ({exc}); save it as UTF-8"


def checked(path: str, text: str, settings: SafetySettings, keep: Callable[[Finding], bool] | None = None
            ) -> FileReport:
    """The report for `text` (its findings that `keep` accepts); a crashed checker is the file's error."""
    try:
        found = check_text(text, settings)
    except CheckError as exc:
        return FileReport(path, f"{exc}; the file was not fully checked (findings shown are partial)",
                          [f for f in exc.findings if keep is None or keep(f)])
    return FileReport(path, None, [f for f in found if keep is None or keep(f)])


def python_files(root: Path) -> Iterator[Path]:
    """The .py/.pyi files under `root`, sorted, skipping hidden and cache directories."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            if name.endswith((".py", ".pyi")):
                yield Path(folder) / name


def review_bytes(path: str, data: bytes, settings: SafetySettings) -> FileReport:
    """Check one input's bytes; a bad input becomes the report's error, never an exception."""
    text, error = decode_source(data, settings.max_file_bytes)
    if text is None:
        return FileReport(path, error)
    return checked(path, text, settings)


def review_file(path: Path, settings: SafetySettings) -> FileReport:
    """Check one file on disk."""
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            return FileReport(str(path), f"file is {size} bytes, over the limit of {settings.max_file_bytes} "
                                         "(safety.max_file_bytes); raise the limit to check it")
        data = path.read_bytes()
    except OSError as exc:
        return FileReport(str(path), f"cannot read the file: {exc.strerror or exc}")
    return review_bytes(str(path), data, settings)


def review_paths(paths: Iterable[str], settings: SafetySettings, stdin: io.BufferedIOBase | None = None
                 ) -> list[FileReport]:
    """Reports for files, directories (their Python files) and `-` (stdin), in the order given."""
    reports = []
    for name in paths:
        if name == "-":
            data = stdin.read() if stdin is not None else b""
            reports.append(review_bytes(STDIN, data, settings))
            continue
        path = Path(name)
        if path.is_dir():
            reports.extend(review_file(p, settings) for p in python_files(path))
        elif path.exists():
            reports.append(review_file(path, settings))
        else:
            reports.append(FileReport(name, "no such file or directory; check the path"))
    return reports


def _matches(hunk: Hunk, lines: list[str]) -> bool:
    """True when the file on disk holds the hunk's new side at the hunk's position."""
    got = lines[hunk.start - 1: hunk.start - 1 + len(hunk.lines)]
    return got == hunk.lines


def review_file_diff(fd: FileDiff, settings: SafetySettings, root: Path) -> FileReport:
    """Check the lines a diff adds to one file: in the new file when it is on disk, else in each hunk alone."""
    path = root / fd.path
    added = fd.added
    if not added:
        return FileReport(fd.path)
    if path.is_file():
        try:
            text, error = decode_source(path.read_bytes(), settings.max_file_bytes)
        except OSError as exc:
            return FileReport(fd.path, f"cannot read the file: {exc.strerror or exc}")
        if text is None:
            return FileReport(fd.path, error)
        lines = split_lines(text)
        if all(_matches(h, lines) for h in fd.hunks):
            return checked(fd.path, text, settings, lambda f: f.line in added)
        log.info("%s on disk differs from the diff's new side; checking the hunks alone", fd.path)
    alone = dataclasses.replace(settings, pyflakes=False)  # a hunk alone lacks imports and definitions
    findings, errors = [], []
    for hunk in fd.hunks:
        if not hunk.added:
            continue
        report = checked(fd.path, "\n".join(hunk.lines), alone)
        if report.error is not None:
            errors.append(f"hunk at line {hunk.start}: {report.error}")
        findings += [f.shifted(hunk.start - 1) for f in report.findings if f.shifted(hunk.start - 1).line in hunk.added]
    return FileReport(fd.path, "; ".join(errors) or None, findings)


def review_diff(files: list[FileDiff], settings: SafetySettings, root: Path) -> list[FileReport]:
    """Reports for the Python files a parsed diff changes (only their added lines)."""
    return [review_file_diff(fd, settings, root) for fd in files if fd.path.endswith((".py", ".pyi"))]
