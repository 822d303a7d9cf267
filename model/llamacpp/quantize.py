"""Local requantisation for the llamacpp engine (`engine.quant`): the shipped GGUF converted once, on this machine,
to a quantisation whose CPU kernels are faster here, and kept in the model cache.

Measured on the 2-core AVX2 machines (`.venv/bin/python bench/quant_speed.py`): Qwen2.5-Coder-0.5B's shipped
Q4_K_M evaluates prompts at ~123-134 tokens/s and decodes ~39-43 tokens/s; converted to Q8_0, ~154-193 and ~35-38
(what `auto`, the default, runs it as: no measurable HumanEval change); to Q4_0 (llama.cpp repacks Q4_0 for AVX2),
~222 and ~59, opt-in: it costs HumanEval pass@1 (42.1% -> 36.0%). docs/benchmarks.md#local-conversion has the figures.
Nothing is downloaded: the conversion reads the installed file.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sys
from pathlib import Path

from codeward.model.base import EngineError

QUANTS = {"q4_0": 2, "q8_0": 7}  # llama.cpp's LLAMA_FTYPE_MOSTLY_* numbers
CHOICES = ("auto", "shipped", *QUANTS)


def wanted_quant(quant: str, model: str) -> str | None:
    """The quantisation to run `model` in, or None for the file as it is (`shipped`; `auto`: the registry's
    measured choice for a model it knows, the file as it is for any other)."""
    if quant == "shipped":
        return None
    if quant == "auto":
        from codeward.model.registry import MODELS, canonical_name

        name = canonical_name(model)
        return (MODELS[name].quant or None) if name is not None else None
    if quant in QUANTS:
        return quant
    raise EngineError(f"engine.quant = {quant!r} for {model!r} is not one of {', '.join(CHOICES)}")


def converted_path(source: str, quant: str, cache: Path) -> Path:
    """Where the `quant` conversion of `source` is kept: named by the source file's name, size and mtime, so that a
    replaced source is converted again."""
    stat = os.stat(source)
    tag = hashlib.sha256(f"{os.path.abspath(source)}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return cache / f"{Path(source).stem}.{tag}.{quant}.gguf"


def _gguf_tensors(path: str | Path) -> int | None:
    """The tensor count in a GGUF file's header (version 2 or later); None for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:4] != b"GGUF" or int.from_bytes(head[4:8], "little") < 2:
        return None
    return int.from_bytes(head[8:16], "little")


def record_path(target: Path) -> Path:
    """The record a finished conversion leaves beside `target` (its size and tensor count), written before it."""
    return target.with_name(f"{target.name}.verified")


def damage(target: Path, source: str) -> str | None:
    """Why the conversion at `target` cannot be trusted (a crash or full disk truncated it, or it predates the
    record), None when its size and GGUF header are those its record says were written."""
    try:
        record = json.loads(record_path(target).read_text())
        size, tensors = int(record["size"]), int(record["tensors"])
    except (OSError, ValueError, KeyError, TypeError):
        return "it has no record of a finished conversion"
    actual = target.stat().st_size
    if actual != size:
        return f"it has {actual} bytes, not the {size} written"
    if _gguf_tensors(target) != tensors or _gguf_tensors(source) not in (None, tensors):
        return "its GGUF header is not the one written"
    return None


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _convert(source: str, quant: str, target: Path) -> None:
    """Write the `quant` conversion of `source` to `target`: a temporary file, checked (a GGUF with the source's
    tensors), synced to disk, its record written, then renamed (a crash leaves nothing that passes `damage`)."""
    import llama_cpp

    partial = target.with_name(f"{target.name}.part-{os.getpid()}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    try:
        rc = llama_cpp.llama_model_quantize(source.encode(), str(partial).encode(), ctypes.byref(params))
        tensors = _gguf_tensors(partial) if rc == 0 else None
        if tensors is None or _gguf_tensors(source) not in (None, tensors):
            raise EngineError(f"llama.cpp could not convert {source} to {quant} (code {rc}"
                              f"{'' if rc else ', the result is not a whole GGUF file'}); set engine.quant = "
                              "shipped to run the file as it is")
        _fsync(partial)
        record, staged = record_path(target), record_path(partial)
        staged.write_text(json.dumps({"size": partial.stat().st_size, "tensors": tensors}))
        _fsync(staged)
        os.replace(staged, record)
        os.replace(partial, target)
        _fsync(target.parent, directory=True)
    except OSError as exc:
        raise EngineError(f"writing the {quant} conversion of {source} to {target} failed: {exc}; free disk "
                          "space or set engine.model_dir elsewhere, or engine.quant = shipped") from exc
    finally:
        partial.unlink(missing_ok=True)
        record_path(partial).unlink(missing_ok=True)


def model_file(source: str, quant: str | None, cache: Path, progress: bool = True, remake: bool = True) -> str:
    """`source` itself when `quant` is None, else its `quant` conversion (made on first use: a few seconds for the
    0.5B model). A kept conversion that fails its check is removed and made again, or with `remake` False an
    EngineError (the next call makes it)."""
    if quant is None or not os.path.isfile(source):
        return source
    target = converted_path(source, quant, cache)
    if target.is_file():
        why = damage(target, source)
        if why is None:
            return str(target)
        target.unlink(missing_ok=True)
        record_path(target).unlink(missing_ok=True)
        if not remake:
            raise EngineError(f"the {quant} conversion {target} is damaged ({why}); removed, it is made again on "
                              "the next load")
    try:
        import llama_cpp  # noqa: F401 - only to say what is missing
    except ImportError as exc:
        raise EngineError("engine.quant needs llama-cpp-python; run `make install`, or set engine.quant = "
                          "shipped") from exc
    from codeward.model.llamacpp.load import quiet_llama_log

    quiet_llama_log()  # llama.cpp reports each tensor otherwise
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(f"cannot create {cache} for the {quant} conversion of {source}: {exc}; set "
                          "engine.model_dir to a writable folder, or engine.quant = shipped") from exc
    if progress:
        print(f"codeward: converting {Path(source).name} to {quant} once (engine.quant), into {target}",
              file=sys.stderr, flush=True)
    _convert(source, quant, target)
    return str(target)


def llama_model_path(model: str, model_dir: str, quant: str, progress: bool | None = None) -> str:
    """The GGUF file the llamacpp engine loads for `model`: the installed (or given) file, or its conversion."""
    from codeward.model.registry import cache_dir, resolve_model_path

    source = resolve_model_path(model, model_dir, progress)
    try:
        return model_file(source, wanted_quant(quant, model), cache_dir(model_dir), remake=quant != "auto")
    except EngineError as exc:
        if quant != "auto":
            raise
        # the default's conversion is a speed-up, not a requirement: run the file as installed (a damaged one was
        # removed: the next load makes it again)
        print(f"codeward: {exc}; running {Path(source).name} as installed", file=sys.stderr, flush=True)
        return source
