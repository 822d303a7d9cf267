"""Only `codeward` is importable after install: no top-level model/eval/safety/lsp_server modules."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("name", ["model", "eval", "safety", "lsp_server"])
def test_layer_folders_are_not_top_level(name, tmp_path):
    # Run from an unrelated folder so the checkout itself is not on sys.path.
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def test_layers_import_as_codeward_subpackages(tmp_path):
    code = "import codeward.model.base, codeward.safety.settings, codeward.config; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_package_init_is_light(tmp_path):
    code = "import sys, codeward.cli; codeward.cli.build_parser(); print(sorted(m for m in ('torch', 'llama_cpp', "\
           "'transformers', 'bandit') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_every_source_folder_is_packaged():
    """A folder of modules missing from pyproject's package list would be absent from a wheel install."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {Path(d) for d in tool["package-dir"].values()}
    packaged = {Path(tool["package-dir"].get(p, p.replace(".", "/"))) for p in tool["packages"]}
    for top in dirs:
        for init in (root / top).rglob("*.py"):
            folder = init.parent.relative_to(root)
            if "__pycache__" not in folder.parts:
                assert folder in packaged, f"{folder} holds modules but is not in [tool.setuptools] packages"
