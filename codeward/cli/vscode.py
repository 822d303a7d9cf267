"""The VS Code extension's settings (`vscode-client/package.json`, `contributes.configuration`), generated from the
server's settings so they cannot drift: the extension's own `codeward.client.*`, the user-tier settings of the
sections the language server applies as camelCase `codeward.<section>.<key>`, and one object setting
`codeward.advanced` holding the advanced ones under their TOML names (`"section.key": value`).

A `project = False` key (see `codeward.config`) is contributed with `"scope": "machine"`: VS Code then reads it from
the user's own settings only, never from a workspace's. Inside `codeward.advanced` the same `"scope"` marks such
keys on their schema, and the extension drops their workspace values itself. Every machine-scoped key is also
restricted: the manifest declares `capabilities.untrustedWorkspaces` as `limited` with those keys as its
`restrictedConfigurations`, so VS Code gives the extension no workspace value of them in an untrusted workspace
(sub-keys of `codeward.advanced` cannot be listed there; the extension drops them in every workspace). In an
untrusted workspace the extension also runs the server with no interpreter or program the workspace chose.

`python -m codeward.cli.vscode` rewrites the block; `--check` only says whether it is current.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "vscode-client" / "package.json"
SERVER_SECTIONS = ("engine", "completion", "context", "safety")  # what `codeward serve` applies ("eval": the CLI's)
ADVANCED = "codeward.advanced"
MAX_UI_SETTINGS = 17  # the settings UI's budget: user tier + the extension's own + codeward.advanced (issue 34)
MACHINE_NOTE = ". Read from your user settings only, never a workspace's."
EXAMPLE = {"engine.n_ctx": 8192, "completion.debounce_ms": 100}  # in codeward.advanced's description
UNTRUSTED_NOTE = ("In Restricted Mode codeward runs the server found through your user settings or PATH, never the "
                  "workspace's Python interpreter or a program inside the workspace, and ignores the workspace's "
                  "values of settings that choose where your code goes or what runs.")

CLIENT = {
    "codeward.client.serverPath": {
        "type": "string", "default": "", "scope": "machine",
        "description": "Path of the codeward executable (user settings only: it chooses the program that runs). Empty: `codeward` on PATH, else the workspace's selected "
                       "Python interpreter with `-m codeward`."},
    "codeward.client.useDaemon": {
        "type": "boolean", "default": True,
        "description": "Share one per-user codeward server (one loaded model) among all windows "
                       "(`codeward serve --daemon`); off: a server per window over stdio."},
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _schema(tp: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = _schema(next(a for a in args if a is not type(None)))
        return {**inner, "type": [inner["type"], "null"]}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if origin is list:
        return {"type": "array", "items": {"type": "string"}}
    return {"type": "string"}


def field_default(f: dataclasses.Field) -> Any:
    """A settings field's default value (its factory called for lists)."""
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def _entry(f: dataclasses.Field, tp: Any, description: str) -> dict[str, Any]:
    """One setting's JSON schema: type, default, description, enum and minimum; machine scope where a project may
    not set it."""
    entry = {**_schema(tp), "default": field_default(f), "markdownDescription": description}
    if "choices" in f.metadata:
        entry["enum"] = list(f.metadata["choices"])
    if "min" in f.metadata:
        entry["minimum"] = f.metadata["min"]
    if "max" in f.metadata:
        entry["maximum"] = f.metadata["max"]
    if f.metadata.get("project") is False:
        entry["scope"] = "machine"
        entry["markdownDescription"] += MACHINE_NOTE
    return entry


def _advanced(keys: dict[str, Any]) -> dict[str, Any]:
    example = json.dumps(EXAMPLE)
    return {
        "type": "object", "default": {}, "properties": keys, "additionalProperties": False,
        "markdownDescription": "Advanced codeward settings (tuning), as `\"section.key\": value` with the names of "
                               f"codeward.toml, e.g. `{example}`; the configuration docs describe each. Only the "
                               "keys you set are sent; unknown keys are reported and ignored. Keys that choose where "
                               "data goes or what runs are read from your user settings only."}


def properties() -> dict[str, Any]:
    """`contributes.configuration.properties`: the extension's own settings, the user-tier server settings, then
    `codeward.advanced` with the advanced ones."""
    from codeward.config import SECTIONS

    out: dict[str, Any] = dict(CLIENT)
    advanced: dict[str, Any] = {}
    for section in SERVER_SECTIONS:
        cls = SECTIONS[section]
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            help_text = f.metadata.get("help", "")
            if f.metadata.get("tier") == "user":
                out[f"codeward.{section}.{camel(f.name)}"] = _entry(
                    f, hints[f.name], f"{help_text} (`{section}.{f.name}` in codeward.toml)")
            else:
                advanced[f"{section}.{f.name}"] = _entry(f, hints[f.name], help_text)
    out[ADVANCED] = _advanced(advanced)
    return out


def untrusted_workspaces(props: dict[str, Any]) -> dict[str, Any]:
    """`capabilities.untrustedWorkspaces`: limited, every machine-scoped key restricted."""
    return {
        "supported": "limited",
        "description": UNTRUSTED_NOTE,
        "restrictedConfigurations": sorted(k for k, v in props.items() if v.get("scope") == "machine"),
    }


def render(text: str) -> str:
    manifest = json.loads(text)
    props = properties()
    manifest["contributes"]["configuration"]["properties"] = props
    capabilities = {**manifest.get("capabilities", {}), "untrustedWorkspaces": untrusted_workspaces(props)}
    out: dict[str, Any] = {}
    for key, value in manifest.items():  # a new `capabilities` goes just before `contributes`
        if key == "contributes":
            out["capabilities"] = capabilities
        out[key] = capabilities if key == "capabilities" else value
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    old = PACKAGE.read_text(encoding="utf-8")
    new = render(old)
    if "--check" in sys.argv:
        if new != old:
            print(f"{PACKAGE} is out of date: run `python -m codeward.cli.vscode`", file=sys.stderr)
            return 1
        return 0
    PACKAGE.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
