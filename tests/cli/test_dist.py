"""`make dist`: the wheel holds every module of every package folder (mapped as pyproject.toml's package-dir
says), the console script and the package data; the sdist holds what a rebuild needs."""

from __future__ import annotations

import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from codeward.cli.dist import ROOT, build


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    sdist, wheel = build(tmp_path_factory.mktemp("dist"))
    return {"sdist": sdist, "wheel": wheel}


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _source_dir(package: str, mapping: dict[str, str]) -> Path:
    """The folder a package is built from (its own entry in package-dir, else its parent's plus its name)."""
    parts = package.split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        if head in mapping:
            return ROOT / mapping[head] / Path(*parts[n:])
    return ROOT / Path(*parts)


def test_every_module_of_every_package_folder_is_in_the_wheel(artifacts):
    config = _config()
    names = set(zipfile.ZipFile(artifacts["wheel"]).namelist())
    packages = set(config["packages"])
    for package in packages:
        folder = _source_dir(package, config["package-dir"])
        modules = sorted(folder.glob("*.py"))
        assert modules, f"{package}: no modules in {folder}"
        for module in modules:
            assert f"{package.replace('.', '/')}/{module.name}" in names, f"{module} is not in the wheel"
        for sub in folder.iterdir():  # a package folder nobody listed would be left out of the wheel silently
            if (sub / "__init__.py").exists():
                assert f"{package}.{sub.name}" in packages, f"{sub} is a package missing from pyproject.toml"


def test_the_wheel_has_the_console_script_and_the_package_data(artifacts):
    wheel = zipfile.ZipFile(artifacts["wheel"])
    info = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    assert "codeward = codeward.cli:main" in wheel.read(info).decode()
    names = set(wheel.namelist())
    assert "codeward/py.typed" in names and "codeward/examples/inventory.py" in names
    assert not [n for n in names if n.startswith("tests/") or "/__pycache__/" in n]


def test_the_sdist_holds_the_sources_and_the_build_configuration(artifacts):
    with tarfile.open(artifacts["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "lsp_server/daemon.py", "safety/taint/flows.py", "model/base.py"} <= names
