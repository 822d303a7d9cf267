"""The layering of DESIGN.md, read from every module's imports (ast): imports run one way, bottom to top.

`model`, `safety` -> `codeward.sandbox` -> `codeward.diagnostics` -> `codeward.completion` -> `lsp_server`, `eval`
-> `codeward.cli`. Every import counts, also those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FACES = ("codeward.lsp_server", "codeward.eval")
FACE_COMMANDS = ("codeward.lsp_server.cli", "codeward.eval.cli", "codeward.eval.commands")
FLAGS = "codeward.flags"
FORKSERVER = "codeward.sandbox.forkserver"
TESTING = "codeward.testing"  # doubles the tests and the benchmarks share; no module of codeward imports them
REGISTRY = "codeward.cli"
VALUES = "codeward.values"  # settings values' types, for the config loader: imports nothing of the project
TRUST = "codeward.trust"  # the trust store: codeward.config reads it, so it imports no more than config may
# Each core layer and what it may never import: everything above it (the faces, the CLI, the config that
# assembles every layer's settings, the flags built on it, pygls), and the core layers above it.
ABOVE = ("codeward.completion", *FACES, REGISTRY, "codeward.config", FLAGS, "pygls", "lsprotocol")
LAYERS = (
    (("codeward.model", "codeward.safety"), ("codeward.sandbox", "codeward.diagnostics", *ABOVE),
     "model and safety never import the sandbox, the diagnostics, the pipeline, the faces, the CLI or the config"),
    (("codeward.sandbox",), ("codeward.diagnostics", *ABOVE),
     "the sandbox never imports the diagnostics, the pipeline, the faces, the CLI or the config"),
    (("codeward.diagnostics",), ABOVE,
     "the diagnostics never import the pipeline, the faces, the CLI or the config (the pipeline calls them)"),
    (("codeward.completion",), ABOVE[1:],
     "the pipeline never imports pygls, the faces, the CLI, the flags or the whole config"),
)


def package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """Where setuptools finds `package`: the nearest mapped ancestor's folder, then the rest of the dotted name."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        mapped = package_dir.get(".".join(parts[:i]))
        if mapped is not None:
            return ROOT.joinpath(mapped, *parts[i:])
    return ROOT.joinpath(*parts)


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, through pyproject's package-dir mapping."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    out: dict[str, Path] = {}
    for package in tool["packages"]:
        folder = package_folder(package, tool["package-dir"])
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
    if importer == FORKSERVER and imported.startswith("codeward"):
        return "the fork server runs inside the sandbox under `python -I -S`: the standard library only"
    if importer == VALUES and imported.startswith("codeward"):
        return "codeward.values (used by the config loader) imports nothing of the project"
    if importer in (TRUST, "codeward.config"):
        allowed = imported in ("codeward", importer) or imported.endswith(".settings") \
            or (importer == "codeward.config" and imported in (TRUST, VALUES))
        if not imported.startswith("codeward") or allowed:
            return None
        if importer == TRUST:
            return "codeward.trust (read by the config loader) imports only settings leaves"
        return "codeward.config reaches the settings leaves, the trust store and codeward.values, nothing else"
    if importer.endswith(".settings") and imported.startswith("codeward") and imported != "codeward" \
            and not imported.endswith(".settings"):
        return "a settings leaf imports only other settings modules"
    # a leaf's imports of other leaves follow the layers too (the sandbox's leaf never imports eval's)
    if importer == "codeward":
        return "codeward/__init__.py imports nothing of the project" if imported.startswith("codeward.") else None
    if _under(imported, TESTING) and not _under(importer, TESTING):
        return "codeward.testing holds test doubles: only tests/ and bench/ import it"
    for layer, forbidden, why in LAYERS:
        if _under(importer, *layer) and _under(imported, *forbidden):
            return why
    for face, other in (FACES, FACES[::-1]):
        if _under(importer, face) and _under(imported, other):
            return "lsp_server and eval never import each other (shared code belongs in the pipeline)"
    if _under(importer, *FACES) and _under(imported, REGISTRY):
        return "no face imports codeward.cli (the helpers every command shares are in codeward.flags)"
    if _under(importer, FLAGS) and _under(imported, *FACES, REGISTRY):
        return "codeward.flags imports no face and no CLI module"
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
           ("codeward.safety.api", "codeward.flags"),
           ("codeward.completion.pipeline", "pygls.server"),
           ("codeward.completion.pipeline", "codeward.config"),
           ("codeward.lsp_server.server", "codeward.eval.stats"),
           ("codeward.eval.commands.passk", "codeward.lsp_server.items"),
           ("codeward.eval.commands.passk", "codeward.cli.commands.complete"),
           ("codeward.flags", "codeward.eval.datasets"),
           ("codeward.cli.demo", "codeward.eval.commands.passk"),
           ("codeward.model.settings", "codeward.model.base"),
           ("codeward.config", "codeward.completion.pipeline"),
           ("codeward.config", "codeward.flags"),
           ("codeward.trust", "codeward.config"),
           ("codeward.values", "codeward.safety.settings"),
           ("codeward.trust", "codeward.safety.review"),
           ("codeward.safety.settings", "codeward.trust")]
    for importer, imported in bad:
        assert violation(importer, imported, known), (importer, imported)
    good = [("codeward.completion.pipeline", "codeward.model.base"),
            ("codeward.lsp_server.cli", "codeward.flags"),
            ("codeward.cli", "codeward.eval.cli"),
            ("codeward.cli.commands.doctor", "codeward.sandbox.isolation"),
            ("codeward.config", "codeward.eval.settings"),
            ("codeward.config", "codeward.trust"),
            ("codeward.config", "codeward.values"),
            ("codeward.trust", "codeward.safety.settings"),
            ("codeward.cli.commands.trust", "codeward.trust"),
            ("codeward.eval.settings", "codeward.sandbox.settings"),
            ("codeward.completion.settings", "codeward.model.settings")]
    for importer, imported in good:
        assert violation(importer, imported, known) is None, (importer, imported)


def _source_folders() -> dict[Path, int]:
    """Every folder under a mapped package root that holds modules -> how many modules it holds directly."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    counts: dict[Path, int] = {}
    for top in {Path(d) for d in tool["package-dir"].values()}:
        for file in (ROOT / top).rglob("*.py"):
            if "__pycache__" not in file.parts:
                folder = file.parent.relative_to(ROOT)
                counts[folder] = counts.get(folder, 0) + 1
    return counts


def test_every_source_folder_is_packaged() -> None:
    """A folder of modules missing from pyproject's package list would be absent from a wheel install."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packaged = {package_folder(p, tool["package-dir"]).relative_to(ROOT) for p in tool["packages"]}
    missing = sorted(str(folder) for folder in _source_folders() if folder not in packaged)
    assert not missing, f"folders with modules not in [tool.setuptools] packages: {missing}"


def test_no_package_folder_holds_more_than_20_modules() -> None:
    """DESIGN.md: split a package by what its modules own before it holds more than 20 directly."""
    crowded = {str(folder): n for folder, n in _source_folders().items() if n > 20}
    assert not crowded, crowded
