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
