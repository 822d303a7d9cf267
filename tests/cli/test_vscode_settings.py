"""The VS Code extension's settings are generated from the server's: current, and one per server setting."""

from __future__ import annotations

import dataclasses
import json

from codeward.cli import vscode
from codeward.config import SECTIONS


def test_the_extensions_settings_block_is_current():
    text = vscode.PACKAGE.read_text(encoding="utf-8")
    assert vscode.render(text) == text, "vscode-client/package.json is out of date: run `python -m codeward.cli.vscode`"


def test_every_server_setting_has_a_camel_case_vscode_setting_with_its_default():
    props = json.loads(vscode.PACKAGE.read_text(encoding="utf-8"))["contributes"]["configuration"]["properties"]
    for section in vscode.SERVER_SECTIONS:
        for f in dataclasses.fields(SECTIONS[section]):
            key = f"codeward.{section}.{vscode.camel(f.name)}"
            assert key in props, key
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            assert props[key]["default"] == default, key
    assert vscode.camel("max_new_tokens") == "maxNewTokens"
    assert not [k for k in props if k.startswith("codeward.eval.")]  # the eval's settings are not the server's
