"""The VS Code extension's settings (`vscode-client/package.json`, `contributes.configuration`), generated from the
server's settings so they cannot drift: every setting of the sections the language server applies, as camelCase
`codeward.<section>.<key>`, plus the extension's own `codeward.client.*`.

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

CLIENT = {
    "codeward.client.serverPath": {
        "type": "string", "default": "",
        "description": "Path of the codeward executable. Empty: `codeward` on PATH, else the workspace's selected "
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


def properties() -> dict[str, Any]:
    """`contributes.configuration.properties`: the extension's own settings, then every server setting."""
    from codeward.config import SECTIONS

    out: dict[str, Any] = dict(CLIENT)
    for section in SERVER_SECTIONS:
        cls = SECTIONS[section]
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            entry = {**_schema(hints[f.name]), "default": default,
                     "markdownDescription": f"{f.metadata.get('help', '')} (`{section}.{f.name}` in codeward.toml)"}
            if "choices" in f.metadata:
                entry["enum"] = list(f.metadata["choices"])
            if "min" in f.metadata:
                entry["minimum"] = f.metadata["min"]
            out[f"codeward.{section}.{camel(f.name)}"] = entry
    return out


def render(text: str) -> str:
    manifest = json.loads(text)
    manifest["contributes"]["configuration"]["properties"] = properties()
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


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
