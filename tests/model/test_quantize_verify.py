"""engine.quant's conversion is synced before its rename and checked on every use: a truncated one is never
trusted (`auto` runs the installed file and the next load makes the conversion again)."""

from __future__ import annotations

import os
from pathlib import Path

import llama_cpp
import pytest

from codeward.model.base import EngineError
from codeward.model.llamacpp import quantize

HEADER = b"GGUF" + (3).to_bytes(4, "little") + (5).to_bytes(8, "little") + (2).to_bytes(8, "little")


@pytest.fixture()
def fake(tmp_path, monkeypatch):
    """A GGUF-looking source, a model cache, and a fake llama.cpp conversion that copies (or cuts) the source."""
    source = tmp_path / "model.gguf"
    source.write_bytes(HEADER + b"w" * 4000)
    state = {"calls": 0, "keep": None, "events": []}

    def convert(src: bytes, dst: bytes, params) -> int:
        state["calls"] += 1
        data = Path(src.decode()).read_bytes()
        Path(dst.decode()).write_bytes(data[:state["keep"]] if state["keep"] is not None else data)
        return 0

    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(llama_cpp, "llama_model_quantize", convert)
    monkeypatch.setattr(quantize.os, "fsync", lambda fd: (state["events"].append(("fsync", os.readlink(
        f"/proc/self/fd/{fd}"))), real_fsync(fd))[1])
    monkeypatch.setattr(quantize.os, "replace", lambda a, b: (state["events"].append(("replace", str(a))),
                                                              real_replace(a, b))[1])
    monkeypatch.setattr("codeward.model.registry.resolve_model_path", lambda model, model_dir="", progress=None:
                        str(source))
    monkeypatch.setattr("codeward.model.registry.cache_dir", lambda model_dir="": tmp_path / "cache")
    monkeypatch.setattr(quantize, "wanted_quant", lambda quant, model: "q8_0")
    return source, tmp_path / "cache", state


def test_the_conversion_is_synced_to_disk_before_its_rename(fake):
    source, cache, state = fake
    target = quantize.model_file(str(source), "q8_0", cache, progress=False)
    partial = next(path for kind, path in state["events"] if kind == "replace" and ".gguf.part-" in path
                   and not path.endswith(".verified"))
    synced = [i for i, (kind, path) in enumerate(state["events"]) if kind == "fsync" and path == partial]
    renamed = state["events"].index(("replace", partial))
    assert synced and synced[0] < renamed
    assert quantize.damage(Path(target), str(source)) is None


def test_auto_runs_the_installed_file_when_the_kept_conversion_is_truncated_and_remakes_it_next_time(fake, capsys):
    source, cache, state = fake
    target = Path(quantize.llama_model_path("m", "", "auto"))
    assert target.parent == cache and state["calls"] == 1
    with open(target, "r+b") as f:  # what a crash without fsync, or a full disk, leaves
        f.truncate(1000)
    assert quantize.llama_model_path("m", "", "auto") == str(source)
    err = capsys.readouterr().err
    assert "damaged" in err and "running model.gguf as installed" in err and not target.exists()
    assert quantize.llama_model_path("m", "", "auto") == str(target) and state["calls"] == 2
    assert quantize.damage(target, str(source)) is None


def test_a_conversion_without_its_record_is_not_trusted_and_a_named_quant_is_made_again_at_once(fake):
    source, _cache, state = fake
    target = Path(quantize.llama_model_path("m", "", "q8_0"))
    quantize.record_path(target).unlink()  # made before records existed, or the record was lost
    assert "no record" in (quantize.damage(target, str(source)) or "")
    assert quantize.llama_model_path("m", "", "q8_0") == str(target) and state["calls"] == 2


def test_a_conversion_that_comes_out_cut_short_is_never_kept(fake, capsys):
    source, cache, state = fake
    state["keep"] = 10  # not even a whole GGUF header
    assert quantize.llama_model_path("m", "", "auto") == str(source)
    assert "not a whole GGUF file" in capsys.readouterr().err
    assert not [p for p in cache.iterdir()]
    with pytest.raises(EngineError, match="engine.quant = shipped"):
        quantize.llama_model_path("m", "", "q8_0")
