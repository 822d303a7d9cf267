"""engine.quant: the installed GGUF converted once into the model cache, reused, and run by the llamacpp engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from codeward.model.base import EngineError, SamplingParams
from codeward.model.llamacpp.engine import LlamaCppEngine
from codeward.model.llamacpp.quantize import model_file, wanted_quant
from codeward.model.registry import resolve_model_path
from codeward.model.settings import EngineSettings

SMOL = "smollm2-135m"


def test_shipped_runs_the_file_as_it_is_and_a_quant_converts_any_file() -> None:
    assert wanted_quant("shipped", "qwen2.5-coder-0.5b") is None
    assert wanted_quant("q8_0", "/models/other.gguf") == "q8_0"
    with pytest.raises(EngineError, match="engine.quant = 'q3'"):
        wanted_quant("q3", SMOL)


def test_auto_the_default_is_the_registrys_choice_for_a_known_model_and_the_file_as_it_is_otherwise() -> None:
    assert EngineSettings().quant == "auto"
    assert wanted_quant("auto", "qwen2.5-coder-0.5b") == "q8_0"
    assert wanted_quant("auto", "embedded") == "q8_0"  # the default model's alias
    assert wanted_quant("auto", SMOL) is None and wanted_quant("auto", "qwen2.5-coder-1.5b") is None
    assert wanted_quant("auto", "/models/other.gguf") is None


def test_conversion_is_made_once_reused_and_redone_for_a_replaced_source(tmp_path) -> None:
    source = tmp_path / "model.gguf"
    shutil.copyfile(resolve_model_path(SMOL), source)
    cache = tmp_path / "cache"
    first = model_file(str(source), "q8_0", cache)
    assert first.endswith(".q8_0.gguf") and os.path.dirname(first) == str(cache)
    stamp = os.stat(first).st_mtime_ns
    assert model_file(str(source), "q8_0", cache) == first and os.stat(first).st_mtime_ns == stamp
    assert not [p for p in cache.iterdir() if ".part-" in p.name]  # no partial file left behind
    os.utime(source, ns=(stamp + 10**9, stamp + 10**9))  # the source was replaced
    second = model_file(str(source), "q8_0", cache)
    assert second != first and os.path.isfile(second)
    assert model_file(str(source), None, cache) == str(source)


def test_an_unwritable_cache_names_the_way_out(tmp_path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(EngineError, match="engine.quant = shipped"):
        model_file(resolve_model_path(SMOL), "q8_0", blocker)


def test_auto_runs_the_file_as_installed_when_its_conversion_cannot_be_made(tmp_path, capsys, monkeypatch) -> None:
    from codeward.model.llamacpp import quantize

    monkeypatch.setattr(quantize, "wanted_quant", lambda quant, model: "q8_0")  # as for the default model
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setattr("codeward.model.registry.cache_dir", lambda model_dir="": blocker)
    source = resolve_model_path(SMOL)
    assert quantize.llama_model_path(SMOL, "", "auto") == source
    assert "running" in capsys.readouterr().err
    with pytest.raises(EngineError, match="engine.quant = shipped"):
        quantize.llama_model_path(SMOL, "", "q8_0")  # asked for by name: an error, not a silent fallback


def test_the_engine_runs_the_conversion_and_its_greedy_text_is_close(tmp_path) -> None:
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=12, stop=("\n\n",))
    prompt = "def add(a, b):\n    return"
    texts = {}
    for quant in ("shipped", "q8_0"):
        engine = LlamaCppEngine(EngineSettings(model=SMOL, quant=quant, model_dir=str(tmp_path), n_ctx=512))
        try:
            path = engine.info.extra["path"]
            assert path.endswith(".q8_0.gguf") == (quant == "q8_0")
            texts[quant] = engine.generate([prompt], params)[0][0].text
        finally:
            engine.close()
    assert texts["q8_0"].strip()
    # Q8_0 holds the Q4_1 weights almost exactly: the greedy text starts the same way
    assert texts["q8_0"][:4] == texts["shipped"][:4]


def test_conversion_writes_nothing_on_stdout(tmp_path) -> None:
    """The stdio language server speaks LSP on stdout: llama.cpp's conversion report must not land there."""
    code = ("import sys; from codeward.model.llamacpp.quantize import model_file; from codeward.model.registry import "
            f"resolve_model_path; print(model_file(resolve_model_path({SMOL!r}), 'q4_0', "
            f"__import__('pathlib').Path({json.dumps(str(tmp_path))})), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "converting" in done.stderr and ".q4_0.gguf" in done.stderr
