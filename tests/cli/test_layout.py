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


def test_every_listed_command_module_exists_and_registers():
    """A command module that fails to import must stop the CLI, not vanish from it."""
    import importlib.util

    from codeward import cli
    from codeward.eval import cli as eval_cli

    for name in (*cli.COMMAND_MODULES, *eval_cli.EVAL_COMMAND_MODULES):
        assert importlib.util.find_spec(name) is not None, name
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"complete", "doctor", "review", "serve", "eval"} <= set(commands)
    eval_commands = commands["eval"]._subparsers._group_actions[0].choices
    assert set(eval_commands) == {"passk", "exec", "infilling", "misalignment", "rank", "report", "security"}


def test_a_command_module_that_fails_to_import_is_loud(monkeypatch):
    from codeward import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "codeward.cli.commands.no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="no_such_command"):
        cli.build_parser()
