"""The VS Code extension's settings are generated from the server's: current, the user tier as camelCase settings,
the advanced tier inside `codeward.advanced`, every server setting exactly once."""

from __future__ import annotations

import dataclasses
import json

from codeward.cli import vscode
from codeward.config import SECTIONS


def _props() -> dict:
    return json.loads(vscode.PACKAGE.read_text(encoding="utf-8"))["contributes"]["configuration"]["properties"]


def test_the_extensions_settings_block_is_current():
    text = vscode.PACKAGE.read_text(encoding="utf-8")
    assert vscode.render(text) == text, "vscode-client/package.json is out of date: run `python -m codeward.cli.vscode`"


def test_every_server_setting_is_a_camel_case_setting_or_an_advanced_key_with_its_default():
    props = _props()
    advanced = props[vscode.ADVANCED]["properties"]
    for section in vscode.SERVER_SECTIONS:
        for f in dataclasses.fields(SECTIONS[section]):
            key = f"codeward.{section}.{vscode.camel(f.name)}"
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if f.metadata["tier"] == "user":
                assert key in props and f"{section}.{f.name}" not in advanced, key
                assert props[key]["default"] == default, key
            else:
                assert key not in props and f"{section}.{f.name}" in advanced, key
                assert advanced[f"{section}.{f.name}"]["default"] == default, key
    assert vscode.camel("max_new_tokens") == "maxNewTokens"
    assert not [k for k in props if k.startswith("codeward.eval.")]  # the eval's settings are not the server's
    assert not [k for k in advanced if k.startswith("eval.")]


def test_the_advanced_object_names_toml_keys_and_refuses_others():
    entry = _props()[vscode.ADVANCED]
    assert entry["type"] == "object" and entry["default"] == {} and entry["additionalProperties"] is False
    assert set(vscode.EXAMPLE) <= set(entry["properties"])  # its description's example is valid
    assert '"section.key": value' in entry["markdownDescription"]
    assert entry["properties"]["engine.n_ctx"] == {"type": "integer", "default": 4096, "minimum": 256,
                                                   "markdownDescription": "Context window (tokens) for llamacpp"}


def test_every_machine_scoped_key_is_restricted_in_untrusted_workspaces():
    manifest = json.loads(vscode.PACKAGE.read_text(encoding="utf-8"))
    props = manifest["contributes"]["configuration"]["properties"]
    machine = sorted(k for k, v in props.items() if v.get("scope") == "machine")
    assert {"codeward.client.serverPath", "codeward.engine.model", "codeward.engine.baseUrl"} <= set(machine)
    untrusted = manifest["capabilities"]["untrustedWorkspaces"]
    assert untrusted["supported"] == "limited" and untrusted["description"]
    assert untrusted["restrictedConfigurations"] == machine
