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


def model_file(source: str, quant: str | None, cache: Path, progress: bool = True) -> str:
    """`source` itself when `quant` is None, else its `quant` conversion (made on first use: a few seconds for the
    0.5B model, written to a temporary file and renamed, so a crash leaves nothing half-written)."""
    if quant is None or not os.path.isfile(source):
        return source
    target = converted_path(source, quant, cache)
    if target.is_file():
        return str(target)
    try:
        import llama_cpp
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
    partial = target.with_name(f"{target.name}.part-{os.getpid()}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    try:
        rc = llama_cpp.llama_model_quantize(source.encode(), str(partial).encode(), ctypes.byref(params))
        if rc != 0 or not partial.is_file():
            raise EngineError(f"llama.cpp could not convert {source} to {quant} (code {rc}); set engine.quant = "
                              "shipped to run the file as it is")
        os.replace(partial, target)
    except OSError as exc:
        raise EngineError(f"writing the {quant} conversion of {source} to {target} failed: {exc}; free disk "
                          "space or set engine.model_dir elsewhere, or engine.quant = shipped") from exc
    finally:
        partial.unlink(missing_ok=True)
    return str(target)


def llama_model_path(model: str, model_dir: str, quant: str, progress: bool | None = None) -> str:
    """The GGUF file the llamacpp engine loads for `model`: the installed (or given) file, or its conversion."""
    from codeward.model.registry import cache_dir, resolve_model_path

    source = resolve_model_path(model, model_dir, progress)
    try:
        return model_file(source, wanted_quant(quant, model), cache_dir(model_dir))
    except EngineError as exc:
        if quant != "auto":
            raise
        # the default's conversion is a speed-up, not a requirement: run the file as installed
        print(f"codeward: {exc}; running {Path(source).name} as installed", file=sys.stderr, flush=True)
        return source
