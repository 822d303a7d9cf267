"""The layering of DESIGN.md, read from every module's imports (ast): imports run one way, bottom to top.

`model`, `safety` -> `codeward.completion` -> `lsp_server`, `eval` -> `codeward.cli`. Every import counts,
also those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FACES = ("codeward.lsp_server", "codeward.eval")
FACE_COMMANDS = ("codeward.lsp_server.cli", "codeward.eval.cli", "codeward.eval.cmd_")
CLI_HELPERS = ("codeward.cli.common",)
REGISTRY = "codeward.cli"


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, through pyproject's package-dir mapping."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    out: dict[str, Path] = {}
    for package in tool["packages"]:
        folder = ROOT / tool["package-dir"].get(package, package.replace(".", "/"))
        for file in sorted(folder.glob("*.py")):
            name = package if file.stem == "__init__" else f"{package}.{file.stem}"
            out[name] = file
    return out


def _imports(name: str, file: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in `file`, relative ones resolved."""
    package = name if file.stem == "__init__" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            yield base, node.lineno
            for alias in node.names:  # `from codeward import cli` imports codeward.cli
                yield f"{base}.{alias.name}", node.lineno


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p if p.endswith("_") else p + ".") for p in prefixes)


def violation(importer: str, imported: str, known: set[str]) -> str | None:
    """Why `importer` may not import `imported` (None when the edge is allowed)."""
    if not imported.startswith("codeward") and not imported.startswith(("pygls", "lsprotocol")):
        return None
    if imported.startswith("codeward") and imported not in known and imported.rpartition(".")[0] in known:
        imported = imported.rpartition(".")[0]  # `from codeward.x import name`: the edge is to codeward.x
    if importer.endswith(".settings") or importer == "codeward.config":
        leaf = importer != "codeward.config"
        if imported.startswith("codeward") and imported != "codeward" and not imported.endswith(".settings") \
                and (leaf or imported != "codeward.config"):
            return "a settings leaf imports only other settings modules" if leaf else \
                "codeward.config reaches the settings leaves and nothing else"
        return None
    if importer == "codeward":
        return "codeward/__init__.py imports nothing of the project" if imported.startswith("codeward.") else None
    if _under(importer, "codeward.model", "codeward.safety") and \
            _under(imported, "codeward.completion", *FACES, REGISTRY, "codeward.config", "pygls", "lsprotocol"):
        return "model and safety never import the pipeline, the faces, the CLI or the config"
    if _under(importer, "codeward.completion") and \
            _under(imported, *FACES, REGISTRY, "codeward.config", "pygls", "lsprotocol"):
        return "the pipeline never imports pygls, the faces, the CLI or the whole config"
    for face, other in (FACES, FACES[::-1]):
        if _under(importer, face) and _under(imported, other):
            return "lsp_server and eval never import each other (shared code belongs in the pipeline)"
    if _under(importer, *FACES) and _under(imported, REGISTRY) and not _under(imported, *CLI_HELPERS):
        return "the faces may import codeward.cli's helpers only"
    if _under(importer, *CLI_HELPERS) and _under(imported, *FACES):
        return "codeward.cli's helpers import no face"
    if _under(importer, REGISTRY) and importer != REGISTRY and _under(imported, *FACE_COMMANDS):
        return "only the CLI registry imports the faces' command modules"
    return None


def test_no_forbidden_import_edges() -> None:
    modules = _modules()
    known = set(modules)
    found = []
    for name, file in modules.items():
        for imported, line in _imports(name, file):
            why = violation(name, imported, known)
            if why:
                found.append(f"{file.relative_to(ROOT)}:{line}: {name} imports {imported}: {why}")
    assert not found, "\n".join(found)


def test_the_checker_catches_each_kind_of_edge() -> None:
    known = set(_modules())
    bad = [("codeward.model.base", "codeward.completion.pipeline"),
           ("codeward.safety.api", "codeward.cli.common"),
           ("codeward.completion.pipeline", "pygls.server"),
           ("codeward.completion.pipeline", "codeward.config"),
           ("codeward.lsp_server.server", "codeward.eval.stats"),
           ("codeward.eval.cmd_passk", "codeward.lsp_server.items"),
           ("codeward.eval.cmd_passk", "codeward.cli.commands.complete"),
           ("codeward.cli.common", "codeward.eval.datasets"),
           ("codeward.cli.demo", "codeward.eval.cmd_passk"),
           ("codeward.model.settings", "codeward.model.base"),
           ("codeward.config", "codeward.completion.pipeline")]
    for importer, imported in bad:
        assert violation(importer, imported, known), (importer, imported)
    good = [("codeward.completion.pipeline", "codeward.model.base"),
            ("codeward.lsp_server.cli", "codeward.cli.common"),
            ("codeward.cli", "codeward.eval.cli"),
            ("codeward.cli.commands.doctor", "codeward.eval.sandbox"),
            ("codeward.config", "codeward.eval.settings"),
            ("codeward.completion.settings", "codeward.model.settings")]
    for importer, imported in good:
        assert violation(importer, imported, known) is None, (importer, imported)
